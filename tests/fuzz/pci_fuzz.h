// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Input format of fuzz_pci_caps, shared by the harness and fuzz_seeds: a
// 9-byte header (how to present the config space, the BAR sizes the mapping
// check assumes, a queue_notify_off to probe), then the config space itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vnet::fuzz::pci_in {

//   u8  mode     bit 0: the body is lspci text, decoded by parse_hex_dump first;
//                bits 1-2: config length: 0 the body's own, 1 256 B, 2 4 KiB, 3 64 B
//                (a body shorter than that is zero-padded, a longer one cut)
//   u8  bar[6]   BAR i's size as the bus driver would map it: 0 not mapped,
//                else 1 << (v % 40) bytes
//   u16 noff     a queue_notify_off the device could report (little-endian)
//   body
inline constexpr uint8_t kText = 1u << 0;
inline constexpr unsigned kSizeShift = 1;
inline constexpr size_t kHeaderBytes = 9;

inline constexpr size_t config_len(uint8_t mode, size_t body) {
  switch ((mode >> kSizeShift) & 3) {
    case 1:
      return 256;
    case 2:
      return 4096;
    case 3:
      return 64;
    default:
      return body;
  }
}
inline constexpr uint64_t bar_size(uint8_t v) { return v == 0 ? 0 : uint64_t{1} << (v % 40); }

}  // namespace vnet::fuzz::pci_in
