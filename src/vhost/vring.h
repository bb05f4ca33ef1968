// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// One virtqueue of the backend: what the control thread learnt from the
// frontend (size, addresses, base, fds) and what the data path uses (the
// device-side ring, a private copy of the guest-address table, counters).
// Invariant: the data path touches a Vring only between enter() and leave(),
// and only while its gate is open; the control thread changes it only after
// quiesce() (gate closed and no burst inside), then opens the gate again.
// arm_vring() is where a ring's data path (its bursts) is chosen.
// Memory: a port's Vrings are one NUMA-local DPDK block (create_vrings),
// each DMA ring's AsyncQueue one more (create_async_queue); both come at
// probe and go at close. Bursts never allocate (mbufs come from the
// application's pools). Nothing here throws: a failed allocation is nullptr
// and a log line, and the caller returns -ENOMEM.
#pragma once

#include <rte_mbuf.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "ring/burst_gate.h"

#include "ring/device_queue.h"
#include "ring/memory.h"
#include "vhost/copy_engine.h"
#include "vhost/rarp.h"
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

struct AsyncQueue;

struct alignas(64) Vring {
  using Burst = uint16_t (*)(Vring&, rte_mbuf**, uint16_t);
  using Settle = void (*)(Vring&);

  // ---- data path -------------------------------------------------------
  ring::BurstGate gate;   // open: the data path may use this ring (enter/leave, quiesce/publish)
  Burst burst = nullptr;  // picked when the ring is armed (layout, mergeable)
  uint16_t hdr_len = 0;   // virtio-net header size for the negotiated features
  uint16_t port_id = 0;
  int call_fd = -1;             // eventfd to notify the frontend, or -1
  rte_mempool* mp = nullptr;    // Rx (dequeue) rings: where mbufs come from
  RarpMailbox* rarp = nullptr;  // Rx queue 0 only: pending SEND_RARP announcements
  VringStats st;
  CopyStats cs;
  AsyncQueue* aq = nullptr;  // set when a DMA channel serves this ring (devargs), else CPU copies
  ring::DeviceQueue<Mem> dq;
  Mem mem;  // private copy of the guest-address table (no sharing between lcores)
  // Scratch for pop(): bursts pop groups of chains before copying (as many
  // as their completion sink allows, sink.h: kEnqueueAhead, kDequeueAhead).
  static constexpr uint16_t kPopAhead = 8;
  ring::Chain chain[kPopAhead];

  // ---- control path only ----------------------------------------------
  uint32_t num = 0;  // SET_VRING_NUM (0: not set)
  vhost_user::VringAddr addr{};
  bool has_addr = false;
  uint32_t base = 0;  // SET_VRING_BASE
  int kick_fd = -1;
  bool kicked = false;                            // SET_VRING_KICK seen (with or without fd): ring started
  bool enabled = false;                           // SET_VRING_ENABLE (implicit without PROTOCOL_FEATURES)
  bool armed = false;                             // device ring initialised over translated addresses
  bool attached = false;                          // the ethdev set up and started the queue behind it
  Settle settle = nullptr;                        // async rings: wait for copies in flight, publish them
  Settle publish = nullptr;                       // async rings: publish completed records (channel lock held)
  ring::ErrCounters<ring::DevErr> ring_err_past;  // ring errors of earlier arms (a re-arm zeroes the ring's)
};

static_assert(std::is_nothrow_default_constructible_v<Vring>);

// Control path: `n` rings in one zeroed rte_zmalloc_socket block on NUMA
// node `socket` (SOCKET_ID_ANY: the caller's first), or nullptr.
Vring* create_vrings(unsigned n, int socket) noexcept;
void destroy_vrings(Vring* v, unsigned n) noexcept;  // nullptr: nothing
// Control path: one ring's queue of packets in flight (async_queue.h), on `socket`.
AsyncQueue* create_async_queue(int socket) noexcept;
void destroy_async_queue(AsyncQueue* q) noexcept;  // nullptr: nothing

// Control path: keep the device ring's error counts before it is re-initialised.
inline void fold_ring_errors(Vring& v) noexcept {
  const auto& e = v.dq.errors();
  for (size_t i = 0; i < e.n.size(); ++i) v.ring_err_past.n[i] += e.n[i];
}

// Control path, ring quiesced: initialise the device ring over `cfg` (its
// layout, sizes and positions; translated addresses) and choose the ring's
// data path for that layout, the direction (`dequeue`: the frontend's
// transmit queue, which we only read), the negotiated `features` and the
// copy engine (DMA when the ring has a channel). The old ring's error counts
// are folded first. Returns the ring's init error (nothing chosen then).
int arm_vring(Vring& v, ring::DeviceConfig cfg, uint64_t features, bool dequeue) noexcept;

// Control path, ring quiesced: forget the device ring (errors folded).
inline void clear_vring(Vring& v) noexcept {
  fold_ring_errors(v);
  v.dq.reset();
}

// Data path: write the ring's used entries and notify the frontend if it
// asked for it (a full call eventfd means a wake-up is pending anyway).
template <class Dev>
inline void finish(Vring& v, Dev& dev) {
  if (dev.drain() && v.call_fd >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(v.call_fd, &one, sizeof one);
  }
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
