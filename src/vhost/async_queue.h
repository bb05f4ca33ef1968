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

#include <algorithm>
#include <cstdint>

#include "common/mbuf_free.h"
#include "vhost/copy_engine.h"
#include "vhost/sink.h"
#include "vhost/vring.h"

namespace vnet::vhost {

// Per-ring in-flight state (allocated only for rings bound to a channel):
// one record per packet, as parallel arrays written once, when the packet
// is complete (commit). Records between pub and tail wait for copies;
// between head and pub they are published and (dequeue) wait to be
// delivered. Used entries wait in their own FIFO, uhead..utail. Most
// records own an mbuf and are not lost; the others ("odd": a chain given
// back, copies of a frame given up, a lost frame) are counted in `odd`, so
// that publishing a run of plain ones touches no record but its end.
struct AsyncQueue {
  static constexpr uint16_t kPkts = 512;
  static constexpr uint16_t kUsed = 1024;
  DmaChan* ch = nullptr;
  uint32_t threshold = 0;
  uint32_t mark = 0;  // the channel's op count when this ring's last record was committed
  uint16_t head = 0, pub = 0, tail = 0;
  uint16_t uhead = 0, utail = 0;
  uint16_t odd = 0;      // records in pub..tail without an mbuf or lost
  rte_mbuf* mt[kPkts];   // the record's mbuf, or none
  uint32_t end[kPkts];   // DmaChan::sub after its last copy: done once DmaChan::done reaches it
  uint16_t uend[kPkts];  // utail after its used entries
  uint8_t fl[kPkts];     // kLost, kAbandoned, kOwnOps, kCounted
  UsedRec ur[kUsed];

  static uint16_t ix(uint16_t i) { return i & (kPkts - 1); }
  UsedRec& used_at(uint16_t i) { return ur[i & (kUsed - 1)]; }
  uint16_t in_flight() const { return static_cast<uint16_t>(tail - pub); }
  uint16_t held() const { return static_cast<uint16_t>(tail - head); }
  // Room for `ahead` more packets owning up to `nused` used entries, the
  // last of them, and one each the others.
  bool room(uint16_t nused, uint16_t ahead) const {
    return held() + ahead <= kPkts && static_cast<uint16_t>(utail - uhead) + nused + ahead <= kUsed;
  }
  // Append a record for mbuf `m` (or none) and the used entries staged up
  // to utail, owning the channel's ops since the last one.
  [[gnu::always_inline]] void commit(rte_mbuf* m, uint8_t bits) {
    const uint32_t e = ch->sub;
    const uint16_t i = ix(tail++);
    mt[i] = m;
    fl[i] = static_cast<uint8_t>(bits | (e != mark ? kOwnOps : 0));
    end[i] = e;
    uend[i] = utail;
    mark = e;
  }
  // Where record i's used entries start.
  uint16_t ubegin(uint16_t i) const { return i == pub ? uhead : uend[ix(static_cast<uint16_t>(i - 1))]; }
};

// Publish every record whose copies are done, oldest first, stopping at the
// first one still waiting: push their used entries, free the mbufs enqueue
// records release, and those of lost dequeue records (kept out of the pool
// when abandoned to a stopped engine). Enqueue frames were counted as sent
// when staged (kCounted; a lost one was taken back).
template <class Dev, bool Deq>
void publish_done(Vring& v, Dev& dev) {
  AsyncQueue& q = *v.aq;
  const DmaChan& ch = *q.ch;
  uint16_t k = q.pub;
  while (k != q.tail && ch.reached(q.end[AsyncQueue::ix(k)])) ++k;
  if (k == q.pub) return;
  // The DMA completions were read before this: the copied bytes are in
  // guest memory before the used entries that hand them over.
  const uint16_t ue = q.uend[AsyncQueue::ix(static_cast<uint16_t>(k - 1))];
  for (uint16_t u = q.uhead; u != ue; ++u) {
    const UsedRec& r = q.used_at(u);
    dev.push_used(r.head, r.ndesc, r.len);
  }
  q.uhead = ue;
  if (q.odd == 0) [[likely]] {
    if constexpr (!Deq) {  // every record's mbuf goes back, in at most two runs
      const uint16_t a = AsyncQueue::ix(q.pub), n = static_cast<uint16_t>(k - q.pub);
      const uint16_t first = std::min<uint16_t>(n, static_cast<uint16_t>(AsyncQueue::kPkts - a));
      free_mbufs(q.mt + a, first);
      if (n > first) free_mbufs(q.mt, static_cast<uint16_t>(n - first));
    }
  } else {
    for (uint16_t i = q.pub; i != k; ++i) {
      const uint16_t x = AsyncQueue::ix(i);
      rte_mbuf*& m = q.mt[x];
      const bool lost = q.fl[x] & kLost;
      q.odd = static_cast<uint16_t>(q.odd - (lost || !m));
      if (!m || (Deq && !lost)) continue;
      if (Deq && (q.fl[x] & kAbandoned))
        ++v.cs.dma_abandoned;  // a stopped engine may still write it: never back to the pool
      else
        free_mbufs(&m, 1);
      m = nullptr;
    }
  }
  q.pub = k;
  if constexpr (!Deq) q.head = k;
}

// Dequeue: hand completed frames to the application, in order.
inline uint16_t deliver(Vring& v, rte_mbuf** pkts, uint16_t n) {
  AsyncQueue& q = *v.aq;
  uint16_t got = 0;
  uint64_t bytes = 0;
  while (got < n && q.head != q.pub) {
    rte_mbuf* m = q.mt[AsyncQueue::ix(q.head++)];
    if (!m) continue;  // a chain given back, a failed copy
    bytes += m->pkt_len;
    pkts[got++] = m;
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
    if (q.pub == q.tail || !ch.reached(q.end[AsyncQueue::ix(q.pub)])) continue;
    if (!enter(r)) continue;
    if (r.publish) r.publish(r);
    leave(r);
  }
}

// The asynchronous completion sink (contract: sink.h) of a ring with a
// DMA channel: every packet gets a record when it is complete; its used
// entries wait in the queue until its copies completed. Records are
// written whole at complete(), so the loops may pop ahead as they do for
// the CPU sink; room() keeps space for the chains popped ahead.
template <class Dev, class Api, bool Deq>
struct AsyncSink {
  static constexpr uint16_t kEnqueueAhead = 8;
  static constexpr uint16_t kDequeueAhead = 4;
  Dev& dev;
  Vring& v;
  AsyncQueue& q;
  DmaCopy<Api> eng;

