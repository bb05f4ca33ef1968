// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Config-space decoding for virtio PCI devices: header, BARs, the capability
// list walk (bounded by a visited set, every capability checked to fit), and
// the lspci hex-dump reader the fixtures and tools/vnet-pci use.
#include "pci/caps.h"

#include <cerrno>
#include <cstring>

namespace vnet::pci {
namespace {

constexpr size_t kHeaderLen = 64;
constexpr uint8_t kCapIdVendor = 0x09;
constexpr uint8_t kCapIdMsix = 0x11;
constexpr uint16_t kStatusCapList = 1u << 4;

uint8_t rd8(std::span<const uint8_t> b, size_t off) { return b[off]; }
uint16_t rd16(std::span<const uint8_t> b, size_t off) { return static_cast<uint16_t>(b[off] | (b[off + 1] << 8)); }
uint32_t rd32(std::span<const uint8_t> b, size_t off) {
  return static_cast<uint32_t>(rd16(b, off)) | (static_cast<uint32_t>(rd16(b, off + 2)) << 16);
}

void problem(ConfigInfo* o, uint8_t pos, const char* why) {
  if (o->problems++ == 0) {
    o->first_problem = why;
    o->first_problem_pos = pos;
  }
}

void parse_bars(std::span<const uint8_t> b, ConfigInfo* o) {
  const uint8_t header_type = rd8(b, 0x0e) & 0x7f;
  const unsigned nbars = header_type == 0 ? 6 : header_type == 1 ? 2 : 0;
  for (unsigned i = 0; i < nbars; ++i) {
    const uint32_t v = rd32(b, 0x10 + 4 * i);
    Bar& bar = o->bars[i];
    if (v == 0) continue;
    bar.present = true;
    if (v & 1) {
      bar.io = true;
      bar.addr = v & ~uint32_t{3};
      continue;
    }
    bar.prefetchable = v & 8;
    bar.addr = v & ~uint32_t{0xf};
    if (((v >> 1) & 3) == 2 && i + 1 < nbars) {  // 64-bit: the next register is the high half
      bar.is64 = true;
      bar.addr |= static_cast<uint64_t>(rd32(b, 0x10 + 4 * (i + 1))) << 32;
      ++i;
    }
  }
}

// One vendor capability at pos (already known to fit its 3-byte header).
// The ConfigInfo field naming the first usable capability of this type, or
// nullptr for types that are listed only (shared memory, vendor, reserved).
int* slot_for(ConfigInfo* o, uint8_t type) {
  switch (type) {
    case cap_type::COMMON:
      return &o->common;
    case cap_type::NOTIFY:
      return &o->notify;
    case cap_type::ISR:
      return &o->isr;
    case cap_type::DEVICE:
      return &o->device_cfg;
    case cap_type::PCI_CFG:
      return &o->pci_cfg;
    default:
      return nullptr;
  }
}

// Why the driver cannot use this structure, or nullptr. 4.1.4.1: BAR values
// 0x6..0xff are reserved and such structures are ignored (the PCI-config
// access structure's bar field is not an address and is exempt).
const char* unusable(const VirtioCap& c) {
  if (c.type == cap_type::PCI_CFG) return nullptr;
  if (c.bar > 5) return "virtio capability names a reserved BAR";
  if (c.offset + c.length > UINT32_MAX + uint64_t{1}) return "virtio capability window wraps the 32-bit BAR offset";
  if (c.type == cap_type::COMMON && c.length < common::MIN_LEN)
    return "common configuration window shorter than virtio 1.0's structure";
  if (c.type == cap_type::ISR && c.length < 1) return "ISR window is empty";
  if (c.type == cap_type::NOTIFY && c.length < 2) return "notify window smaller than one register";
  return nullptr;
}

void parse_vendor_cap(std::span<const uint8_t> b, uint8_t pos, ConfigInfo* o) {
  const uint8_t len = rd8(b, pos + 2u);
  if (len < 16 || size_t{pos} + len > b.size()) {
    problem(o, pos, "virtio capability shorter than 16 bytes or past the end of config space");
    return;
  }
  if (o->ncaps == ConfigInfo::kMaxCaps) {
    problem(o, pos, "more virtio capabilities than the parser keeps");
    return;
  }
  VirtioCap c;
  c.pos = pos;
  c.len = len;
  c.type = rd8(b, pos + 3u);
  c.bar = rd8(b, pos + 4u);
  c.id = rd8(b, pos + 5u);
  c.offset = rd32(b, pos + 8u);
  c.length = rd32(b, pos + 12u);
  if (c.type == cap_type::SHARED_MEMORY) {
    if (len < 24) {
      problem(o, pos, "shared memory capability without its 64-bit offset/length");
      return;
    }
    c.offset |= static_cast<uint64_t>(rd32(b, pos + 16u)) << 32;
    c.length |= static_cast<uint64_t>(rd32(b, pos + 20u)) << 32;
  }
  if (c.type == cap_type::NOTIFY) {
    if (len < 20) {
      problem(o, pos, "notify capability without notify_off_multiplier");
      return;
    }
    c.notify_off_multiplier = rd32(b, pos + 16u);
  }
  o->caps[o->ncaps] = c;
  const int idx = static_cast<int>(o->ncaps++);
  // Which structure this provides, if the driver can use it.
  int* slot = slot_for(o, c.type);
  if (!slot || *slot >= 0) return;  // listed only, or a later duplicate: the first one wins
  if (const char* why = unusable(c)) {
    problem(o, pos, why);
    return;
  }
  *slot = idx;
}

int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

}  // namespace

const char* cap_type_name(uint8_t type) {
  switch (type) {
    case cap_type::COMMON:
      return "common";
    case cap_type::NOTIFY:
      return "notify";
    case cap_type::ISR:
      return "isr";
    case cap_type::DEVICE:
      return "device";
    case cap_type::PCI_CFG:
      return "pci-cfg";
    case cap_type::SHARED_MEMORY:
      return "shared-memory";
    case cap_type::VENDOR:
      return "vendor";
    default:
      return "reserved";
  }
}

int parse_config(std::span<const uint8_t> b, ConfigInfo* o) {
  *o = ConfigInfo{};
  if (b.size() < kHeaderLen) return -EINVAL;
  o->vendor = rd16(b, 0x00);
  o->device = rd16(b, 0x02);
  if (o->vendor == 0xffff || o->vendor == 0) return -EINVAL;
  o->revision = rd8(b, 0x08);
  o->class_code = rd32(b, 0x08) >> 8;
  const uint8_t header_type = rd8(b, 0x0e) & 0x7f;
  if (header_type == 0) {
    o->subsys_vendor = rd16(b, 0x2c);
    o->subsys_device = rd16(b, 0x2e);
  }
  parse_bars(b, o);
  if (!(rd16(b, 0x06) & kStatusCapList)) return 0;

  // The list lives in the first 256 bytes; pointers are dword aligned and
  // point past the header. A loop or a pointer into the header ends the walk.
  const size_t limit = b.size() < 256 ? b.size() : 256;
  bool seen[256] = {};
  uint8_t pos = rd8(b, 0x34) & 0xfc;
  for (unsigned n = 0; pos != 0; ++n) {
    if (pos < kHeaderLen || size_t{pos} + 3 > limit) {
      problem(o, pos, "capability pointer outside config space");
      break;
    }
    if (seen[pos] || n >= 64) {
      problem(o, pos, "capability list loops");
      break;
    }
    seen[pos] = true;
    const uint8_t id = rd8(b, pos);
    if (id == kCapIdVendor) {
      parse_vendor_cap(b.first(limit), pos, o);
    } else if (id == kCapIdMsix && size_t{pos} + 12 <= limit) {
      o->msix = true;
      o->msix_table_size = static_cast<uint16_t>((rd16(b, pos + 2u) & 0x7ff) + 1);
    }
    pos = rd8(b, pos + 1u) & 0xfc;
  }
  return 0;
}

bool is_virtio_net(uint16_t vendor, uint16_t device) {
  return vendor == kVirtioVendor && (device == kVirtioNetModernId || device == kVirtioNetTransitionalId);
}

bool is_transitional(uint16_t device) { return device >= 0x1000 && device <= 0x103f; }

int notify_offset(const VirtioCap& n, uint16_t queue_notify_off, unsigned width, uint64_t* off) {
  const uint64_t rel = uint64_t{queue_notify_off} * n.notify_off_multiplier;
  if (rel + width > n.length) return -ERANGE;
  *off = n.offset + rel;
  return 0;
}

int parse_hex_dump(std::string_view text, std::vector<uint8_t>* out) {
  out->clear();
  bool any = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // A dump line: hex offset, ':', ' ', then hex byte pairs separated by spaces.
    size_t i = 0;
    uint32_t off = 0;
    while (i < line.size() && i < 4 && hexval(line[i]) >= 0) off = off * 16 + static_cast<uint32_t>(hexval(line[i++]));
    if (i == 0 || i + 1 >= line.size() || line[i] != ':' || line[i + 1] != ' ') continue;
    i += 2;
    while (i < line.size()) {
      if (line[i] == ' ' || line[i] == '\r') {
        ++i;
        continue;
      }
      if (i + 1 >= line.size() || hexval(line[i]) < 0 || hexval(line[i + 1]) < 0 ||
          (i + 2 < line.size() && line[i + 2] != ' ' && line[i + 2] != '\r'))
        return -EINVAL;
      if (off >= 4096) return -EINVAL;
      if (out->size() <= off) out->resize(off + 1, 0);
      (*out)[off++] = static_cast<uint8_t>(hexval(line[i]) * 16 + hexval(line[i + 1]));
      any = true;
      i += 2;
    }
  }
  return any ? 0 : -EINVAL;
}

}  // namespace vnet::pci
