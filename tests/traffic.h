// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Verified traffic for the ethdev-level tests: frames carry a sequence
// number, their length and a checksum over the payload; the receiver checks
// all three and that no sequence number arrives twice. Counts must
// reconcile exactly: sent == received, no bad frames, no duplicates.
#pragma once

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace vnet::test {

struct TrafficResult {
  uint64_t sent = 0, received = 0, bad = 0, dup = 0;
  bool ok(uint64_t want) const { return sent == want && received == want && bad == 0 && dup == 0; }
};

constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental
constexpr uint32_t kHdrLen = 14;
constexpr uint32_t kMeta = 16;  // seq (8) + length (4) + checksum (4)

inline uint32_t fold(uint32_t h, uint8_t b) { return (h ^ b) * 16777619u; }
inline uint8_t fill_byte(uint64_t seq, uint32_t i) { return static_cast<uint8_t>(seq * 131 + i * 7 + (i >> 8)); }

// A frame of `len` bytes (>= 30) as a chain of mbufs from `mp`.
inline rte_mbuf* make_frame(rte_mempool* mp, uint64_t seq, uint32_t len) {
  rte_mbuf* head = rte_pktmbuf_alloc(mp);
  if (!head) return nullptr;
  rte_mbuf* tail = head;
  uint32_t h = 2166136261u, off = 0;
  std::vector<uint8_t> buf(len);
  for (int i = 0; i < 6; ++i) buf[i] = 0xff;  // broadcast: any peer accepts it
  for (int i = 0; i < 6; ++i) buf[6 + i] = static_cast<uint8_t>(0x02 + i);
  buf[12] = kEtherType >> 8;
  buf[13] = kEtherType & 0xff;
  for (uint32_t i = kHdrLen + kMeta; i < len; ++i) {
    buf[i] = fill_byte(seq, i);
    h = fold(h, buf[i]);
  }
  std::memcpy(&buf[kHdrLen], &seq, 8);
  std::memcpy(&buf[kHdrLen + 8], &len, 4);
  std::memcpy(&buf[kHdrLen + 12], &h, 4);
  while (off < len) {
    const uint32_t room = rte_pktmbuf_tailroom(tail);
    const uint32_t n = std::min(room, len - off);
    std::memcpy(rte_pktmbuf_append(head, static_cast<uint16_t>(n)), &buf[off], n);
    off += n;
    if (off < len) {
      rte_mbuf* s = rte_pktmbuf_alloc(mp);
      if (!s || rte_pktmbuf_chain(head, s) != 0) {
        rte_pktmbuf_free(head);
        if (s) rte_pktmbuf_free(s);
        return nullptr;
      }
      tail = s;
    }
  }
  return head;
}

// Check one received frame; returns its sequence number or UINT64_MAX.
inline uint64_t check_frame(const rte_mbuf* m, uint32_t want_len) {
  if (m->pkt_len != want_len || want_len < kHdrLen + kMeta) return UINT64_MAX;
  std::vector<uint8_t> copy(want_len);
  // Returns a pointer into the mbuf when contiguous, else copies into `copy`.
  const auto* buf = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, want_len, copy.data()));
  if (!buf) return UINT64_MAX;
  uint64_t seq;
  uint32_t len, sum, h = 2166136261u;
  std::memcpy(&seq, &buf[kHdrLen], 8);
  std::memcpy(&len, &buf[kHdrLen + 8], 4);
  std::memcpy(&sum, &buf[kHdrLen + 12], 4);
  if (buf[12] != (kEtherType >> 8) || buf[13] != (kEtherType & 0xff) || len != want_len) return UINT64_MAX;
  for (uint32_t i = kHdrLen + kMeta; i < want_len; ++i) {
    if (buf[i] != fill_byte(seq, i)) return UINT64_MAX;
    h = fold(h, buf[i]);
  }
  return h == sum ? seq : UINT64_MAX;
}

// Send `count` frames of `len` bytes on tx_port's queue `queue` and receive
// them on rx_port's queue of the same number, at most `window` in flight so a
// forwarding peer never has to drop.
inline TrafficResult exchange(uint16_t tx_port, uint16_t rx_port, rte_mempool* mp, uint64_t count, uint32_t len,
                              uint32_t window, double timeout_s, uint16_t queue = 0) {
  TrafficResult r;
  std::vector<bool> seen(count, false);
  const uint64_t deadline = rte_get_timer_cycles() + static_cast<uint64_t>(timeout_s * rte_get_timer_hz());
  rte_mbuf* pkts[32];
  while (r.received + r.bad + r.dup < count && rte_get_timer_cycles() < deadline) {
    while (r.sent < count && r.sent - (r.received + r.bad + r.dup) < window) {
      const uint16_t want = static_cast<uint16_t>(std::min<uint64_t>(std::min<uint64_t>(32, count - r.sent), window));
      uint16_t n = 0;
      for (; n < want; ++n) {
        pkts[n] = make_frame(mp, r.sent + n, len);
        if (!pkts[n]) break;
      }
      const uint16_t k = rte_eth_tx_burst(tx_port, queue, pkts, n);
      for (uint16_t i = k; i < n; ++i) rte_pktmbuf_free(pkts[i]);
      r.sent += k;
      if (k < n || n < want) break;
    }
    // A transmitter with asynchronous copies (net_vnet_vhost with dmas=)
    // hands completed frames over when polled; others return -ENOTSUP.
    rte_eth_tx_done_cleanup(tx_port, queue, 0);
    const uint16_t n = rte_eth_rx_burst(rx_port, queue, pkts, 32);
    for (uint16_t i = 0; i < n; ++i) {
      const uint64_t seq = check_frame(pkts[i], len);
      if (seq == UINT64_MAX || seq >= count) {
        if (r.bad++ == 0 && std::getenv("VNET_TRAFFIC_DEBUG")) {
          std::fprintf(stderr, "bad frame: pkt_len %u (want %u) nb_segs %u data_len %u:", pkts[i]->pkt_len, len,
                       pkts[i]->nb_segs, pkts[i]->data_len);
          const auto* b = rte_pktmbuf_mtod(pkts[i], const uint8_t*);
          for (uint32_t j = 0; j < 40 && j < pkts[i]->data_len; ++j) std::fprintf(stderr, " %02x", b[j]);
          std::fprintf(stderr, "\n");
        }
      } else if (seen[seq])
        ++r.dup;
      else {
        seen[seq] = true;
        ++r.received;
      }
      rte_pktmbuf_free(pkts[i]);
    }
  }
  return r;
}

}  // namespace vnet::test