  bool room(uint16_t nused) const { return q.room(nused, Deq ? kDequeueAhead : kEnqueueAhead); }
  Pending* open() { return nullptr; }
  [[gnu::always_inline]] void copy(void* dst, const void* src, uint32_t len, Pending* p) { eng.copy(dst, src, len, p); }
  void give_back(uint16_t head, uint16_t ndesc) {
    q.used_at(q.utail++) = UsedRec{head, ndesc, 0};
    q.commit(nullptr, kLost);
    ++q.odd;
  }
  // Nothing was copied for the packet yet: the chain simply goes back first.
  bool give_back_first(const ring::Chain& c, Pending*&, uint16_t nused) {
    give_back(c.head, c.ndesc);
    return q.room(nused, 1);
  }
  [[gnu::always_inline]] Put complete(Pending*, const UsedRec* u, uint16_t n, rte_mbuf* m, bool zero) {
    for (uint16_t i = 0; i < n; ++i) q.used_at(static_cast<uint16_t>(q.utail + i)) = u[i];
    q.utail = static_cast<uint16_t>(q.utail + n);
    if (zero) [[unlikely]] {
      for (uint16_t i = 1; i <= n; ++i) q.used_at(static_cast<uint16_t>(q.utail - i)).len = 0;
      ++v.st.dropped;
      ++q.odd;
      q.commit(m, kLost);
      return Put::Held;
    }
    if constexpr (!Deq) {  // sent, unless a copy fails (fail_ops takes it back)
      ++v.st.packets;
      v.st.bytes += m->pkt_len;
    }
    q.commit(m, Deq ? 0 : kCounted);
    return Put::Held;
  }
  // Buffers popped but given back: copies already submitted into them must
  // finish before anything else is written there.
  void abandon(Pending*) {
    if (q.ch->sub == q.mark) return;
    q.commit(nullptr, 0);  // a record without used entries: it only waits
    ++q.odd;
    q.ch->fence = RTE_DMA_OP_FLAG_FENCE;
  }
  static uint16_t sent(uint16_t) { return 0; }
  // A burst asks the device once (end): what completed since the last
  // burst is published after this one's copies were submitted, in the same
  // burst (dequeue delivers it then too).
  void begin() {
    q.mark = q.ch->sub;  // ops from here on are this burst's
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
