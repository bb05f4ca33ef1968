// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The RARP announcement a backend sends for a frontend's MAC when asked by
// SEND_RARP (after a live migration), so switches relearn where the MAC
// lives. Owns only the frame layout (RFC 903): 60 bytes, broadcast, no DPDK.
#pragma once

#include <cstdint>
#include <cstring>

namespace vnet::vhost {

constexpr uint32_t kRarpFrameLen = 60;  // minimum Ethernet frame without FCS

inline void build_rarp(uint8_t* f, const uint8_t mac[6]) {
  std::memset(f, 0, kRarpFrameLen);
  std::memset(f, 0xff, 6);     // destination: broadcast
  std::memcpy(f + 6, mac, 6);  // source: the MAC being announced
  f[12] = 0x80, f[13] = 0x35;  // EtherType RARP
  uint8_t* a = f + 14;
  a[0] = 0, a[1] = 1;           // hardware type: Ethernet
  a[2] = 0x08, a[3] = 0x00;     // protocol type: IPv4
  a[4] = 6, a[5] = 4;           // address lengths
  a[6] = 0, a[7] = 3;           // operation: reverse request
  std::memcpy(a + 8, mac, 6);   // sender hardware address (sender IP stays 0)
  std::memcpy(a + 18, mac, 6);  // target hardware address (target IP stays 0)
}

}  // namespace vnet::vhost
