// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The completion sink: the one seam between the backend's copy loops
// (datapath.h) and the used entries that hand buffers back to the frontend.
// CpuSink copies with the CPU and pushes a packet's used entries as soon as
// the packet is built; AsyncSink (async_queue.h) records the packet and
// pushes them once its DMA copies completed, in pop order. The loops call
// the same members either way and never ask which sink they feed.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "ring/device_common.h"
#include "vhost/copy_engine.h"
#include "vhost/vring.h"

namespace vnet::vhost {

// What became of a packet the loops tried to put into the frontend's ring.
// Held: its record owns the mbuf until its copies complete (async sinks).
enum class Put : uint8_t { Sent, NoRoom, Dropped, Held };

// One used entry: the head and ring slots pop() reported, and the length.
struct UsedRec {
  uint16_t head;
  uint16_t ndesc;
  uint32_t len;
};

// The sink contract (CpuSink below, AsyncSink in async_queue.h):
//  dev                      the device ring, as its layout type
//  kEnqueueAhead, kDequeueAhead
//                           chains a burst pops before copying into / out of
//                           any of them
//  room(nused)              may one more packet of up to nused used entries start
//                           (with the chains popped ahead of it)?
//  open()                   the packet's record while it is built (both sinks:
//                           none; an async record is written whole by complete())
//  copy(dst, src, len, rec) a payload copy, counted in the ring's CopyStats
//  give_back(head, ndesc)   return a chain unused (length 0), after everything before it
//  give_back_first(c, rec, nused)
//                           the same for a chain met before the packet's first
//                           buffer (nothing copied under rec yet): it goes
//                           back ahead of the packet; false: no room left for it
//  complete(rec, used, n, m, zero)
//                           the packet is built: its n used entries (all of
//                           length 0 when zero: the frame was lost, counted
//                           here or by the caller) are pushed now (Sent, or
//                           Dropped when zero; the caller keeps m) or once
//                           its copies completed (Held: the record owns m)
//  abandon(rec)             the packet is given up and its buffers un-popped;
//                           copies already started must land before later ones
//  sent(k)                  of k frames complete() took, how many went out at
//                           once (CPU: all; async: none, deliver() hands them over)
//  begin(), end()           a burst's first and last step (async: end submits
//                           the new copies, collects completions, publishes them)
//  deliver(pkts, n)         dequeue: frames whose copies completed earlier
template <class Dev>
struct CpuSink {
  // Measured on the loopback: 8 beat 4 on enqueue (64 B rx +20%, 1518 B
  // within noise), 4 beat 8 on dequeue (64 B tx -15% at 8).
  static constexpr uint16_t kEnqueueAhead = 8;
  static constexpr uint16_t kDequeueAhead = 4;
  Dev& dev;
  CpuCopy eng;

  bool room(uint16_t) const { return true; }
  Pending* open() { return nullptr; }
  [[gnu::always_inline]] void copy(void* dst, const void* src, uint32_t len, Pending* p) { eng.copy(dst, src, len, p); }
  void give_back(uint16_t head, uint16_t ndesc) { dev.push_used(head, ndesc, 0); }
  bool give_back_first(const ring::Chain& c, Pending*&, uint16_t) {
    dev.push_used(c.head, c.ndesc, 0);
    return true;
  }
  [[gnu::always_inline]] Put complete(Pending*, const UsedRec* u, uint16_t n, rte_mbuf*, bool zero) {
    for (uint16_t i = 0; i < n; ++i) dev.push_used(u[i].head, u[i].ndesc, zero ? 0 : u[i].len);
    return zero ? Put::Dropped : Put::Sent;
  }
  void abandon(Pending*) {}
  static uint16_t sent(uint16_t k) { return k; }
  void begin() {}
  void end() {}
  uint16_t deliver(rte_mbuf**, uint16_t) { return 0; }
};

}  // namespace vnet::vhost
