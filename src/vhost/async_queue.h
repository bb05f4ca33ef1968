// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The asynchronous half of the data path: a ring's queue of packets whose
// DMA copies may still run, and AsyncSink, the completion sink that fills
// it. Invariants: records leave the queue in the order they were opened; a
// record's used entries are pushed only after its copies completed (or
// failed: then with length 0); a dequeued mbuf reaches the application, and
// an enqueued one goes back to its pool, only after its copies completed.
// All of it runs under the ring's channel lock (copy_engine.h). Memory: a
// ring's AsyncQueue is fixed-size, one NUMA-local DPDK block from probe to
// close (create_async_queue, vring.h); nothing here allocates or throws.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "vhost/copy_engine.h"
#include "vhost/sink.h"
#include "vhost/vring.h"

namespace vnet::vhost {

// Per-ring in-flight state (allocated only for rings bound to a channel).
// Records between pub and tail wait for copies; between head and pub they
// are published and (dequeue) wait to be delivered.
struct AsyncQueue {
  static constexpr uint16_t kPkts = 512;
  static constexpr uint16_t kUsed = 1024;
  DmaChan* ch = nullptr;
  uint32_t threshold = 0;
  uint16_t head = 0, pub = 0, tail = 0;
  uint16_t uhead = 0, utail = 0;
  Pending pk[kPkts];
  UsedRec ur[kUsed];

  Pending& at(uint16_t i) { return pk[i & (kPkts - 1)]; }
  UsedRec& used_at(uint16_t i) { return ur[i & (kUsed - 1)]; }
  uint16_t in_flight() const { return static_cast<uint16_t>(tail - pub); }
  uint16_t held() const { return static_cast<uint16_t>(tail - head); }
  // Room for one more packet owning up to `nused` used entries.
  bool room(uint16_t nused) const { return held() < kPkts && static_cast<uint16_t>(utail - uhead) + nused <= kUsed; }
  Pending& open() {
    Pending& p = at(tail);
    p = Pending{nullptr, 0, 0, 0, 0, 0};
    return p;
  }
};

// Commit the record at q.tail with the `nused` used records staged at q.utail.
inline void commit(AsyncQueue& q, Pending& p, uint16_t nused) {
  p.nused = nused;
  q.utail = static_cast<uint16_t>(q.utail + nused);
  ++q.tail;
}

// The end of a record whose copies are done: count what it lost, free or
// keep its mbuf. Enqueue records free their source mbuf; dequeue records
// keep theirs for deliver() unless it is lost.
template <bool Deq>
void retire(Vring& v, Pending& p) {
  const bool bad = p.err || p.zero;
  // A record without used entries held copies of a frame given back; a
  // zero record's frame was dropped (and counted) when it was staged.
  if (p.err && p.nused && !p.zero) {
    ++v.cs.dma_errors;
    ++v.st.dropped;
  }
  if (Deq && p.m && p.err == kAbandoned) {
    // The mbuf is the destination of a copy the stopped engine may still
    // make: it never goes back to the pool, where the next user would see
    // the late bytes land.
    ++v.cs.dma_abandoned;
    p.m = nullptr;
  }
  if (p.m && (!Deq || p.err)) {
    if (!Deq && !bad) {
      ++v.st.packets;
      v.st.bytes += p.m->pkt_len;
    }
    rte_pktmbuf_free(p.m);
    p.m = nullptr;
  }
}

// Push the used entries of every record whose copies are done, oldest
// first, stopping at the first one still waiting.
template <class Dev, bool Deq>
void publish_done(Vring& v, Dev& dev) {
  AsyncQueue& q = *v.aq;
  while (q.pub != q.tail) {
    Pending& p = q.at(q.pub);
    if (p.copies) break;
    const bool bad = p.err || p.zero;
    for (uint16_t i = 0; i < p.nused; ++i) {
      const UsedRec& r = q.used_at(q.uhead++);
      // The DMA completion was read before this: the copied bytes are in
      // guest memory before the used entry that hands them over.
      dev.push_used(r.head, r.ndesc, bad ? 0 : r.len);
    }
    retire<Deq>(v, p);
    ++q.pub;
  }
  if constexpr (!Deq) q.head = q.pub;
}

// Dequeue: hand completed frames to the application, in order.
inline uint16_t deliver(Vring& v, rte_mbuf** pkts, uint16_t n) {
  AsyncQueue& q = *v.aq;
  uint16_t got = 0;
  uint64_t bytes = 0;
  while (got < n && q.head != q.pub) {
    Pending& p = q.at(q.head++);
    if (!p.m) continue;  // dropped chain or failed copy
    bytes += p.m->pkt_len;
    pkts[got++] = p.m;
    p.m = nullptr;
  }
  v.st.packets += got;
  v.st.bytes += bytes;
  return got;
}

inline void note_inflight(Vring& v) {
  const uint64_t n = v.aq->in_flight();
  if (n > v.cs.inflight_hwm) v.cs.inflight_hwm = n;
}

// Publish what completed and wake the frontend (a ring's `publish` hook:
// another ring's burst on the same channel drives this ring's completions).
template <class Dev, bool Deq>
void publish_hook(Vring& v) {
  Dev& dev = v.dq.template as<Dev>();
  publish_done<Dev, Deq>(v, dev);
  finish(v, dev);
}

// Caller holds the channel lock (so no burst of these rings runs): publish
// the completed records of every ring on the channel except `self`.
inline void drive_channel(DmaChan& ch, const Vring* self) {
  for (uint8_t i = 0; i < ch.nrings; ++i) {
    Vring& r = *ch.rings[i];
    if (&r == self) continue;
    AsyncQueue& q = *r.aq;
    if (q.pub == q.tail || q.at(q.pub).copies != 0) continue;
    if (!enter(r)) continue;
    if (r.publish) r.publish(r);
    leave(r);
  }
}

// The asynchronous completion sink (contract: sink.h) of a ring with a
// DMA channel: every packet gets a record; its used entries wait in the
// queue until its copies completed.
template <class Dev, class Api, bool Deq>
struct AsyncSink {
  static constexpr uint16_t kEnqueueAhead = 1;
  static constexpr uint16_t kDequeueAhead = 1;
  Dev& dev;
  Vring& v;
  AsyncQueue& q;
  DmaCopy<Api> eng;

