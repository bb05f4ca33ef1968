// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// One virtqueue of the backend: what the control thread learnt from the
// frontend (size, addresses, base, fds) and what the data path uses (the
// device-side ring, a private copy of the guest-address table, counters).
// Invariant: the data path touches a Vring only between enter() and leave(),
// and only while `ready`; the control thread changes it only after
// quiesce() (ready cleared and no burst inside), then republishes `ready`.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>

#include "ring/burst_gate.h"

#include "ring/memory.h"
#include "ring/packed_device.h"
#include "ring/split_device.h"
#include "vhost/copy_engine.h"
#include "vhost_user/protocol.h"

namespace vnet::vhost {

using Mem = ring::RegionTable;

struct VringStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t dropped = 0;     // frames lost: bad chains, frames too big for the buffers
  uint64_t nombuf = 0;      // mbuf allocation failures (frame left in the ring)
  uint64_t bad_chains = 0;  // receive buffers the frontend got back empty (invalid chains)
};

class Server;

struct alignas(64) Vring {
  using Burst = uint16_t (*)(Vring&, rte_mbuf**, uint16_t);
  using Settle = void (*)(Vring&);

  // ---- data path -------------------------------------------------------
  ring::BurstGate gate;   // open: the data path may use this ring (enter/leave, quiesce/publish)
  Burst burst = nullptr;  // picked when the ring is armed (layout, mergeable)
  uint16_t hdr_len = 0;   // virtio-net header size for the negotiated features
  uint16_t port_id = 0;
  int call_fd = -1;           // eventfd to notify the frontend, or -1
  rte_mempool* mp = nullptr;  // Rx (dequeue) rings: where mbufs come from
  Server* rarp = nullptr;     // Rx queue 0 only: asked for pending SEND_RARP announcements
  VringStats st;
  CopyStats cs;
  AsyncQueue* aq = nullptr;  // set when a DMA channel serves this ring (devargs), else CPU copies
  ring::SplitDevice<Mem> split;
  ring::PackedDevice<Mem> packed;
  Mem mem;  // private copy of the guest-address table (no sharing between lcores)
  // Scratch for pop(): the sync bursts pop groups of chains before copying
  // (datapath.h: kEnqueueAhead, kDequeueAhead); the others use chain[0].
  static constexpr uint16_t kPopAhead = 8;
  ring::Chain chain[kPopAhead];

  // ---- control path only ----------------------------------------------
  uint32_t num = 0;  // SET_VRING_NUM (0: not set)
  vhost_user::VringAddr addr{};
  bool has_addr = false;
  uint32_t base = 0;  // SET_VRING_BASE
  int kick_fd = -1;
  bool kicked = false;   // SET_VRING_KICK seen (with or without fd): ring started
  bool enabled = false;  // SET_VRING_ENABLE (implicit without PROTOCOL_FEATURES)
  bool armed = false;    // device ring initialised over translated addresses
  bool is_packed = false;
  bool attached = false;                          // the ethdev set up and started the queue behind it
  Settle settle = nullptr;                        // async rings: wait for copies in flight, publish them
  Settle publish = nullptr;                       // async rings: publish completed records (channel lock held)
  ring::ErrCounters<ring::DevErr> ring_err_past;  // ring errors of earlier arms (a re-arm zeroes the ring's)
};

// Control path: keep the device ring's error counts before it is re-initialised.
inline void fold_ring_errors(Vring& v) noexcept {
  const auto& e = v.is_packed ? v.packed.errors() : v.split.errors();
  for (size_t i = 0; i < e.n.size(); ++i) v.ring_err_past.n[i] += e.n[i];
}

// Data path: true when the burst may use the ring; pair with leave(). A
// ring seen closed is not entered: polling a stopped ring stores nothing.
inline bool enter(Vring& v) noexcept { return v.gate.is_open() && v.gate.enter(); }
inline void leave(Vring& v) noexcept { v.gate.leave(); }

// Control path: stop the data path from using the ring and wait until no
// burst is inside it; then (async rings) wait, bounded, for the copies it
// left in flight and publish them, so nothing writes guest memory after.
inline void quiesce(Vring& v) noexcept {
  v.gate.close();
  ring::BurstGate::fence();
  v.gate.wait_idle();
  if (v.settle) v.settle(v);
}

// Let the data path in: everything the burst reads (ring, table copy, fds) is set.
inline void publish(Vring& v) noexcept { v.gate.open(); }

}  // namespace vnet::vhost
