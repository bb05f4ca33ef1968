// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The RARP announcement a backend sends for a frontend's MAC when asked by
// SEND_RARP (after a live migration), so switches relearn where the MAC
// lives: the frame layout (RFC 903: 60 bytes, broadcast) and the mailbox
// that carries a request from the control thread to the data path. No DPDK.
#pragma once

#include <atomic>
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

// One pending SEND_RARP request: the MAC and a pending bit in one atomic
// word, so a second request replaces the first whole and the data path
// never reads half of one. The server owns it and posts; the port's Rx
// queue 0 takes (one relaxed load while nothing is pending).
class RarpMailbox {
 public:
  void post(const uint8_t mac[6]) noexcept {
    uint64_t w = kPending;
    for (int i = 0; i < 6; ++i) w |= uint64_t{mac[i]} << (8 * i);
    w_.store(w, std::memory_order_relaxed);
  }
  // A request waits (one relaxed load: the data path's check per burst).
  bool pending() const noexcept { return w_.load(std::memory_order_relaxed) != 0; }
  // True once per request, with the MAC in `mac`.
  bool take(uint8_t mac[6]) noexcept {
    if (!w_.load(std::memory_order_relaxed)) return false;
    const uint64_t w = w_.exchange(0, std::memory_order_relaxed);
    if (!(w & kPending)) return false;
    for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(w >> (8 * i));
    return true;
  }

 private:
  static constexpr uint64_t kPending = uint64_t{1} << 63;
  std::atomic<uint64_t> w_{0};  // kPending | MAC (byte i at bits 8i..8i+7), or 0
};

}  // namespace vnet::vhost
