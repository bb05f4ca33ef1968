// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// One ethdev queue (Rx or Tx) of the virtio-net port: its virtqueue, burst
// gate, memzones, kick notifier and counters.
// Memory: one rte_zmalloc_socket block on the queue's socket holds the Queue
// and, after it, the virtqueue's shadows (queue_alloc, sized once at queue
// set-up for either layout, freed at queue release); the ring and the Tx
// aux area are memzones. Nothing on the heap; the PMD is primary-process only.
// Errors: set-up returns -errno with a log line; nothing here throws.
#pragma once

#include <rte_mbuf.h>
#include <rte_memzone.h>

#include <bit>
#include <cstdint>
#include <type_traits>

#include "net/transport.h"
#include "ring/burst_gate.h"
#include "ring/driver_queue.h"

namespace vnet::net {

struct QueueStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;  // Rx: malformed from the device (length, num_buffers, offload header); Tx: refused packets
  uint64_t drops = 0;   // Rx: buffers not refilled (no mbufs); Tx: VLAN tag could not be inserted (no mbuf/headroom)
  uint64_t multicast = 0;
  uint64_t broadcast = 0;
  uint64_t kicks = 0;
  // size buckets: <64, 64, 65-127, 128-255, 256-511, 512-1023, 1024-1518, >1518
  uint64_t size_bins[8] = {};
};

inline constexpr uint16_t kTxHdrStride = 32;  // header slot per buffer id (Tx without headroom)
inline constexpr uint16_t kMaxTxSegs = 64;    // mbuf segments per packet we chain
inline constexpr uint16_t kBurst = 64;        // internal batch size

// Rx work beyond the plain copy-out, read once per burst (q.rx_off).
inline constexpr uint8_t kRxOffHdr = 1;    // the device may fill the header (GUEST_CSUM/GUEST_TSO negotiated)
inline constexpr uint8_t kRxOffStrip = 2;  // VLAN strip in software
// Allowed GSO kinds (q.rx_gso, q.tx_gso).
inline constexpr uint8_t kGsoTcp4 = 1;
inline constexpr uint8_t kGsoTcp6 = 2;

struct Queue {
  ring::DriverQueue ring;  // initialised at each start with the negotiated layout
  ring::ShadowMem shadow;  // its shadows: the rest of the Queue's block
  Notifier kick;
  rte_mempool* mp = nullptr;  // Rx only
  const rte_memzone* ring_mz = nullptr;
  const rte_memzone* aux_mz = nullptr;  // indirect tables, then Tx header slots
  uint8_t* hdrs = nullptr;              // Tx header slots (local)
  uint64_t hdrs_addr = 0;               // the same as the device sees it
  uint32_t size = 0;
  uint16_t hdr_size = 0;
  uint16_t port_id = 0;
  uint16_t queue_id = 0;
  uint16_t vq = 0;  // virtqueue index: 2q for Rx, 2q+1 for Tx
  bool is_rx = false;
  uint32_t rx_buf_len = 0;  // Rx: bytes the device may write per buffer
  // Rx mergeable reassembly across bursts.
  rte_mbuf* part_head = nullptr;
  rte_mbuf* part_tail = nullptr;
  uint16_t part_left = 0;
  uint64_t* rx_nombuf = nullptr;  // the port's rx_mbuf_alloc_failed
  // Offloads as negotiated (set at dev_start; rx_off also by vlan_offload_set).
  uint8_t rx_off = 0;
  uint8_t rx_gso = 0;    // GSO kinds the device may hand us (GUEST_TSO4/6)
  bool rx_csum = false;  // NEEDS_CSUM allowed from the device (GUEST_CSUM)
  uint8_t tx_gso = 0;    // HOST_TSO4/6
  bool tx_csum = false;  // CSUM
  QueueStats st;
  // Every burst passes this gate; the control path closes it and waits
  // before it touches the ring (quiesce() in ethdev.cc).
  ring::BurstGate gate;
  ring::ErrCounters<ring::DrvErr> ring_err_base{};  // ring error counts at the last xstats reset
};
static_assert(std::is_nothrow_default_constructible_v<Queue>);

// Where a ring of n entries sits, from `base` (an address the device
// understands), for the transport. used_align: the split used ring's
// alignment (4; 4096 for legacy devices).
inline QueueAddrs ring_addrs(ring::Layout l, uint32_t n, uint64_t base, size_t used_align) {
  const ring::RingParts r = ring::DriverQueue::parts(l, n, used_align);
  return {n, base + r.desc, base + r.driver, base + r.device};
}

inline void count_size(QueueStats& st, uint32_t len) {
  // Bins: <64, 64, 65-127, 128-255, 256-511, 512-1023, 1024-1518, >1518.
  // The power-of-two bounds by bit width (a table), the other two (64 is
  // its own bin; 1518) by one comparison each: no branch per frame.
  static constexpr uint8_t kByWidth[33] = {0, 0, 0, 0, 0, 0, 0, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6,
                                           6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6};
  const unsigned b = kByWidth[std::bit_width(len)] - (len == 64) + (len > 1518);
  ++st.size_bins[b];
}

}  // namespace vnet::net