  bool room(uint16_t nused) const { return q.room(nused); }
  Pending* open() { return &q.open(); }
  void copy(void* dst, const void* src, uint32_t len, Pending* p) { eng.copy(dst, src, len, p); }
  void give_back(uint16_t head, uint16_t ndesc) {
    Pending& p = q.open();
    p.zero = 1;
    q.used_at(q.utail) = UsedRec{head, ndesc, 0};
    commit(q, p, 1);
  }
  // The packet's record (open, no copy under it yet) is the one give_back()
  // takes: the packet moves up one.
  bool give_back_first(const ring::Chain& c, Pending*& p, uint16_t nused) {
    give_back(c.head, c.ndesc);
    if (!q.room(nused)) return false;
    p = &q.open();
    return true;
  }
  Put complete(Pending* p, const UsedRec* u, uint16_t n, rte_mbuf* m, bool zero) {
    for (uint16_t i = 0; i < n; ++i) q.used_at(static_cast<uint16_t>(q.utail + i)) = u[i];
    p->m = m;
    if (zero) {
      p->zero = 1;
      ++v.st.dropped;
    }
    commit(q, *p, n);
    return Put::Held;
  }
  // Buffers popped but given back: copies already submitted into them must
  // finish before anything else is written there.
  void abandon(Pending* p) {
    if (!p->copies) return;
    commit(q, *p, 0);  // a record without used entries: it only waits
    q.ch->fence_next = true;
  }
  static uint16_t sent(uint16_t) { return 0; }
  void begin() {
    eng.poll();
    publish_done<Dev, Deq>(v, dev);
  }
  void end() {
    eng.submit();
    eng.poll();
    publish_done<Dev, Deq>(v, dev);
    note_inflight(v);
  }
  uint16_t deliver(rte_mbuf** pkts, uint16_t n) { return vhost::deliver(v, pkts, n); }
};

}  // namespace vnet::vhost
