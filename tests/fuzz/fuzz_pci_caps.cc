// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// libFuzzer target: the virtio PCI capability parser (pci::parse_config,
// pci::parse_hex_dump, pci::notify_offset) against hostile config spaces.
// Input format: pci_fuzz.h. Beyond ASan/UBSan and the timeout (the walk must
// stay bounded), every accepted config is re-decoded independently here:
//  - each listed virtio capability lies inside the walked config space (past
//    the header, dword aligned, at a distinct offset, long enough for its
//    type) and its fields are the bytes at its offset;
//  - common/notify/isr/device_cfg/pci_cfg each name the first capability of
//    their type the driver can use (BAR 0..5, window inside a 32-bit BAR
//    offset, minimum lengths), or -1 when there is none;
//  - with the BAR sizes of the input, the windows ModernPci::map_window
//    accepts, and the notify register setup_queue derives from them, lie
//    inside their BAR.
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "pci/caps.h"
#include "pci_fuzz.h"

namespace {

using namespace vnet;
using namespace vnet::fuzz;
using pci::ConfigInfo;
using pci::VirtioCap;
namespace ct = pci::cap_type;

uint32_t le32(const std::vector<uint8_t>& b, size_t off) {
  return uint32_t{b[off]} | uint32_t{b[off + 1]} << 8 | uint32_t{b[off + 2]} << 16 | uint32_t{b[off + 3]} << 24;
}

// May the driver use this capability for its type (caps.cc's rules, restated)?
bool usable(const VirtioCap& c) {
  if (c.type == ct::PCI_CFG) return true;
  if (c.bar > 5 || c.offset + c.length > uint64_t{UINT32_MAX} + 1) return false;
  switch (c.type) {
    case ct::COMMON:
      return c.length >= pci::common::MIN_LEN;
    case ct::ISR:
      return c.length >= 1;
    case ct::NOTIFY:
      return c.length >= 2;
    default:
      return true;
  }
}

void check_caps(const std::vector<uint8_t>& cfg, const ConfigInfo& ci) {
  const size_t limit = cfg.size() < 256 ? cfg.size() : 256;
  VNET_FUZZ_CHECK(ci.ncaps <= ConfigInfo::kMaxCaps, "%u caps", ci.ncaps);
  VNET_FUZZ_CHECK((ci.problems == 0) == (ci.first_problem == nullptr), "%u problems, first %s", ci.problems,
                  ci.first_problem ? ci.first_problem : "(none)");
  bool seen[256] = {};
  for (unsigned i = 0; i < ci.ncaps; ++i) {
    const VirtioCap& c = ci.caps[i];
    VNET_FUZZ_CHECK(c.pos >= 64 && c.pos % 4 == 0 && !seen[c.pos], "cap %u at 0x%x", i, c.pos);
    seen[c.pos] = true;
    VNET_FUZZ_CHECK(c.len >= 16 && size_t{c.pos} + c.len <= limit, "cap %u at 0x%x, %u bytes, config %zu", i, c.pos,
                    c.len, cfg.size());
    VNET_FUZZ_CHECK(cfg[c.pos] == 0x09 && cfg[c.pos + 2u] == c.len && cfg[c.pos + 3u] == c.type &&
                        cfg[c.pos + 4u] == c.bar && cfg[c.pos + 5u] == c.id,
                    "cap %u at 0x%x: header differs from the bytes", i, c.pos);
    uint64_t off = le32(cfg, c.pos + 8u), len = le32(cfg, c.pos + 12u);
    if (c.type == ct::SHARED_MEMORY) {
      VNET_FUZZ_CHECK(c.len >= 24, "shared memory cap of %u bytes", c.len);
      off |= uint64_t{le32(cfg, c.pos + 16u)} << 32;
      len |= uint64_t{le32(cfg, c.pos + 20u)} << 32;
    }
    VNET_FUZZ_CHECK(c.offset == off && c.length == len, "cap %u at 0x%x: window differs from the bytes", i, c.pos);
    if (c.type == ct::NOTIFY)
      VNET_FUZZ_CHECK(c.len >= 20 && c.notify_off_multiplier == le32(cfg, c.pos + 16u), "notify cap %u", i);
    else
      VNET_FUZZ_CHECK(c.notify_off_multiplier == 0, "cap %u of type %u has a multiplier", i, c.type);
  }
  const struct {
    int got;
    uint8_t type;
  } slots[] = {{ci.common, ct::COMMON},
               {ci.notify, ct::NOTIFY},
               {ci.isr, ct::ISR},
               {ci.device_cfg, ct::DEVICE},
               {ci.pci_cfg, ct::PCI_CFG}};
  for (const auto& s : slots) {
    int want = -1;
    for (unsigned i = 0; i < ci.ncaps && want < 0; ++i)
      if (ci.caps[i].type == s.type && usable(ci.caps[i])) want = static_cast<int>(i);
    VNET_FUZZ_CHECK(s.got == want, "%s: cap %d chosen, the first usable one is %d", pci::cap_type_name(s.type), s.got,
                    want);
  }
  if (ci.msix)
    VNET_FUZZ_CHECK(ci.msix_table_size >= 1 && ci.msix_table_size <= 2048, "MSI-X table of %u", ci.msix_table_size);
}

void check_bars(const std::vector<uint8_t>& cfg, const ConfigInfo& ci) {
  const uint8_t ht = cfg[0x0e] & 0x7f;
  const unsigned nbars = ht == 0 ? 6 : ht == 1 ? 2 : 0;
  for (unsigned i = 0; i < 6; ++i) {
    const pci::Bar& b = ci.bars[i];
    if (i >= nbars) VNET_FUZZ_CHECK(!b.present, "BAR %u of a type %u header", i, ht);
    if (!b.present) VNET_FUZZ_CHECK(!b.io && !b.is64 && b.addr == 0, "absent BAR %u has attributes", i);
    if (b.io) VNET_FUZZ_CHECK(!b.is64 && !b.prefetchable, "I/O BAR %u", i);
    if (b.is64) {
      VNET_FUZZ_CHECK(i + 1 < nbars, "64-bit BAR %u without a high half", i);
      VNET_FUZZ_CHECK(!ci.bars[i + 1].present, "the high half of BAR %u decoded as BAR %u", i, i + 1);
    }
  }
}

// What ModernPci::open_interface / setup_ring do with the windows, given
// the BAR sizes bus_pci mapped: map_window's acceptance rule, then the
// notify register each queue writes.
void check_mapping(const ConfigInfo& ci, const uint64_t bar_len[6], uint16_t noff) {
  if (!ci.modern()) return;
  auto maps = [&](int idx, uint64_t need) {
    const VirtioCap& c = *ci.get(idx);
    VNET_FUZZ_CHECK(c.bar <= 5, "%s window in BAR %u", pci::cap_type_name(c.type), c.bar);  // mem_resource[6]
    const uint64_t len = bar_len[c.bar];
    const bool ok = len != 0 && c.length >= need && c.offset + c.length <= len;  // map_window
    if (ok)
      VNET_FUZZ_CHECK(c.offset < len || c.length == 0, "window start 0x%llx outside BAR of 0x%llx",
                      static_cast<unsigned long long>(c.offset), static_cast<unsigned long long>(len));
    return ok;
  };
  bool ok = maps(ci.common, pci::common::MIN_LEN) && maps(ci.isr, 1) && maps(ci.notify, 2);
  if (ok && ci.device_cfg >= 0) ok = maps(ci.device_cfg, 0);
  if (!ok) return;
  const VirtioCap& nc = *ci.get(ci.notify);
  const uint64_t len = bar_len[nc.bar];
  for (const uint16_t q : {noff, uint16_t{0}, uint16_t{1}, uint16_t{0xffff}}) {
    for (const unsigned width : {2u, 4u}) {
      uint64_t off = ~uint64_t{0};
      if (pci::notify_offset(nc, q, width, &off) != 0) continue;
      VNET_FUZZ_CHECK(off >= nc.offset && off + width <= nc.offset + nc.length && off + width <= len,
                      "queue_notify_off %u x %u: register 0x%llx+%u outside window 0x%llx+0x%llx / BAR 0x%llx", q,
                      nc.notify_off_multiplier, static_cast<unsigned long long>(off), width,
                      static_cast<unsigned long long>(nc.offset), static_cast<unsigned long long>(nc.length),
                      static_cast<unsigned long long>(len));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  const uint8_t mode = in.u8();
  uint64_t bar_len[6];
  for (uint64_t& b : bar_len) b = pci_in::bar_size(in.u8());
  const uint16_t noff = in.u16();
  const uint8_t* body = data + (size - in.left());
  const size_t body_len = in.left();

  std::vector<uint8_t> raw;
  if (mode & pci_in::kText) {
    const std::string_view text(reinterpret_cast<const char*>(body), body_len);
    const int rc = pci::parse_hex_dump(text, &raw);
    VNET_FUZZ_CHECK(rc == 0 || rc == -EINVAL, "parse_hex_dump: %d", rc);
    if (rc != 0) return 0;
    VNET_FUZZ_CHECK(!raw.empty() && raw.size() <= 4096, "hex dump of %zu bytes", raw.size());
  } else {
    raw.assign(body, body + body_len);
  }
  // An exact-size copy: ASan sees any read past the config space.
  const size_t n = pci_in::config_len(mode, raw.size());
  raw.resize(n, 0);
  std::vector<uint8_t> cfg(raw.begin(), raw.end());
  cfg.shrink_to_fit();

  ConfigInfo ci;
  const int rc = pci::parse_config(cfg, &ci);
  if (n < 64 || (cfg[0] | cfg[1] << 8) == 0 || (cfg[0] | cfg[1] << 8) == 0xffff) {
    VNET_FUZZ_CHECK(rc == -EINVAL, "no device, yet parse_config returned %d", rc);
    return 0;
  }
  VNET_FUZZ_CHECK(rc == 0, "parse_config: %d", rc);
  VNET_FUZZ_CHECK(ci.vendor == (cfg[0] | cfg[1] << 8) && ci.device == (cfg[2] | cfg[3] << 8), "ids");
  if (!(cfg[6] & 0x10)) VNET_FUZZ_CHECK(ci.ncaps == 0 && !ci.msix && ci.problems == 0, "caps without a list");
  check_caps(cfg, ci);
  check_bars(cfg, ci);
  check_mapping(ci, bar_len, noff);
  return 0;
}
