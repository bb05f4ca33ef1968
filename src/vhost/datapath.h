// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's bursts, one template per (ring layout, mergeable) pair,
// picked when a ring is armed. Dequeue drains the frontend's transmit ring
// into mbufs (virtio-net header stripped, multi-segment for big frames);
// enqueue fills the frontend's receive ring behind a virtio-net header,
// spreading a frame over several buffers with MRG_RXBUF. Invariants: only
// pointers from validated chains are written; used entries are pushed in
// the order chains were popped; a chain we cannot use is either restored
// (not consumed) or returned used with length 0; no mbuf is leaked.
// Each burst is a template over a copy engine (copy_engine.h): with the
// asynchronous one, a packet's used entries wait in the ring's AsyncQueue
// until its DMA copies completed, and leave it in pop order; a dequeued
// mbuf reaches the application only after its copies completed. With CPU
// copies both bursts pop small groups of chains before copying, so the
// frames' cache lines move between the cores in parallel; a group never
// leaves a popped chain unconsumed.
#pragma once

#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "common/log.h"
#include "vhost/vring.h"
#include "virtio/net_hdr.h"

namespace vnet::vhost {

inline constexpr uint32_t kMaxFrame = 65535 + 14;  // no TSO offered: nothing bigger is valid
inline constexpr uint16_t kMaxBufsPerFrame = 64;   // mergeable: buffers one frame may take
inline constexpr uint16_t kFreeBatch = 64;         // enqueue: consumed mbufs freed per rte_pktmbuf_free_bulk
// Chains a sync burst pops before copying into (enqueue) or out of
// (dequeue) any of them. Measured on the loopback: 8 beat 4 on enqueue
// (64 B rx +20%, 1518 B within noise), 4 beat 8 on dequeue (64 B tx -15%
// at 8).
inline constexpr uint16_t kEnqueueAhead = 8;
inline constexpr uint16_t kDequeueAhead = 4;
static_assert(kEnqueueAhead <= Vring::kPopAhead && kDequeueAhead <= Vring::kPopAhead);

using SplitDev = ring::SplitDevice<Mem>;
using PackedDev = ring::PackedDevice<Mem>;

template <class Dev>
Dev& dev_of(Vring& v);
template <>
inline SplitDev& dev_of<SplitDev>(Vring& v) {
  return v.split;
}
template <>
inline PackedDev& dev_of<PackedDev>(Vring& v) {
  return v.packed;
}

// Publish used entries and notify the frontend if it asked for it.
template <class Dev>
inline void finish(Vring& v, Dev& dev) {
  dev.flush();
  if (dev.should_notify() && v.call_fd >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(v.call_fd, &one, sizeof one);  // EAGAIN: a wake-up is pending anyway
  }
}

// Header bytes and the like: always the CPU, not counted as payload copies.
struct RawCopy {
  void copy(void* dst, const void* src, uint32_t len, Pending*) { rte_memcpy(dst, src, len); }
};

// A zeroed virtio-net header of `hdr` bytes (10 or 12) carrying
// num_buffers = nbufs (only present in the 12-byte form), as fixed-size
// stores. Not compared first: the frontend usually owns that line (ours
// takes it for writing on Rx), and a load that misses stalls the burst where
// a store that misses only waits in the store buffer.
inline void write_hdr(uint8_t* dst, uint32_t hdr, uint16_t nbufs) {
  virtio::NetHdrMrg h{};
  h.num_buffers.set(nbufs);
  if (hdr == sizeof h)
    __builtin_memcpy(dst, &h, sizeof h);
  else
    __builtin_memcpy(dst, &h, sizeof(virtio::NetHdr));
}

// Free consumed mbufs: one-segment ones whose last reference this was go
// back to their pool in bulk; anything else through rte_pktmbuf_free.
inline void free_mbufs(rte_mbuf** ms, uint16_t n) {
  void* raw[kFreeBatch];
  uint16_t k = 0;
  rte_mempool* mp = nullptr;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = ms[i];
    if (m->next != nullptr) {
      rte_pktmbuf_free(m);
      continue;
    }
    m = rte_pktmbuf_prefree_seg(m);  // nullptr: someone else still holds it
    if (!m) continue;
    if (m->pool != mp || k == kFreeBatch) {
      if (k) rte_mempool_put_bulk(mp, raw, k);
      k = 0;
      mp = m->pool;
    }
    raw[k++] = m;
  }
  if (k) rte_mempool_put_bulk(mp, raw, k);
}

