// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vnet-pci: list virtio PCI functions, decode their virtio capabilities
// (with the parser the net_vnet PMD uses), show the bound kernel driver and
// bind/unbind to vfio-pci or uio_pci_generic. Enumeration and config reads
// go through libpci (its sysfs method, rooted at --sysfs); binding through
// tools/pci_sysfs. Listing and decoding never write anything.
extern "C" {  // libpci 3.9 headers have no C++ guard
#include <pci/pci.h>
}

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "pci/caps.h"
#include "pci_sysfs.h"

namespace {

using vnet::pci::ConfigInfo;
namespace pt = vnet::pcitool;

void usage(FILE* f) {
  std::fputs(
      "usage: vnet-pci [--sysfs DIR] [--proc DIR] COMMAND\n"
      "  list [--all]                  virtio functions (--all: every PCI function), driver, interfaces\n"
      "  show BDF                      decode the virtio capabilities of BDF\n"
      "  decode FILE                   decode an lspci -xxx dump (FILE, or - for stdin)\n"
      "  bind BDF DRIVER [--force]     DRIVER: vfio-pci, uio_pci_generic, or kernel (give it back)\n"
      "  unbind BDF [--force]          unbind BDF from its driver\n"
      "bind/unbind refuse a network device with an active route unless --force.\n",
      f);
}

const char* virtio_kind(uint16_t device) {
  // 5: device types; modern ids are 0x1040 + type, transitional 0x1000..0x103f.
  static const char* const modern[] = {"reserved", "net",  "block", "console",  "entropy",      "balloon", "iomem",
                                       "rpmsg",    "scsi", "9p",    "mac80211", "rproc-serial", "caif",    "balloon",
                                       "",         "",     "gpu",   "timer",    "input",        "socket",  "crypto"};
  static const char* const legacy[] = {"net", "block", "balloon", "console", "scsi", "entropy", "9p"};
  if (device >= 0x1040 && device < 0x1040 + sizeof modern / sizeof *modern) return modern[device - 0x1040];
  if (device >= 0x1000 && device < 0x1000 + sizeof legacy / sizeof *legacy) return legacy[device - 0x1000];
  return "other";
}

void print_caps(const ConfigInfo& ci) {
  std::printf("  %04x:%04x (subsystem %04x:%04x) rev %02x class %06x, %s interface%s\n", ci.vendor, ci.device,
              ci.subsys_vendor, ci.subsys_device, ci.revision, ci.class_code, ci.modern() ? "modern" : "no modern",
              vnet::pci::is_transitional(ci.device) ? ", transitional (legacy I/O BAR 0)" : "");
  for (int i = 0; i < 6; ++i) {
    const auto& b = ci.bars[i];
    if (!b.present) continue;
    std::printf("  BAR %d: %s at 0x%llx%s%s\n", i, b.io ? "I/O" : "memory", static_cast<unsigned long long>(b.addr),
                b.is64 ? ", 64-bit" : "", b.prefetchable ? ", prefetchable" : "");
  }
  std::printf("  %-6s %-13s %-4s %-10s %-10s %s\n", "pos", "type", "bar", "offset", "length", "notes");
  for (unsigned i = 0; i < ci.ncaps; ++i) {
    const auto& c = ci.caps[i];
    std::string notes;
    if (c.type == vnet::pci::cap_type::NOTIFY) notes = "multiplier " + std::to_string(c.notify_off_multiplier);
    const int idx = static_cast<int>(i);
    const bool used =
        idx == ci.common || idx == ci.notify || idx == ci.isr || idx == ci.device_cfg || idx == ci.pci_cfg;
    if (!used) notes += notes.empty() ? "not used" : ", not used";
    if (c.id) notes += (notes.empty() ? "id " : ", id ") + std::to_string(c.id);
    std::printf("  0x%02x   %-13s %-4u 0x%08llx 0x%08llx %s\n", c.pos, vnet::pci::cap_type_name(c.type), c.bar,
                static_cast<unsigned long long>(c.offset), static_cast<unsigned long long>(c.length), notes.c_str());
  }
  if (ci.msix) std::printf("  MSI-X: %u vectors\n", ci.msix_table_size);
  if (ci.problems)
    std::printf("  %u malformed capabilities skipped; first at 0x%02x: %s\n", ci.problems, ci.first_problem_pos,
                ci.first_problem);
}

struct Lib {
  pci_access* acc = nullptr;
  explicit Lib(const pt::Roots& r) {
    acc = pci_alloc();
    acc->method = PCI_ACCESS_SYS_BUS_PCI;
    std::string p = r.sys + "/bus/pci";  // libpci's sysfs.path is the bus directory
    pci_set_param(acc, const_cast<char*>("sysfs.path"), p.data());
    pci_init(acc);
    pci_scan_bus(acc);
  }
  ~Lib() { pci_cleanup(acc); }
};

std::string bdf_of(const pci_dev* d) {
  char b[16];
  snprintf(b, sizeof b, "%04x:%02x:%02x.%x", d->domain_16, d->bus, d->dev, d->func);
  return b;
}

// Full config space as root (256 bytes; 64 without privilege).
std::vector<uint8_t> read_cfg(pci_dev* d) {
  std::vector<uint8_t> cfg(256);
  if (!pci_read_block(d, 0, cfg.data(), 256)) {
    cfg.resize(64);
    if (!pci_read_block(d, 0, cfg.data(), 64)) cfg.clear();
  }
  return cfg;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

int cmd_list(const pt::Roots& r, bool all) {
  Lib lib(r);
  int n = 0;
  std::vector<pci_dev*> devs;
  for (pci_dev* d = lib.acc->devices; d; d = d->next) devs.push_back(d);
  std::sort(devs.begin(), devs.end(), [](pci_dev* a, pci_dev* b) { return bdf_of(a) < bdf_of(b); });
  for (pci_dev* d : devs) {
    pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS);
    if (!all && d->vendor_id != vnet::pci::kVirtioVendor) continue;
    if (!all && !((d->device_id >= 0x1000 && d->device_id <= 0x103f) || d->device_id >= 0x1040)) continue;
    const std::string bdf = bdf_of(d);
    std::string drv;
    pt::current_driver(r, bdf, &drv);
    ConfigInfo ci;
    const auto cfg = read_cfg(d);
    const bool parsed = vnet::pci::parse_config(cfg, &ci) == 0;
    const auto ifs = pt::net_interfaces(r, bdf);
    const bool virtio = d->vendor_id == vnet::pci::kVirtioVendor;
    std::printf("%s %04x:%04x %-15s %-12s driver=%-16s net=%s\n", bdf.c_str(), d->vendor_id, d->device_id,
                virtio ? (std::string("virtio-") + virtio_kind(d->device_id)).c_str() : "-",
                !parsed || !virtio ? "-"
                : ci.modern()      ? (vnet::pci::is_transitional(ci.device) ? "transitional" : "modern")
                                   : "legacy-only",
                drv.empty() ? "none" : drv.c_str(), ifs.empty() ? "-" : join(ifs).c_str());
    ++n;
  }
  if (n == 0) std::printf("no virtio PCI functions under %s\n", r.sys.c_str());
  return 0;
}

int cmd_show(const pt::Roots& r, const std::string& bdf) {
  Lib lib(r);
  for (pci_dev* d = lib.acc->devices; d; d = d->next) {
    if (bdf_of(d) != bdf) continue;
    const auto cfg = read_cfg(d);
    ConfigInfo ci;
    if (vnet::pci::parse_config(cfg, &ci) != 0) {
      std::fprintf(stderr, "vnet-pci: %s: config space unreadable\n", bdf.c_str());
      return 1;
    }
    std::string drv;
    pt::current_driver(r, bdf, &drv);
    std::printf("%s driver=%s%s\n", bdf.c_str(), drv.empty() ? "none" : drv.c_str(),
                cfg.size() < 256 ? " (only 64 bytes of config space readable: run as root)" : "");
    print_caps(ci);
    for (const auto& ifn : pt::net_interfaces(r, bdf)) {
      const auto routes = pt::active_routes(r, ifn);
      std::printf("  net %s: %zu active route%s%s%s\n", ifn.c_str(), routes.size(), routes.size() == 1 ? "" : "s",
                  routes.empty() ? "" : ", e.g. ", routes.empty() ? "" : routes.front().c_str());
    }
    return 0;
  }
  std::fprintf(stderr, "vnet-pci: no PCI function %s\n", bdf.c_str());
  return 1;
}

int cmd_decode(const std::string& file) {
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream f(file);
    if (!f) {
      std::fprintf(stderr, "vnet-pci: cannot read %s\n", file.c_str());
      return 1;
    }
    ss << f.rdbuf();
  }
  std::vector<uint8_t> cfg;
  ConfigInfo ci;
  if (vnet::pci::parse_hex_dump(ss.str(), &cfg) != 0 || vnet::pci::parse_config(cfg, &ci) != 0) {
    std::fprintf(stderr, "vnet-pci: %s is not an lspci -x dump of a device\n", file.c_str());
    return 1;
  }
  std::printf("%s (%zu bytes)\n", file.c_str(), cfg.size());
  print_caps(ci);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pt::Roots roots;
  std::vector<std::string> args;
  bool force = false, all = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--sysfs" || a == "--proc") && i + 1 < argc) {
      (a == "--sysfs" ? roots.sys : roots.proc) = argv[++i];
    } else if (a == "--force") {
      force = true;
    } else if (a == "--all") {
      all = true;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) {
    usage(stderr);
    return 2;
  }
  const std::string& cmd = args[0];
  if (cmd == "list" && args.size() == 1) return cmd_list(roots, all);
  if (cmd == "show" && args.size() == 2) return cmd_show(roots, args[1]);
  if (cmd == "decode" && args.size() == 2) return cmd_decode(args[1]);
  if ((cmd == "bind" && args.size() == 3) || (cmd == "unbind" && args.size() == 2)) {
    pt::BindResult res;
    const int rc = cmd == "bind" ? pt::bind_device(roots, args[1], args[2], force, &res)
                                 : pt::unbind_device(roots, args[1], force, &res);
    std::fprintf(rc == 0 ? stdout : stderr, "vnet-pci: %s\n", res.message.c_str());
    for (const auto& b : res.blocking_routes) std::fprintf(rc == 0 ? stdout : stderr, "  route %s\n", b.c_str());
    return rc == 0 ? 0 : rc == -EBUSY ? 3 : 1;
  }
  usage(stderr);
  return 2;
}
