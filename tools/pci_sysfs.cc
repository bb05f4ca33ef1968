// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// sysfs binding for tools/vnet-pci: reads the function's driver link and
// net/ directory, the route tables under proc, and writes unbind,
// driver_override and drivers_probe (existing files only, one write each,
// as sysfs attributes want).
#include "pci_sysfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vnet::pcitool {
namespace fs = std::filesystem;

namespace {

std::string dev_dir(const Roots& r, const std::string& bdf) { return r.sys + "/bus/pci/devices/" + bdf; }

int write_attr(const std::string& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);  // never O_CREAT: sysfs files exist
  if (fd < 0) return -errno;
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int err = n < 0 ? -errno : n != static_cast<ssize_t>(value.size()) ? -EIO : 0;
  ::close(fd);
  return err;
}

bool hex_to_u32(const std::string& s, uint32_t* v) {
  if (s.empty() || s.size() > 8) return false;
  char* end = nullptr;
  *v = static_cast<uint32_t>(std::strtoul(s.c_str(), &end, 16));
  return *end == '\0';
}

// /proc/net/route stores addresses as host-order hex of the network-order bytes.
std::string ipv4_prefix(uint32_t dst, uint32_t mask) {
  int len = __builtin_popcount(mask);
  char buf[32];
  snprintf(buf, sizeof buf, "%u.%u.%u.%u/%d", dst & 0xff, (dst >> 8) & 0xff, (dst >> 16) & 0xff, dst >> 24, len);
  return buf;
}

std::string ipv6_prefix(const std::string& hex, const std::string& len_hex) {
  std::string out;
  for (size_t i = 0; i + 4 <= hex.size() && i < 32; i += 4) {
    if (i) out += ':';
    out += hex.substr(i, 4);
  }
  uint32_t len = 0;
  hex_to_u32(len_hex, &len);
  return out + "/" + std::to_string(len);
}

constexpr uint32_t kRtfUp = 0x1;

int check_routes(const Roots& r, const std::string& bdf, bool force, BindResult* out) {
  for (const auto& ifn : net_interfaces(r, bdf))
    for (const auto& rt : active_routes(r, ifn)) out->blocking_routes.push_back(ifn + ": " + rt);
  if (out->blocking_routes.empty() || force) return 0;
  out->message = bdf + " carries active routes (" + out->blocking_routes.front() +
                 (out->blocking_routes.size() > 1 ? ", ..." : "") + "): refusing to unbind it; --force overrides";
  return -EBUSY;
}

}  // namespace

bool valid_bdf(const std::string& s) {
  // dddd:bb:dd.f
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isxdigit(static_cast<unsigned char>(s[i])) || std::isupper(static_cast<unsigned char>(s[i])))
      return false;
  return s[11] >= '0' && s[11] <= '7';
}

int current_driver(const Roots& r, const std::string& bdf, std::string* driver) {
  driver->clear();
  std::error_code ec;
  const std::string d = dev_dir(r, bdf);
  if (!fs::is_directory(d, ec)) return -ENOENT;
  const fs::path link = fs::read_symlink(d + "/driver", ec);
  if (!ec) *driver = link.filename().string();
  return 0;
}

std::vector<std::string> net_interfaces(const Roots& r, const std::string& bdf) {
  std::vector<std::string> out;
  auto list = [&out](const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      out.push_back(it->path().filename().string());
  };
  const fs::path d = dev_dir(r, bdf);
  list(d / "net");
  // virtio-pci puts the interface under the virtio device: <bdf>/virtioN/net/<if>.
  std::error_code ec;
  for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().starts_with("virtio")) list(it->path() / "net");
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> active_routes(const Roots& r, const std::string& ifname) {
  std::vector<std::string> out;
  // Iface Destination Gateway Flags RefCnt Use Metric Mask ... (first line is the header)
  std::ifstream v4(r.proc + "/net/route");
  std::string line;
  for (bool header = true; std::getline(v4, line); header = false) {
    if (header) continue;
    std::istringstream ss(line);
    std::string ifn, dst, gw, flags, refcnt, use, metric, mask;
    if (!(ss >> ifn >> dst >> gw >> flags >> refcnt >> use >> metric >> mask) || ifn != ifname) continue;
    uint32_t d = 0, m = 0, f = 0;
    if (!hex_to_u32(dst, &d) || !hex_to_u32(mask, &m) || !hex_to_u32(flags, &f) || !(f & kRtfUp)) continue;
    out.push_back("ipv4 " + ipv4_prefix(d, m));
  }
  // dst dstlen src srclen nexthop metric refcnt use flags device
  std::ifstream v6(r.proc + "/net/ipv6_route");
  while (std::getline(v6, line)) {
    std::istringstream ss(line);
    std::string dst, dlen, src, slen, nh, metric, refcnt, use, flags, dev;
    if (!(ss >> dst >> dlen >> src >> slen >> nh >> metric >> refcnt >> use >> flags >> dev) || dev != ifname) continue;
    uint32_t f = 0;
    if (!hex_to_u32(flags, &f) || !(f & kRtfUp)) continue;
    out.push_back("ipv6 " + ipv6_prefix(dst, dlen));
  }
  return out;
}