// ---- the in-flight queue (async engines only) --------------------------------

// Commit the record at q.tail with the `nused` used records staged at q.utail.
inline void commit(AsyncQueue& q, Pending& p, uint16_t nused) {
  p.nused = nused;
  q.utail = static_cast<uint16_t>(q.utail + nused);
  ++q.tail;
}

// Return a chain to the frontend with length 0, after everything before it.
template <class Eng, class Dev>
void give_back(Vring& v, Dev& dev, const ring::Chain& c) {
  if constexpr (Eng::kAsync) {
    AsyncQueue& q = *v.aq;
    Pending& p = q.open();
    p.zero = 1;
    q.used_at(q.utail) = UsedRec{c.head, c.ndesc, 0};
    commit(q, p, 1);
  } else {
    dev.push_used(c, 0);
  }
}

// Push the used entries of every record whose copies are done, oldest
// first, stopping at the first one still waiting. Enqueue records free
// their source mbuf here; dequeue records keep theirs for deliver().
template <class Dev, bool Deq>
void publish_done(Vring& v, Dev& dev) {
  AsyncQueue& q = *v.aq;
  ring::Chain& c = v.chain[0];
  while (q.pub != q.tail) {
    Pending& p = q.at(q.pub);
    if (p.copies) break;
    const bool bad = p.err || p.zero;
    for (uint16_t i = 0; i < p.nused; ++i) {
      const UsedRec& r = q.used_at(q.uhead++);
      c.head = r.head;
      c.ndesc = r.ndesc;
      // The DMA completion was read before this: the copied bytes are in
      // guest memory before the used entry that hands them over.
      dev.push_used(c, bad ? 0 : r.len);
    }
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
  Dev& dev = dev_of<Dev>(v);
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

// Control path, ring quiesced: wait (at most ~1 s) for this ring's copies,
// publish them; if they never complete, stop the device so no late copy can
// write into memory about to be unmapped, and drop those packets.
template <class Dev, class Api, bool Deq>
void settle(Vring& v) {
  AsyncQueue* q = v.aq;
  if (!q || q->pub == q->tail) return;
  Dev& dev = dev_of<Dev>(v);
  DmaChan& ch = *q->ch;
  while (!ch.try_lock()) rte_pause();  // a burst of another ring on this channel: it ends soon
  const uint64_t t0 = rte_get_timer_cycles(), limit = rte_get_timer_hz();
  for (;;) {
    if (ch.unsubmitted) {
      Api::submit(ch.dev, ch.vchan);
      ch.unsubmitted = 0;
    }
    dma_poll<Api>(ch);
    publish_done<Dev, Deq>(v, dev);
    if (q->pub == q->tail) break;
    if (rte_get_timer_cycles() - t0 > limit) {
      VNET_VHOST_LOG(ERR, "dmadev %d vchan %u: %u packet(s) still in flight after 1 s; stopping the device", ch.dev,
                     ch.vchan, q->in_flight());
      dma_kill<Api>(ch);
      publish_done<Dev, Deq>(v, dev);
      break;
    }
    rte_pause();
  }
  ch.unlock();
  finish(v, dev);
}

// Control path, after settle: free frames never delivered (ring reset or
// queue released) and empty the queue.
inline void discard(Vring& v) {
  AsyncQueue* q = v.aq;
  if (!q) return;
  while (!q->ch->try_lock()) rte_pause();  // drive_channel() reads these indexes
  for (uint16_t i = q->head; i != q->tail; ++i) {
    Pending& p = q->at(i);
    if (p.m) {
      rte_pktmbuf_free(p.m);
      p.m = nullptr;
      ++v.st.dropped;
    }
  }
  q->head = q->pub = q->tail = 0;
  q->uhead = q->utail = 0;
  q->ch->unlock();
}

// ---- dequeue -------------------------------------------------------------

// An mbuf chain with room for `len` bytes (all segments allocated before
// any copy starts: a copy never lands in an mbuf we free).
inline rte_mbuf* alloc_chain(rte_mempool* mp, uint32_t len) {
  rte_mbuf* head = rte_pktmbuf_alloc(mp);
  if (!head) return nullptr;
  rte_mbuf* cur = head;
  uint32_t room = rte_pktmbuf_tailroom(head);
  while (room < len) {
    rte_mbuf* nx = rte_pktmbuf_alloc(mp);
    if (!nx) {
      rte_pktmbuf_free(head);
      return nullptr;
    }
    nx->data_off = 0;  // continuation segments need no headroom
    cur->next = nx;
    cur = nx;
    ++head->nb_segs;
    room += rte_pktmbuf_tailroom(nx);
  }
  return head;
}

// Readable part of a chain (minus `skip` header bytes) into `head`.
template <class Eng>
void fill_mbuf(rte_mbuf* head, const ring::Chain& c, uint32_t skip, Eng& e, Pending* p) {
  rte_mbuf* cur = head;
  uint32_t total = 0;
  for (uint16_t i = 0; i < c.nout; ++i) {
    const uint8_t* src = c.segs[i].ptr;
    uint32_t len = c.segs[i].len;
    const uint32_t s = std::min(skip, len);
    src += s;
    len -= s;
    skip -= s;
    while (len > 0) {
      uint32_t room = rte_pktmbuf_tailroom(cur);
      if (room == 0) {
        cur = cur->next;
        room = rte_pktmbuf_tailroom(cur);
      }
      const uint32_t k = std::min(room, len);
      e.copy(rte_pktmbuf_mtod_offset(cur, uint8_t*, cur->data_len), src, k, p);
      cur->data_len = static_cast<uint16_t>(cur->data_len + k);
      src += k;
      len -= k;
      total += k;
    }
  }
  head->pkt_len = total;
}

template <class Eng>
Eng engine_of(Vring& v) {
  if constexpr (Eng::kAsync)
    return Eng{v.cs, *v.aq->ch, v.aq->threshold};
  else
    return Eng{v.cs};
}

// A transmit chain dequeue cannot turn into a frame: invalid, no byte past
// the header, or bigger than any valid frame. It is returned unused.
inline bool unusable_tx(ring::Pop r, const ring::Chain& c, uint32_t hdr) {
  return r == ring::Pop::Dropped || c.out_len <= hdr || c.out_len - hdr > kMaxFrame;
}

// The mbuf (chain) a popped frame (past its `hdr` header bytes) is copied
// into; when the pool is short, the chain is restored to `pos` (the frame
// stays in the ring for the next burst), counted, and nullptr returned.
template <class Dev>
inline rte_mbuf* frame_mbuf(Vring& v, Dev& dev, const ring::Chain& c, ring::Cursor pos, uint32_t hdr) {
  rte_mbuf* m = alloc_chain(v.mp, c.out_len - hdr);
  if (!m) {
    dev.restore(pos);
    ++v.st.nombuf;
    return nullptr;
  }
  return m;
}

// Start the first lines of a popped chain's frame (past the header) on their
// way from the frontend's core: read prefetches, the copy only reads them.
inline void prefetch_frame(const ring::Chain& c, uint32_t hdr) {
  if (c.nout == 0) return;
  const uint8_t* src = c.segs[0].len > hdr ? c.segs[0].ptr + hdr : c.nout > 1 ? c.segs[1].ptr : nullptr;
  if (!src) return;
  rte_prefetch0(src);
  rte_prefetch0(src + 64);
}

// Sync dequeue in groups of up to kDequeueAhead chains: pop each, give
// it its mbuf and prefetch its frame's first lines, then copy the group, so
// the frames' lines travel from the frontend's core together rather than
// one copy at a time. A chain is popped only while the burst has room for
// it, and only after the previous one got its mbuf: a shortage restores
// just the chain it hit, so nothing popped is left over. Invalid chains
// keep their place in the group and are returned in ring order.
template <class Dev>
uint16_t dequeue_sync(Vring& v, Dev& dev, rte_mbuf** pkts, uint16_t n, uint64_t& bytes) {
  constexpr uint16_t K = kDequeueAhead;
  const uint32_t hdr = v.hdr_len;
  CpuCopy e = engine_of<CpuCopy>(v);
  uint16_t got = 0;
  bool more = true;
  while (more && got < n) {
    rte_mbuf* ms[K];  // nullptr: an invalid chain, returned unused
    uint16_t k = 0, valid = 0;
    while (k < K && got + valid < n) {
      ring::Chain& c = v.chain[k];
      const ring::Cursor pos = dev.save();
      const ring::Pop r = dev.pop(c);
      if (r == ring::Pop::Empty || r == ring::Pop::Broken) {
        more = false;
        break;
      }
      if (unusable_tx(r, c, hdr)) {
        ms[k++] = nullptr;
        continue;
      }
      rte_mbuf* m = frame_mbuf(v, dev, c, pos, hdr);
      if (!m) {
        more = false;
        break;
      }
      prefetch_frame(c, hdr);
      ms[k++] = m;
      ++valid;
    }
    for (uint16_t j = 0; j < k; ++j) {
      const ring::Chain& c = v.chain[j];
      rte_mbuf* m = ms[j];
      if (!m) {
        give_back<CpuCopy>(v, dev, c);
        ++v.st.dropped;
        continue;
      }
      m->port = v.port_id;
      if (c.nout == 1 && m->next == nullptr) {  // header and frame in one piece, one mbuf holds it
        const uint32_t len = c.out_len - hdr;
        e.copy(rte_pktmbuf_mtod(m, uint8_t*), c.segs[0].ptr + hdr, len, nullptr);
        m->data_len = static_cast<uint16_t>(len);
        m->pkt_len = len;
      } else {
        fill_mbuf(m, c, hdr, e, nullptr);
      }
      dev.push_used(c, 0);
      bytes += m->pkt_len;
      pkts[got++] = m;
    }
  }
  return got;
}

// Dequeue: what the frontend transmitted becomes our received mbufs.
template <class Dev, class Eng = CpuCopy>
uint16_t dequeue_burst(Vring& v, rte_mbuf** pkts, uint16_t n) {
  Dev& dev = dev_of<Dev>(v);
  if constexpr (!Eng::kAsync) {
    uint64_t bytes = 0;
    const uint16_t got = dequeue_sync(v, dev, pkts, n, bytes);
    v.st.packets += got;
    v.st.bytes += bytes;
    finish(v, dev);
    return got;
  } else {
    ring::Chain& c = v.chain[0];
    const uint32_t hdr = v.hdr_len;
    Eng e = engine_of<Eng>(v);
    e.poll();
    publish_done<Dev, true>(v, dev);
    uint16_t got = deliver(v, pkts, n);
    for (uint16_t taken = 0; taken < n;) {
      if (!v.aq->room(1)) break;
      const ring::Cursor pos = dev.save();
      const ring::Pop r = dev.pop(c);
      if (r == ring::Pop::Empty || r == ring::Pop::Broken) break;
      if (unusable_tx(r, c, hdr)) {
        give_back<Eng>(v, dev, c);
        ++v.st.dropped;
        continue;
      }
      rte_mbuf* m = frame_mbuf(v, dev, c, pos, hdr);
      if (!m) break;
      m->port = v.port_id;
      ++taken;
      AsyncQueue& q = *v.aq;
      Pending& p = q.open();
      fill_mbuf(m, c, hdr, e, &p);
      p.m = m;
      q.used_at(q.utail) = UsedRec{c.head, c.ndesc, 0};
      commit(q, p, 1);
    }
    e.submit();
    e.poll();
    publish_done<Dev, true>(v, dev);
    got = static_cast<uint16_t>(got + deliver(v, pkts + got, static_cast<uint16_t>(n - got)));
    note_inflight(v);
    finish(v, dev);
    return got;
  }
}

// ---- enqueue ---------------------------------------------------------------

// Writes into the device-writable pieces of a chain.
struct SegWriter {
  const ring::DevSeg* s;
  const ring::DevSeg* e;
  uint32_t off = 0;
  explicit SegWriter(const ring::Chain& c) : s(c.segs + c.nout), e(c.segs + c.nseg) {}
  bool full() const { return s == e; }
  template <class Eng>
  uint32_t put(const void* src, uint32_t len, Eng& eng, Pending* p) {
    const auto* q = static_cast<const uint8_t*>(src);
    uint32_t done = 0;
    while (done < len && s != e) {
      const uint32_t k = std::min(s->len - off, len - done);
      eng.copy(s->ptr + off, q + done, k, p);
      off += k;
      done += k;
      if (off == s->len) {
        ++s;
        off = 0;
      }
    }
    return done;
  }
  // Where the byte `at` bytes ahead of the write position is (nullptr: past the end).
  uint8_t* peek(uint32_t at) const {
    uint32_t o = off;
    for (const ring::DevSeg* q = s; q != e; ++q, o = 0) {
      if (at < q->len - o) return q->ptr + o + at;
      at -= q->len - o;
    }
    return nullptr;
  }
};

// Reads an mbuf chain front to back.
struct MbufReader {
  const rte_mbuf* seg;
  uint32_t off = 0;
  // Copy as much as fits into w; returns bytes copied.
  template <class Eng>
  uint32_t into(SegWriter& w, Eng& eng, Pending* p) {
    uint32_t done = 0;
    while (seg && !w.full()) {
      const uint32_t avail = seg->data_len - off;
      if (avail == 0) {
        seg = seg->next;
        off = 0;
        continue;
      }
      const uint32_t k = w.put(rte_pktmbuf_mtod_offset(seg, const uint8_t*, off), avail, eng, p);
      off += k;
      done += k;
    }
    return done;
  }
};

// Held (async only): the packet's record owns the mbuf and frees it once
// its copies are done (sent, or dropped with copies in flight).
enum class Put : uint8_t { Sent, NoRoom, Dropped, Held };

// The common receive case: the chain holds `need` writable bytes and its
// first writable piece takes the header and a one-segment frame.
inline bool fits_one_piece(const ring::Chain& c, const rte_mbuf* m, uint64_t need) {
  return c.in_len >= need && m->next == nullptr && m->data_len == m->pkt_len &&
         c.segs[c.nout].len >= need;  // in_len >= need > 0: a writable piece exists
}

// Fill such a chain (num_buffers 1) and return it used, or stage it (async).
template <class Eng, class Dev>
inline Put put_one_piece(Vring& v, Dev& dev, const ring::Chain& c, rte_mbuf* m, uint32_t hdr, Eng& e, Pending* p,
                         uint32_t need) {
  uint8_t* dst = c.segs[c.nout].ptr;
  write_hdr(dst, hdr, 1);
  e.copy(dst + hdr, rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, p);
  if constexpr (Eng::kAsync) {
    AsyncQueue& q = *v.aq;
    q.used_at(q.utail) = UsedRec{c.head, c.ndesc, need};
    p->m = m;
    commit(q, *p, 1);
    return Put::Held;
  } else {
    dev.push_used(c, need);
    return Put::Sent;
  }
}

// Without MRG_RXBUF: one chain per frame, header then data.
template <class Eng, class Dev>
Put put_one(Vring& v, Dev& dev, ring::Chain& c, rte_mbuf* m, uint32_t hdr, Eng& e) {
  const uint64_t need = uint64_t{hdr} + m->pkt_len;
  RawCopy raw;
  for (;;) {
    if constexpr (Eng::kAsync) {
      if (!v.aq->room(1)) return Put::NoRoom;
    }
    const ring::Cursor pos = dev.save();
    const ring::Pop r = dev.pop(c);
    if (r == ring::Pop::Empty || r == ring::Pop::Broken) return Put::NoRoom;
    if (r == ring::Pop::Dropped || c.in_len < hdr) {
      give_back<Eng>(v, dev, c);  // the frontend's bad buffer goes back to it, empty
      ++v.st.bad_chains;
      continue;
    }
    if (c.in_len < need) {
      dev.restore(pos);  // keep the buffer for a frame that fits
      return Put::Dropped;
    }
    if (fits_one_piece(c, m, need)) {
      Pending* p = nullptr;
      if constexpr (Eng::kAsync) p = &v.aq->open();
      return put_one_piece(v, dev, c, m, hdr, e, p, static_cast<uint32_t>(need));
    }
    virtio::NetHdrMrg h{};
    h.num_buffers.set(1);
    SegWriter w(c);
    w.put(&h, hdr, raw, nullptr);
    MbufReader rd{m};
    if constexpr (Eng::kAsync) {
      AsyncQueue& q = *v.aq;
      Pending& p = q.open();
      rd.into(w, e, &p);
      p.m = m;
      q.used_at(q.utail) = UsedRec{c.head, c.ndesc, static_cast<uint32_t>(need)};
      commit(q, p, 1);
      return Put::Held;
    } else {
      rd.into(w, e, nullptr);
      dev.push_used(c, static_cast<uint32_t>(need));
      return Put::Sent;
    }
  }
}

// With MRG_RXBUF, the general case: as many chains as the frame needs;
// num_buffers set last. `r` is the pop put_mrg already did (from `start`),
// `p` the packet's record (async engines).
template <class Eng, class Dev>
[[gnu::noinline]] Put put_mrg_slow(Vring& v, Dev& dev, ring::Chain& c, rte_mbuf* m, uint32_t hdr, Eng& e, Pending* p,
                                   ring::Cursor start, ring::Pop r) {
  UsedRec rec[kMaxBufsPerFrame];
  uint16_t nrec = 0;
  const uint64_t need = uint64_t{hdr} + m->pkt_len;
  uint64_t written = 0;
  uint8_t* nb[2] = {nullptr, nullptr};
  MbufReader rd{m};
  RawCopy raw;
  // Buffers popped but given back: copies already submitted into them must
  // finish before anything else is written there.
  auto unwind = [&](Put res) {
    if constexpr (Eng::kAsync) {
      if (p->copies) {
        commit(*v.aq, *p, 0);  // a record without used entries: it only waits
        v.aq->ch->fence_next = true;
      }
    }
    return res;
  };
  for (;; r = dev.pop(c)) {  // need > 0: at least one chain
    if (r == ring::Pop::Empty || r == ring::Pop::Broken) {
      dev.restore(start);  // nothing of this frame was pushed: retry next burst
      return unwind(Put::NoRoom);
    }
    if (r == ring::Pop::Dropped || c.in_len < hdr) {  // 5.1.6.3.1: each buffer holds at least a header
      ++v.st.bad_chains;
      if (nrec == 0) {
        if constexpr (Eng::kAsync) {
          // Stage it ahead of this frame's record; the frame's record moves up one.
          give_back<Eng>(v, dev, c);
          if (!v.aq->room(kMaxBufsPerFrame + 1)) return Put::NoRoom;
          p = &v.aq->open();
        } else {
          dev.push_used(c, 0);
        }
        start = dev.save();
        continue;
      }
      // Mid-frame: return every buffer of the frame empty; the frame is lost.
      rec[nrec++] = UsedRec{c.head, c.ndesc, 0};
      if constexpr (Eng::kAsync) {
        AsyncQueue& q = *v.aq;
        for (uint16_t i = 0; i < nrec; ++i) q.used_at(static_cast<uint16_t>(q.utail + i)) = rec[i];
        p->zero = 1;
        p->m = m;
        commit(q, *p, nrec);
        ++v.st.dropped;
        return Put::Held;
      } else {
        for (uint16_t i = 0; i < nrec; ++i) {
          c.head = rec[i].head;
          c.ndesc = rec[i].ndesc;
          dev.push_used(c, 0);
        }
        return Put::Dropped;
      }
    }
    if (nrec == kMaxBufsPerFrame) {
      dev.restore(start);
      return unwind(Put::Dropped);
    }
    SegWriter w(c);
    uint32_t here = 0;
    if (nrec == 0) {
      nb[0] = w.peek(offsetof(virtio::NetHdrMrg, num_buffers));
      nb[1] = w.peek(offsetof(virtio::NetHdrMrg, num_buffers) + 1);
      if (c.segs[c.nout].len >= hdr) {
        write_hdr(c.segs[c.nout].ptr, hdr, 0);
        w.off = hdr;
        if (w.off == w.s->len) {
          ++w.s;
          w.off = 0;
        }
        here = hdr;
      } else {
        const virtio::NetHdrMrg h{};
        here = w.put(&h, hdr, raw, nullptr);
      }
    }
    here += rd.into(w, e, p);
    rec[nrec++] = UsedRec{c.head, c.ndesc, here};
    written += here;
    if (here == 0) break;  // mbuf shorter than its pkt_len: stop rather than drain the ring
    if (written >= need) break;
  }
  // num_buffers is little-endian (5.1.6).
  *nb[0] = static_cast<uint8_t>(nrec);
  *nb[1] = static_cast<uint8_t>(nrec >> 8);
  if constexpr (Eng::kAsync) {
    AsyncQueue& q = *v.aq;
    for (uint16_t i = 0; i < nrec; ++i) q.used_at(static_cast<uint16_t>(q.utail + i)) = rec[i];
    p->m = m;
    commit(q, *p, nrec);
    return Put::Held;
  } else {
    for (uint16_t i = 0; i < nrec; ++i) {
      c.head = rec[i].head;
      c.ndesc = rec[i].ndesc;
      dev.push_used(c, rec[i].len);
    }
    return Put::Sent;
  }
}

// With MRG_RXBUF: the common case (header and a one-segment frame fit the
// first writable piece of one chain) here, inline; the rest in put_mrg_slow.
template <class Eng, class Dev>
inline Put put_mrg(Vring& v, Dev& dev, ring::Chain& c, rte_mbuf* m, uint32_t hdr, Eng& e) {
  Pending* p = nullptr;
  if constexpr (Eng::kAsync) {
    if (!v.aq->room(kMaxBufsPerFrame + 1)) return Put::NoRoom;
    p = &v.aq->open();
  }
  const uint64_t need = uint64_t{hdr} + m->pkt_len;
  const ring::Cursor start = dev.save();
  const ring::Pop r = dev.pop(c);
  if (r != ring::Pop::Ok || !fits_one_piece(c, m, need)) return put_mrg_slow(v, dev, c, m, hdr, e, p, start, r);
  return put_one_piece(v, dev, c, m, hdr, e, p, static_cast<uint32_t>(need));
}

// Take the lines a chain's first piece starts with for writing: the header
// line and the frame's first line, which the frontend last read (its
// receive path). Issued for several chains before any is written, their
// ownership requests overlap instead of each waiting behind a copy.
inline void prefetch_for_write(const uint8_t* dst, uint32_t hdr) {
#if defined(__x86_64__) || defined(__i386__)
  // PREFETCHW (a NOP on CPUs without it); GCC emits it from
  // __builtin_prefetch only under -mprfchw, which our -march lacks.
  asm volatile("prefetchw %0" ::"m"(*dst));
  asm volatile("prefetchw %0" ::"m"(*(dst + hdr + 63)));
#else
  __builtin_prefetch(dst, 1);
  __builtin_prefetch(dst + hdr + 63, 1);
#endif
}

// What enqueue_burst does with an mbuf once a put consumed it (sent or
// dropped; held ones belong to their async record).
struct Consumed {
  uint16_t sent = 0, ndone = 0;
  uint64_t bytes = 0;
  rte_mbuf* done[kFreeBatch];  // freed in bulk
  void take(Vring& v, rte_mbuf* m, Put r) {
    if (r == Put::Held) return;
    if (r == Put::Sent) {
      ++sent;
      bytes += m->pkt_len;
    } else {
      ++v.st.dropped;
    }
    done[ndone++] = m;
    if (ndone == kFreeBatch) {
      free_mbufs(done, ndone);
      ndone = 0;
    }
  }
};

// Sync copies with MRG_RXBUF: pop up to kEnqueueAhead chains before
// copying into any, taking their first lines for writing as they are
// popped. A chain is popped ahead only while every chain before it takes
// its whole frame (one chain each, fits_one_piece), so chains pair with
// frames exactly as one at a time would; a chain that does not fit ends the
// group and goes to put_mrg_slow with its pop. Returns mbufs consumed.
template <class Dev, class Eng>
uint16_t enqueue_ahead(Vring& v, Dev& dev, rte_mbuf** pkts, uint16_t n, Eng& e, Consumed& out) {
  constexpr uint16_t K = kEnqueueAhead;
  const uint32_t hdr = v.hdr_len;
  uint16_t i = 0;
  while (i < n) {
    ring::Cursor at[K];
    ring::Pop pr[K];
    uint16_t k = 0;
    bool last_slow = false;
    while (k < K && i + k < n) {
      const rte_mbuf* m = pkts[i + k];
      if (m->pkt_len > kMaxFrame) break;  // dropped below, without a chain
      ring::Chain& c = v.chain[k];
      at[k] = dev.save();
      pr[k] = dev.pop(c);
      if (pr[k] != ring::Pop::Ok || !fits_one_piece(c, m, uint64_t{hdr} + m->pkt_len)) {
        last_slow = true;
        ++k;
        break;
      }
      prefetch_for_write(c.segs[c.nout].ptr, hdr);
      ++k;
    }
    if (k == 0) {
      out.take(v, pkts[i++], Put::Dropped);
      continue;
    }
    for (uint16_t j = 0; j < k; ++j, ++i) {
      rte_mbuf* m = pkts[i];
      const uint32_t need = hdr + m->pkt_len;
      const Put r = j + 1 == k && last_slow ? put_mrg_slow(v, dev, v.chain[j], m, hdr, e, nullptr, at[j], pr[j])
                                            : put_one_piece(v, dev, v.chain[j], m, hdr, e, nullptr, need);
      if (r == Put::NoRoom) return i;  // only the last of a group can run short
      out.take(v, m, r);
    }
  }
  return i;
}

// Enqueue: our transmitted mbufs land in the frontend's receive ring.
// Returns how many mbufs were consumed (sent, dropped or held until their
// copies complete).
template <class Dev, bool Mrg, class Eng = CpuCopy>
uint16_t enqueue_burst(Vring& v, rte_mbuf** pkts, uint16_t n) {
  Dev& dev = dev_of<Dev>(v);
  Eng e = engine_of<Eng>(v);
  if constexpr (Eng::kAsync) {
    e.poll();
    publish_done<Dev, false>(v, dev);
  }
  uint16_t i = 0;
  Consumed out;
  if constexpr (Mrg && !Eng::kAsync) {
    i = enqueue_ahead(v, dev, pkts, n, e, out);
  } else {
    ring::Chain& c = v.chain[0];
    const uint32_t hdr = v.hdr_len;
    for (; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      Put r = Put::Dropped;
      if (m->pkt_len <= kMaxFrame) r = Mrg ? put_mrg(v, dev, c, m, hdr, e) : put_one(v, dev, c, m, hdr, e);
      if (r == Put::NoRoom) break;
      out.take(v, m, r);
    }
  }
  if (out.ndone) free_mbufs(out.done, out.ndone);
  if constexpr (Eng::kAsync) {
    e.submit();
    e.poll();
    publish_done<Dev, false>(v, dev);
    note_inflight(v);
  }
  finish(v, dev);
  v.st.packets += out.sent;
  v.st.bytes += out.bytes;
  return i;
}

}  // namespace vnet::vhost
