// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Binding a PCI function to a userspace I/O driver through sysfs, for
// tools/vnet-pci. Every path is taken below a caller-given sysfs root and
// proc root, so tests run on a fake tree. Invariant: nothing is written when
// a check refuses; a network device carrying an active route is never
// unbound without force.
#pragma once

#include <string>
#include <vector>

namespace vnet::pcitool {

struct Roots {
  std::string sys = "/sys";
  std::string proc = "/proc";
};

// "0000:00:03.0" (domain:bus:device.function, lower-case hex).
bool valid_bdf(const std::string& bdf);
// Kernel driver bound to the function ("" when none); -ENOENT when no such device.
int current_driver(const Roots& r, const std::string& bdf, std::string* driver);
// Network interfaces the function provides (its net/ directory, and
// virtioN/net/ for virtio-pci).
std::vector<std::string> net_interfaces(const Roots& r, const std::string& bdf);
// Routes (RTF_UP) through ifname in proc/net/route and proc/net/ipv6_route,
// one human-readable line each ("ipv4 0.0.0.0/0", "ipv6 fd00::/64").
std::vector<std::string> active_routes(const Roots& r, const std::string& ifname);

struct BindResult {
  std::string message;                       // what was done, or why not
  std::vector<std::string> blocking_routes;  // "eth0: ipv4 0.0.0.0/0"
};

// The userspace drivers bind accepts.
bool bindable_driver(const std::string& driver);

// Unbind from the current driver (if any). Refused (-EBUSY) when a network
// interface of the function has an active route and !force.
int unbind_device(const Roots& r, const std::string& bdf, bool force, BindResult* out);
// Bind to driver ("vfio-pci", "uio_pci_generic"), or "kernel" to drop the
// override and let the kernel pick (e.g. virtio-pci again): unbind as above,
// then driver_override + drivers_probe. -ENODEV when the driver is not
// loaded (its directory under bus/pci/drivers is missing).
int bind_device(const Roots& r, const std::string& bdf, const std::string& driver, bool force, BindResult* out);

}  // namespace vnet::pcitool
