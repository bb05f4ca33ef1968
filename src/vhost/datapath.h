// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's bursts, one template per (ring layout, mergeable, copy
// engine), picked when a ring is armed (arm_vring). Dequeue drains the
// frontend's transmit ring into mbufs (virtio-net header stripped,
// multi-segment for big frames); enqueue fills the frontend's receive ring
// behind a virtio-net header, spreading a frame over several buffers with
// MRG_RXBUF. Invariants: only pointers from validated chains are written;
// used entries are pushed in the order chains were popped; a chain we cannot
// use is either restored (not consumed) or returned used with length 0; no
// mbuf is leaked. The copy loops feed a completion sink (sink.h): CPU copies
// publish at once, DMA copies once they completed (async_queue.h); the loops
// do not know which. They pop small groups of chains before copying (as many
// as the sink allows), so the frames' cache lines move between the cores in
// parallel; a group never leaves a popped chain unconsumed.
#pragma once

#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "common/mbuf_free.h"
#include "vhost/async_queue.h"
#include "vhost/sink.h"
#include "vhost/vring.h"
#include "virtio/net_hdr.h"

namespace vnet::vhost {

inline constexpr uint32_t kMaxFrame = 65535 + 14;  // no TSO offered: nothing bigger is valid
inline constexpr uint16_t kMaxBufsPerFrame = 64;   // mergeable: buffers one frame may take

using SplitDev = ring::SplitDevice<Mem>;
using PackedDev = ring::PackedDevice<Mem>;

template <class Dev>
Dev& dev_of(Vring& v) {
  return v.dq.template as<Dev>();
}

// The sink a burst of ring type Dev over copy engine Eng feeds.
template <class Dev, class Eng, bool Deq>
struct SinkOf;
template <class Dev, bool Deq>
struct SinkOf<Dev, CpuCopy, Deq> {
  using type = CpuSink<Dev>;
  static type make(Vring& v) { return type{dev_of<Dev>(v), CpuCopy{v.cs}}; }
};
template <class Dev, class Api, bool Deq>
struct SinkOf<Dev, DmaCopy<Api>, Deq> {
  using type = AsyncSink<Dev, Api, Deq>;
  static type make(Vring& v) { return type{dev_of<Dev>(v), v, *v.aq, DmaCopy<Api>{v.cs, *v.aq->ch, v.aq->threshold}}; }
};

// The device ring a sink feeds.
template <class Sink>
using DevOf = std::remove_reference_t<decltype(std::declval<Sink&>().dev)>;

// Groups start with four chains popped at once (pop4) where the ring has
// it (packed); the sink's room() is asked first (the CPU sink's never runs
// out; the async one keeps room for a whole group).
template <class Sink>
inline constexpr bool kPop4 = requires(DevOf<Sink>& d, ring::Chain* c) {
  { d.pop4(c) } -> std::same_as<bool>;
};

// Where chain i of a pop4() that started at `first` began.
inline ring::Cursor nth_of4(ring::Cursor first, uint16_t i) {
  return ring::Cursor{static_cast<uint16_t>(first.idx + i), first.wrap};
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

// Readable part of a chain (minus `skip` header bytes) into `head`, through
// copy engine `e` (a sink's `eng`).
template <class Eng>
void fill_mbuf(rte_mbuf* head, const ring::Chain& c, uint32_t skip, Eng& e, Pending* p) {
  rte_mbuf* cur = head;
  uint32_t total = 0;
  for (uint16_t i = 0; i < c.nout; ++i) {
    const uint8_t* src = c.segs[i].ptr;
    uint32_t len = c.segs[i].len;
    const uint32_t sk = std::min(skip, len);
    src += sk;
    len -= sk;
    skip -= sk;
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

// A popped frame (past its `hdr` header bytes) into its mbuf.
template <class Sink>
[[gnu::always_inline]] inline void copy_frame(rte_mbuf* m, const ring::Chain& c, uint32_t hdr, Sink& s, Pending* p) {
  if (c.nout == 1 && m->next == nullptr) {  // header and frame in one piece, one mbuf holds it
    const uint32_t len = c.out_len - hdr;
    s.copy(rte_pktmbuf_mtod(m, uint8_t*), c.segs[0].ptr + hdr, len, p);
    m->data_len = static_cast<uint16_t>(len);
    m->pkt_len = len;
  } else {
    fill_mbuf(m, c, hdr, s.eng, p);
  }
}

// A transmit chain dequeue cannot turn into a frame: invalid, no byte past
// the header, or bigger than any valid frame. It is returned unused.
inline bool unusable_tx(ring::Pop r, const ring::Chain& c, uint32_t hdr) {
  // unsigned: out_len <= hdr wraps far above kMaxFrame
  return r == ring::Pop::Dropped || c.out_len - hdr - 1 >= kMaxFrame;
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
// The chain is usable (!unusable_tx): more than `hdr` readable bytes, so a
// first piece no longer than the header has a second one after it.
inline void prefetch_frame(const ring::Chain& c, uint32_t hdr) {
  const uint8_t* src = c.segs[0].len > hdr ? c.segs[0].ptr + hdr : c.segs[1].ptr;
  rte_prefetch0(src);
  rte_prefetch0(src + 64);
}

// Dequeue up to `n` chains in groups of up to the sink's kDequeueAhead:
// pop each, give it its mbuf and prefetch its frame's first lines, then
// copy the group, so the frames' lines travel from the frontend's core
// together rather than one copy at a time. A chain is popped only while the
// burst has room for it, and only after the previous one got its mbuf: a
// shortage restores just the chain it hit, so nothing popped is left over.
// Invalid chains keep their place in the group and are returned in ring
// order. Returns the frames taken; those the sink sent at once are
// out[0, sink.sent(taken)), with their bytes added to `bytes`.
template <class S>
uint16_t dequeue_chains(Vring& v, rte_mbuf** out, uint16_t n, uint64_t& bytes) {
  using Sink = typename S::type;
  constexpr uint16_t K = Sink::kDequeueAhead;
  static_assert(K <= Vring::kPopAhead);
  Sink s = S::make(v);
  auto& dev = s.dev;
  const uint32_t hdr = v.hdr_len;
  uint16_t taken = 0;
  bool more = true;
  while (more && taken < n) {
    rte_mbuf* ms[K];  // nullptr: an invalid chain, returned unused
    uint16_t k = 0, valid = 0;
    uint16_t batch = 0;  // v.chain[0, batch) came from one pop4() that started at `first`
    ring::Cursor first{};
    if constexpr (kPop4<Sink> && K == 4) {
      if (n - taken >= K && s.room(1)) {
        first = dev.save();
        if (dev.pop4(v.chain)) batch = 4;
      }
    }
    while (k < K && taken + valid < n) {
      ring::Chain& c = v.chain[k];
      ring::Cursor pos;
      ring::Pop r = ring::Pop::Ok;
      if (k < batch) {
        pos = nth_of4(first, k);
      } else {
        if (!s.room(1)) {
          more = false;
          break;
        }
        pos = dev.save();
        if constexpr (kPop4<Sink> && K == 4)
          if (k > 0 && (pos.idx & 3) == 0) break;  // the next group starts on a line: it may pop4
        r = dev.pop(c);
        if (r == ring::Pop::Empty || r == ring::Pop::Broken) {
          more = false;
          break;
        }
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
        s.give_back(c.head, c.ndesc);
        ++v.st.dropped;
        continue;
      }
      m->port = v.port_id;
      Pending* p = s.open();
      copy_frame(m, c, hdr, s, p);
      const UsedRec u{c.head, c.ndesc, 0};
      if (s.complete(p, &u, 1, m, false) == Put::Sent) {
        bytes += m->pkt_len;
        out[taken] = m;
      }
      ++taken;
    }
  }
  return taken;
}

// Dequeue: what the frontend transmitted becomes our received mbufs.
template <class Dev, class Eng = CpuCopy>
uint16_t dequeue_burst(Vring& v, rte_mbuf** pkts, uint16_t n) {
  using S = SinkOf<Dev, Eng, true>;
  typename S::type s = S::make(v);
  s.begin();
  uint16_t got = s.deliver(pkts, n);
  uint64_t bytes = 0;
  const uint16_t sent = s.sent(dequeue_chains<S>(v, pkts + got, n, bytes));
  v.st.packets += sent;
  v.st.bytes += bytes;
  got = static_cast<uint16_t>(got + sent);
  s.end();
  got = static_cast<uint16_t>(got + s.deliver(pkts + got, static_cast<uint16_t>(n - got)));
  finish(v, s.dev);
  return got;
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

// The common receive case: the chain holds `need` writable bytes and its
// first writable piece takes the header and a one-segment frame.
inline bool fits_one_piece(const ring::Chain& c, const rte_mbuf* m, uint64_t need) {
  return c.in_len >= need && m->next == nullptr && m->data_len == m->pkt_len &&
         c.segs[c.nout].len >= need;  // in_len >= need > 0: a writable piece exists
}

// Fill such a chain (num_buffers 1); the packet is complete.
template <class Sink>
inline Put put_one_piece(Sink& s, const ring::Chain& c, rte_mbuf* m, uint32_t hdr, Pending* p, uint32_t need) {
  uint8_t* dst = c.segs[c.nout].ptr;
  write_hdr(dst, hdr, 1);
  s.copy(dst + hdr, rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, p);
  const UsedRec u{c.head, c.ndesc, need};
  return s.complete(p, &u, 1, m, false);
}

// Without MRG_RXBUF: one chain per frame, header then data.
template <class Sink>
Put put_one(Vring& v, Sink& s, ring::Chain& c, rte_mbuf* m, uint32_t hdr) {
  auto& dev = s.dev;
  const uint64_t need = uint64_t{hdr} + m->pkt_len;
  RawCopy raw;
  for (;;) {
    if (!s.room(1)) return Put::NoRoom;
    const ring::Cursor pos = dev.save();
    const ring::Pop r = dev.pop(c);
    if (r == ring::Pop::Empty || r == ring::Pop::Broken) return Put::NoRoom;
    if (r == ring::Pop::Dropped || c.in_len < hdr) {
      s.give_back(c.head, c.ndesc);  // the frontend's bad buffer goes back to it, empty
      ++v.st.bad_chains;
      continue;
    }
    if (c.in_len < need) {
      dev.restore(pos);  // keep the buffer for a frame that fits
      return Put::Dropped;
    }
    Pending* p = s.open();
    if (fits_one_piece(c, m, need)) return put_one_piece(s, c, m, hdr, p, static_cast<uint32_t>(need));
    virtio::NetHdrMrg h{};
    h.num_buffers.set(1);
    SegWriter w(c);
    w.put(&h, hdr, raw, nullptr);
    MbufReader rd{m};
    rd.into(w, s, p);
    const UsedRec u{c.head, c.ndesc, static_cast<uint32_t>(need)};
    return s.complete(p, &u, 1, m, false);
  }
}

// A mergeable frame being spread over chains: the used entries it will
// push, where its num_buffers field is, and how far its mbuf has been read.
struct MrgFrame {
  UsedRec rec[kMaxBufsPerFrame];  // rec[0, nrec) only
  uint16_t nrec = 0;
  uint64_t written = 0;
  uint8_t* nb[2] = {nullptr, nullptr};
  MbufReader rd;
  explicit MrgFrame(const rte_mbuf* m) : rd{m} {}
};

// The frame's first buffer starts with a header whose num_buffers (0 for
// now) is set once the frame is complete. Returns the header bytes written.
inline uint32_t mrg_header(MrgFrame& f, SegWriter& w, const ring::Chain& c, uint32_t hdr) {
  f.nb[0] = w.peek(offsetof(virtio::NetHdrMrg, num_buffers));
  f.nb[1] = w.peek(offsetof(virtio::NetHdrMrg, num_buffers) + 1);
  if (c.segs[c.nout].len >= hdr) {
    write_hdr(c.segs[c.nout].ptr, hdr, 0);
    w.off = hdr;
    if (w.off == w.s->len) {
      ++w.s;
      w.off = 0;
    }
    return hdr;
  }
  const virtio::NetHdrMrg h{};
  RawCopy raw;
  return w.put(&h, hdr, raw, nullptr);
}

// The next part of the frame into chain c (a valid buffer of at least a
// header). False once the frame is complete, or its mbuf ran out before
// pkt_len (stop rather than drain the ring).
template <class Sink>
bool mrg_fill(MrgFrame& f, const ring::Chain& c, uint32_t hdr, uint64_t need, Sink& s, Pending* p) {
  SegWriter w(c);
  uint32_t here = f.nrec == 0 ? mrg_header(f, w, c, hdr) : 0;
  here += f.rd.into(w, s, p);
  f.rec[f.nrec++] = UsedRec{c.head, c.ndesc, here};
  f.written += here;
  return here != 0 && f.written < need;
}

// With MRG_RXBUF, the general case: as many chains as the frame needs;
// num_buffers set last. `r` is the pop the caller already did (from
// `start`), `p` the packet's record.
template <class Sink>
[[gnu::noinline]] Put put_mrg_slow(Vring& v, Sink s, ring::Chain& c, rte_mbuf* m, uint32_t hdr, Pending* p,
                                   ring::Cursor start, ring::Pop r) {
  auto& dev = s.dev;
  const uint64_t need = uint64_t{hdr} + m->pkt_len;
  MrgFrame f(m);
  for (;; r = dev.pop(c)) {  // need > 0: at least one chain
    if (r == ring::Pop::Empty || r == ring::Pop::Broken) {
      dev.restore(start);  // nothing of this frame was pushed: retry next burst
      s.abandon(p);
      return Put::NoRoom;
    }
    if (r == ring::Pop::Dropped || c.in_len < hdr) {  // 5.1.6.3.1: each buffer holds at least a header
      ++v.st.bad_chains;
      if (f.nrec > 0) {
        // Mid-frame: return every buffer of the frame empty; the frame is lost.
        f.rec[f.nrec++] = UsedRec{c.head, c.ndesc, 0};
        return s.complete(p, f.rec, f.nrec, m, true);
      }
      if (!s.give_back_first(c, p, kMaxBufsPerFrame + 1)) return Put::NoRoom;
      start = dev.save();
      continue;
    }
    if (f.nrec == kMaxBufsPerFrame) {
      dev.restore(start);
      s.abandon(p);
      return Put::Dropped;
    }
    if (!mrg_fill(f, c, hdr, need, s, p)) break;
  }
  // num_buffers is little-endian (5.1.6).
  *f.nb[0] = static_cast<uint8_t>(f.nrec);
  *f.nb[1] = static_cast<uint8_t>(f.nrec >> 8);
  return s.complete(p, f.rec, f.nrec, m, false);
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
// dropped; held ones belong to their async record). Collect: some may be
// held (async sinks), so the others are collected to be freed; without
// holds the consumed mbufs are the burst's first ones, freed from there.
template <bool Collect>
struct Consumed {
  uint16_t sent = 0, ndone = 0;
  uint64_t bytes = 0;
  rte_mbuf* done[Collect ? kFreeBatch : 1];  // freed in bulk
  void take(Vring& v, rte_mbuf* m, Put r) {
    if (r == Put::Held) return;
    if (r == Put::Sent) {
      ++sent;
      bytes += m->pkt_len;
    } else {
      ++v.st.dropped;
    }
    if constexpr (Collect) {
      done[ndone++] = m;
      if (ndone == kFreeBatch) {
        free_mbufs(done, ndone);
        ndone = 0;
      }
    }
  }
  // The end of a burst that consumed pkts[0, n).
  void free_rest(rte_mbuf** pkts, uint16_t n) {
    if constexpr (Collect) {
      if (ndone) free_mbufs(done, ndone);
    } else {
      free_mbufs(pkts, n);
    }
  }
};

// The batched start of a mergeable enqueue group at v.chain[k] (kPop4
// sinks): four chains from one pop4() for the frames pkts[0..3] (none too
// big), each checked in order as the one-at-a-time loop checks it. Returns
// the chains the group took: 0 (no batch, nothing popped), 4 (all fit), or
// j + 1 when chain j does not fit (`slow`: it goes to put_mrg_slow with its
// pop; the ones after it go back to the ring). Fills at/pr from k.
template <class Sink>
[[gnu::always_inline]] inline uint16_t pop4_fitting(Vring& v, Sink& s, uint16_t k, rte_mbuf* const* pkts, uint32_t hdr,
                                                    ring::Cursor* at, ring::Pop* pr, bool& slow) {
  for (uint16_t j = 0; j < 4; ++j)
    if (pkts[j]->pkt_len > kMaxFrame) return 0;
  auto& dev = s.dev;
  const ring::Cursor first = dev.save();
  if (!dev.pop4(&v.chain[k])) return 0;
  for (uint16_t j = 0; j < 4; ++j) {
    const ring::Chain& c = v.chain[k + j];
    at[k + j] = nth_of4(first, j);
    pr[k + j] = ring::Pop::Ok;
    if (!fits_one_piece(c, pkts[j], uint64_t{hdr} + pkts[j]->pkt_len)) {
      if (j < 3) dev.restore(nth_of4(first, static_cast<uint16_t>(j + 1)));
      slow = true;
      return static_cast<uint16_t>(j + 1);
    }
    prefetch_for_write(c.segs[c.nout].ptr, hdr);
  }
  return 4;
}

// With MRG_RXBUF: pop up to the sink's kEnqueueAhead chains before copying
// into any, taking their first lines for writing as they are popped. A
// chain is popped ahead only while every chain before it takes its whole
// frame (one chain each, fits_one_piece), so chains pair with frames exactly
// as one at a time would; a chain that does not fit ends the group and goes
// to put_mrg_slow with its pop. Returns mbufs consumed.
template <class Sink, class Out>
uint16_t enqueue_mrg(Vring& v, Sink s, rte_mbuf** pkts, uint16_t n, Out& out) {
  constexpr uint16_t K = Sink::kEnqueueAhead;
  static_assert(K <= Vring::kPopAhead);
  auto& dev = s.dev;
  const uint32_t hdr = v.hdr_len;
  uint16_t i = 0;
  while (i < n) {
    ring::Cursor at[K];
    ring::Pop pr[K];
    uint16_t k = 0;
    bool last_slow = false;
    while (k < K && i + k < n) {
      if constexpr (kPop4<Sink>) {
        if (k + 4 <= K && n - i - k >= 4 && s.room(kMaxBufsPerFrame + 1)) {
          const uint16_t got = pop4_fitting(v, s, k, pkts + i + k, hdr, at, pr, last_slow);
          k = static_cast<uint16_t>(k + got);
          if (last_slow) break;
          if (got) continue;
        }
      }
      const rte_mbuf* m = pkts[i + k];
      if (m->pkt_len > kMaxFrame) break;  // dropped below, without a chain
      if (!s.room(kMaxBufsPerFrame + 1)) {
        if (k == 0) return i;  // nothing popped: the sink is full
        break;
      }
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
      Pending* p = s.open();
      const Put r = j + 1 == k && last_slow ? put_mrg_slow(v, s, v.chain[j], m, hdr, p, at[j], pr[j])
                                            : put_one_piece(s, v.chain[j], m, hdr, p, need);
      if (r == Put::NoRoom) return i;  // only the last of a group can run short
      out.take(v, m, r);
    }
  }
  return i;
}

// Without MRG_RXBUF: frame by frame. Returns mbufs consumed.
template <class Sink, class Out>
uint16_t enqueue_each(Vring& v, Sink s, rte_mbuf** pkts, uint16_t n, Out& out) {
  ring::Chain& c = v.chain[0];
  const uint32_t hdr = v.hdr_len;
  uint16_t i = 0;
  for (; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    Put r = Put::Dropped;
    if (m->pkt_len <= kMaxFrame) r = put_one(v, s, c, m, hdr);
    if (r == Put::NoRoom) break;
    out.take(v, m, r);
  }
  return i;
}

// Enqueue: our transmitted mbufs land in the frontend's receive ring.
// Returns how many mbufs were consumed (sent, dropped or held until their
// copies complete).
template <class Dev, bool Mrg, class Eng = CpuCopy>
uint16_t enqueue_burst(Vring& v, rte_mbuf** pkts, uint16_t n) {
  using S = SinkOf<Dev, Eng, false>;
  typename S::type s = S::make(v);
  s.begin();
  Consumed<Eng::kAsync> out;
  uint16_t i;
  if constexpr (Mrg)
    i = enqueue_mrg(v, s, pkts, n, out);
  else
    i = enqueue_each(v, s, pkts, n, out);
  out.free_rest(pkts, i);
  s.end();
  finish(v, s.dev);
  v.st.packets += out.sent;
  v.st.bytes += out.bytes;
  return i;
}

}  // namespace vnet::vhost