bool bindable_driver(const std::string& d) { return d == "vfio-pci" || d == "uio_pci_generic"; }

namespace {
// The address names an existing function; its current driver in *drv.
int find_device(const Roots& r, const std::string& bdf, std::string* drv, BindResult* out) {
  if (!valid_bdf(bdf)) {
    out->message = "'" + bdf + "' is not a PCI address (dddd:bb:dd.f)";
    return -EINVAL;
  }
  if (current_driver(r, bdf, drv) != 0) {
    out->message = "no PCI device " + bdf;
    return -ENOENT;
  }
  return 0;
}
}  // namespace

int unbind_device(const Roots& r, const std::string& bdf, bool force, BindResult* out) {
  *out = BindResult{};
  std::string drv;
  if (int rc = find_device(r, bdf, &drv, out); rc != 0) return rc;
  if (drv.empty()) {
    out->message = bdf + " is not bound to a driver";
    return 0;
  }
  if (int rc = check_routes(r, bdf, force, out); rc != 0) return rc;
  if (int rc = write_attr(dev_dir(r, bdf) + "/driver/unbind", bdf); rc != 0) {
    out->message = "unbinding " + bdf + " from " + drv + ": " + strerror(-rc);
    return rc;
  }
  out->message = bdf + " unbound from " + drv;
  return 0;
}

int bind_device(const Roots& r, const std::string& bdf, const std::string& driver, bool force, BindResult* out) {
  *out = BindResult{};
  const bool to_kernel = driver == "kernel";
  if (!to_kernel && !bindable_driver(driver)) {
    out->message = "driver '" + driver + "': vfio-pci, uio_pci_generic or kernel";
    return -EINVAL;
  }
  std::string drv;
  if (int rc = find_device(r, bdf, &drv, out); rc != 0) return rc;
  std::error_code ec;
  if (!to_kernel && !fs::is_directory(r.sys + "/bus/pci/drivers/" + driver, ec)) {
    out->message = driver + " is not loaded (modprobe " + driver + ")";
    return -ENODEV;
  }
  if (!to_kernel && drv == driver) {
    out->message = bdf + " is already bound to " + driver;
    return 0;
  }
  if (!drv.empty()) {
    if (int rc = check_routes(r, bdf, force, out); rc != 0) return rc;
    if (int rc = write_attr(dev_dir(r, bdf) + "/driver/unbind", bdf); rc != 0) {
      out->message = "unbinding " + bdf + " from " + drv + ": " + strerror(-rc);
      return rc;
    }
  }
  // driver_override makes drivers_probe pick exactly this driver; "\n" clears it.
  if (int rc = write_attr(dev_dir(r, bdf) + "/driver_override", to_kernel ? std::string("\n") : driver); rc != 0) {
    out->message = "writing driver_override of " + bdf + ": " + strerror(-rc);
    return rc;
  }
  if (int rc = write_attr(r.sys + "/bus/pci/drivers_probe", bdf); rc != 0) {
    out->message = "drivers_probe " + bdf + ": " + strerror(-rc);
    return rc;
  }
  std::string now;
  current_driver(r, bdf, &now);
  out->message = bdf + (drv.empty() ? "" : " unbound from " + drv + ",") + " probed for " +
                 (to_kernel ? std::string("the kernel's choice") : driver) + "; bound to " +
                 (now.empty() ? std::string("nothing") : now);
  if (!to_kernel && now != driver) return -EIO;
  return 0;
}

}  // namespace vnet::pcitool
