// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// libFuzzer target: the backend's data path (vhost/datapath.h:
// enqueue_burst and dequeue_burst over split and packed rings, mergeable on
// and off, CPU copies or a fake dmadev on one channel) against a hostile
// guest. Input format: burst_fuzz.h. Guest memory is an arena the rings map
// through their guest-address table; the input writes descriptors, avail
// rings, flags and bytes in it, and runs bursts in both directions between.
// Needs mbufs, so EAL runs once (--no-huge, no PCI, no shared config).
//
// Checked beyond ASan/UBSan:
//  - a burst consumes / returns at most what it was asked; every frame it
//    returns is a sane mbuf chain of 1..kMaxFrame bytes from our port;
//  - counters: dequeue's packets grow by what it returned; enqueue's
//    packets + dropped by what it consumed (CPU: per burst; DMA: once the
//    copies completed, at the end);
//  - dequeue never writes guest memory except its own ring's used side;
//  - the async queue never holds more than its capacity; no copy is
//    abandoned (the fake always completes in the end);
//  - at the end of each input, once both rings are settled and discarded and
//    the frames the bursts returned are freed, every mbuf is back in the pool.
#include <rte_eal.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "burst_fuzz.h"
#include "vhost/datapath.h"
#include "vhost/settle.h"

namespace {

using namespace vnet;
using namespace vnet::vhost;
using namespace vnet::fuzz;
using namespace vnet::fuzz::burst_in;

bool g_log = false;
rte_mempool* g_pool = nullptr;
int g_call_fd = -1;  // the rings' call eventfd (finish() writes it)
constexpr unsigned kPoolSize = 1023;
constexpr uint16_t kPort = 7;

#define LOG(...)                                  \
  do {                                            \
    if (g_log) std::fprintf(stderr, __VA_ARGS__); \
  } while (0)

// ---- a dmadev whose completions the input paces ------------------------------
// Copies land when they complete (as on hardware), in submission order;
// `per_poll` completions per completed() call; a chosen op fails.
struct FakeDma {
  struct Op {
    const void* src;
    void* dst;
    uint32_t len;
  };
  static inline std::deque<Op> ops;  // accepted, not completed; the front has ring index `done`
  static inline uint16_t next = 0, done = 0;
  static inline size_t capacity = 256;
  static inline unsigned per_poll = kDmaAll;  // 0: nothing completes; kDmaAll: everything
  static inline int fail_at = -1;             // ring index of an op that fails
  static inline uint64_t stops = 0;

  static void reset(size_t cap) {
    ops.clear();
    next = done = 0;
    capacity = cap;
    per_poll = kDmaAll;
    fail_at = -1;
    stops = 0;
  }
  static unsigned budget() { return per_poll == kDmaAll ? UINT32_MAX : per_poll; }
  static int copy(int16_t, uint16_t, const void* src, void* dst, uint32_t len, uint64_t) {
    if (ops.size() >= capacity) return -ENOSPC;
    ops.push_back(Op{src, dst, len});
    return next++;
  }
  static void submit(int16_t, uint16_t) {}
  static uint16_t completed(int16_t, uint16_t, uint16_t n, uint16_t* last, bool* err) {
    uint16_t k = 0;
    unsigned b = budget();
    *err = false;
    while (k < n && b > 0 && !ops.empty()) {
      if (fail_at == done) {
        *err = true;
        break;
      }
      std::memcpy(ops.front().dst, ops.front().src, ops.front().len);
      ops.pop_front();
      ++done, ++k, --b;
    }
    *last = static_cast<uint16_t>(done - 1);
    return k;
  }
  static uint16_t completed_status(int16_t, uint16_t, uint16_t n, uint16_t* last, rte_dma_status_code* st) {
    uint16_t k = 0;
    unsigned b = budget();
    while (k < n && (b > 0 || fail_at == done) && !ops.empty()) {
      const bool f = fail_at == done;
      if (!f) std::memcpy(ops.front().dst, ops.front().src, ops.front().len);
      st[k++] = f ? RTE_DMA_STATUS_DATA_POISION : RTE_DMA_STATUS_SUCCESSFUL;
      if (f) fail_at = -1;
      ops.pop_front();
      ++done;
      if (b > 0) --b;
    }
    *last = static_cast<uint16_t>(done - 1);
    return k;
  }
  static void stop(int16_t) {
    ++stops;
    ops.clear();
  }
  // Any copy still to land inside [lo, hi)?
  static bool lands_in(const uint8_t* lo, const uint8_t* hi) {
    for (const Op& o : ops)
      if (static_cast<const uint8_t*>(o.dst) < hi && static_cast<const uint8_t*>(o.dst) + o.len > lo) return true;
    return false;
  }
};
using Dma = DmaCopy<FakeDma>;

// ---- one ring, both the backend's Vring and the guest driver's cursor --------
struct Ring {
  std::unique_ptr<Vring> v{new Vring};
  std::unique_ptr<AsyncQueue> aq;
  bool rx = false;  // enqueue side (the guest's receive queue)
  uint8_t* mem = nullptr;
  Vring::Burst burst = nullptr;
  Vring::Settle settle = nullptr;
  // Guest driver: next avail index (split) / slot and wrap counter (packed),
  // next descriptor slot to fill (split), next indirect table.
  uint16_t avail_idx = 0;
  uint16_t slot = 0;
  bool wrap = true;
  uint32_t ind = 0;
  uint64_t total = 0;  // frames consumed (Rx) or returned (Tx)
  VringStats st0;      // counters when the input started
};

struct Run {
  Header h;
  Geometry geo;
  ring::Arena arena;
  GuestMap map;
  uint8_t* dbuf;
  DmaChan ch;
  Ring rx, tx;
  std::vector<rte_mbuf*> kept;  // frames from dequeue bursts, freed by kFree or at the end
  Run(const Header& hd)
      : h(hd),
        geo(hd.feat & kPacked, hd.size_sel),
        arena(geo.arena_bytes),
        map(arena, static_cast<MemMode>(hd.feat >> kMemShift)),
        dbuf(arena.base() + geo.data_off) {}
  Ring& ring(uint8_t sel) { return sel & 1 ? tx : rx; }
};

template <bool Packed>
using DevOf = std::conditional_t<Packed, PackedDev, SplitDev>;

template <bool Packed>
void arm(Run& r, Ring& g, uint16_t base) {
  Vring& v = *g.v;
  const uint32_t n = r.geo.n;
  ring::DeviceConfig c;
  c.layout = Packed ? ring::Layout::Packed : ring::Layout::Split;
  c.size = n;
  c.indirect = r.h.feat & kIndirect;
  c.event_idx = r.h.feat & kEventIdx;
  c.in_order = r.h.feat & kInOrder;
  c.read_only = !g.rx;
  if constexpr (Packed) {
    const auto l = virtio::PackedLayout::make(n);
    c.desc = g.mem + l.desc_off;
    c.avail = g.mem + l.driver_event_off;
    c.used = g.mem + l.device_event_off;
    g.slot = static_cast<uint16_t>((base & 0x7fff) % n);
    g.wrap = base & 0x8000;
    c.avail_base = c.used_base = g.slot;
    c.avail_wrap = c.used_wrap = g.wrap;
  } else {
    const auto l = virtio::SplitLayout::make(n);
    c.desc = g.mem + l.desc_off;
    c.avail = g.mem + l.avail_off;
    c.used = g.mem + l.used_off;
    c.avail_base = c.used_base = base;
    g.avail_idx = base;
    static_cast<virtio::SplitAvailHdr*>(c.avail)->idx.set(base);  // nothing pending
  }
  fold_ring_errors(v);
  VNET_FUZZ_CHECK(v.dq.init(c, &v.mem) == 0, "device init (n %u)", n);
  v.dq.disable_kicks();
}

template <bool Packed>
void setup(Run& r, Ring& g, bool rx) {
  using Dev = DevOf<Packed>;
  g.rx = rx;
  g.mem = r.arena.base() + (rx ? r.geo.rx_off : r.geo.tx_off);
  Vring& v = *g.v;
  v.mem = r.arena.mem();
  const bool mrg = r.h.feat & kMrg;
  v.hdr_len = mrg || (r.h.feat & kHdr12) ? 12 : 10;
  v.port_id = kPort;
  v.call_fd = g_call_fd;
  v.mp = g_pool;
  const bool dma = r.h.engine & (rx ? kRxDma : kTxDma);
  if (dma) {
    g.aq.reset(new AsyncQueue());
    g.aq->ch = &r.ch;
    g.aq->threshold = threshold(r.h.engine);
    v.aq = g.aq.get();
    r.ch.rings[r.ch.nrings++] = &v;
    v.publish = rx ? &publish_hook<Dev, false> : &publish_hook<Dev, true>;
    g.settle = rx ? &vhost::settle<Dev, FakeDma, false> : &vhost::settle<Dev, FakeDma, true>;
    g.burst = rx ? (mrg ? &enqueue_burst<Dev, true, Dma> : &enqueue_burst<Dev, false, Dma>) : &dequeue_burst<Dev, Dma>;
  } else {
    g.burst = rx ? (mrg ? &enqueue_burst<Dev, true, CpuCopy> : &enqueue_burst<Dev, false, CpuCopy>)
                 : &dequeue_burst<Dev, CpuCopy>;
  }
  arm<Packed>(r, g, rx ? r.h.rx_base : r.h.tx_base);
  g.st0 = v.st;
  v.gate.open();
}

// ---- the guest driver ---------------------------------------------------------

uint16_t avail_bits(bool wrap) { return wrap ? virtio::DESC_F_AVAIL : virtio::DESC_F_USED; }

// Split: the head goes into the avail ring; published, avail idx moves on.
void publish_split(Run& r, Ring& g, uint16_t head, bool publish) {
  const uint32_t n = r.geo.n;
  auto* hdr = reinterpret_cast<virtio::SplitAvailHdr*>(g.mem + virtio::SplitLayout::make(n).avail_off);
  reinterpret_cast<virtio::le16*>(hdr + 1)[g.avail_idx % n].set(head);
  if (publish) hdr->idx.set(++g.avail_idx);
}

// A chain the way a driver adds one (kChain).
template <bool Packed>
void add_chain(Run& r, Ring& g, Reader& in) {
  const uint8_t spec = in.u8();
  const unsigned nseg = (spec & 3u) + 1, nw = std::min((spec >> 2) & 3u, nseg);
  struct Seg {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
  } s[4];
  for (unsigned i = 0; i < nseg; ++i) {
    const uint16_t off = static_cast<uint16_t>(in.u16() % Geometry::kBufBytes);
    s[i].addr = r.map.guest_of(r.dbuf + off);
    s[i].len = in.u16();
    const bool w = spec & kChainBadOrder ? i < nw : i >= nseg - nw;
    s[i].flags = w ? virtio::DESC_F_WRITE : 0;
  }
  const uint32_t n = r.geo.n;
  const bool publish = !(spec & kChainNoPublish);
  uint8_t* desc = g.mem;  // the descriptor table starts both layouts
  if (spec & kChainIndirect) {
    uint8_t* table =
        r.dbuf + Geometry::kBufBytes + (g.ind++ % (Geometry::kIndBytes / Geometry::kIndSlot)) * Geometry::kIndSlot;
    for (unsigned i = 0; i < nseg; ++i) {
      if constexpr (Packed)
        put_packed(table + 16 * i, s[i].addr, s[i].len, 0, s[i].flags);
      else
        put_split(table + 16 * i, s[i].addr, s[i].len,
                  static_cast<uint16_t>(s[i].flags | (i + 1 < nseg ? virtio::DESC_F_NEXT : 0)),
                  static_cast<uint16_t>(i + 1));
    }
    const uint64_t taddr = r.map.guest_of(table);
    const uint32_t tlen = 16 * nseg;
    if constexpr (Packed) {
      const uint16_t head = g.slot;
      put_packed(desc + 16 * head, taddr, tlen, head,
                 static_cast<uint16_t>(virtio::DESC_F_INDIRECT | avail_bits(publish ? g.wrap : !g.wrap)));
      if (publish && ++g.slot == n) g.slot = 0, g.wrap = !g.wrap;
    } else {
      const uint16_t head = static_cast<uint16_t>(g.slot % n);
      put_split(desc + 16 * head, taddr, tlen, virtio::DESC_F_INDIRECT, 0);
      ++g.slot;
      publish_split(r, g, head, publish);
    }
    return;
  }
  if constexpr (Packed) {
    // Every slot after the head first, then the head: the chain appears at once.
    const uint16_t head = g.slot;
    const bool head_wrap = g.wrap;
    uint16_t slot = g.slot;
    bool wrap = g.wrap;
    for (unsigned i = 0; i < nseg; ++i) {
      const uint16_t f = static_cast<uint16_t>(s[i].flags | (i + 1 < nseg ? virtio::DESC_F_NEXT : 0));
      if (i > 0) put_packed(desc + 16 * slot, s[i].addr, s[i].len, head, static_cast<uint16_t>(f | avail_bits(wrap)));
      if (++slot == n) slot = 0, wrap = !wrap;
    }
    const uint16_t f0 = static_cast<uint16_t>(s[0].flags | (nseg > 1 ? virtio::DESC_F_NEXT : 0));
    put_packed(desc + 16 * head, s[0].addr, s[0].len, head,
               static_cast<uint16_t>(f0 | (publish ? avail_bits(head_wrap) : avail_bits(!head_wrap))));
    if (publish) g.slot = slot, g.wrap = wrap;
  } else {
    const uint16_t head = static_cast<uint16_t>(g.slot % n);
    for (unsigned i = 0; i < nseg; ++i) {
      const uint16_t at = static_cast<uint16_t>((g.slot + i) % n), nx = static_cast<uint16_t>((g.slot + i + 1) % n);
      put_split(desc + 16 * at, s[i].addr, s[i].len,
                static_cast<uint16_t>(s[i].flags | (i + 1 < nseg ? virtio::DESC_F_NEXT : 0)), nx);
    }
    g.slot = static_cast<uint16_t>(g.slot + nseg);
    publish_split(r, g, head, publish);
  }
}

// A raw descriptor anywhere in a ring (kDesc).
void raw_desc(Run& r, Ring& g, Reader& in) {
  const uint8_t slot = in.u8();
  const uint64_t addr = r.map.reloc(in.u64(), r.dbuf, Geometry::kDataBytes);
  const uint32_t len = in.u32();
  const uint16_t flags = in.u16(), nx = in.u16();
  uint8_t* at = g.mem + 16 * (slot % r.geo.n);
  if (r.geo.packed)
    put_packed(at, addr, len, nx, flags);
  else
    put_split(at, addr, len, flags, nx);
}

// ---- bursts ---------------------------------------------------------------------

// A frame of `len` bytes in mbufs of `seg` bytes each; nullptr when the pool is short.
rte_mbuf* make_frame(uint32_t seq, uint32_t len, uint16_t seg) {
  rte_mbuf* head = rte_pktmbuf_alloc(g_pool);
  if (!head) return nullptr;
  rte_mbuf* cur = head;
  for (uint32_t i = 0; i < len;) {
    if (cur->data_len == seg || rte_pktmbuf_tailroom(cur) == 0) {
      rte_mbuf* nx = rte_pktmbuf_alloc(g_pool);
      if (!nx) {
        rte_pktmbuf_free(head);
        return nullptr;
      }
      cur->next = nx;
      cur = nx;
      ++head->nb_segs;
    }
    const uint32_t k =
        std::min<uint32_t>({len - i, uint32_t{seg} - cur->data_len, uint32_t{rte_pktmbuf_tailroom(cur)}});
    std::memset(rte_pktmbuf_mtod_offset(cur, uint8_t*, cur->data_len), static_cast<uint8_t>(seq), k);
    cur->data_len = static_cast<uint16_t>(cur->data_len + k);
    i += k;
  }
  head->pkt_len = len;
  return head;
}

void check_queue(const Ring& g) {
  if (!g.aq) return;
  VNET_FUZZ_CHECK(
      g.aq->held() <= AsyncQueue::kPkts && static_cast<uint16_t>(g.aq->utail - g.aq->uhead) <= AsyncQueue::kUsed,
      "async queue holds %u packets, %u used records", g.aq->held(), static_cast<uint16_t>(g.aq->utail - g.aq->uhead));
}

void enqueue(Run& r, Reader& in, uint32_t& seq) {
  Ring& g = r.rx;
  const uint16_t count = in.u8() % 33;
  const uint16_t len0 = in.u16();
  const uint8_t shape = in.u8();
  rte_mbuf* pkts[32];
  uint16_t n = 0;
  for (; n < count; ++n) {
    uint32_t len = (len0 + (shape & kShapeGrow ? 61u * n : 0u)) % (kMaxLen + 1);
    if (n == 0 && (shape & kShapeHuge)) len = kMaxFrame + (shape & kShapeOver ? 1 : 0);
    rte_mbuf* m = make_frame(seq++, len, seg_bytes(shape));
    if (!m) break;
    pkts[n] = m;
  }
  const VringStats st = g.v->st;
  const uint16_t got = g.burst(*g.v, pkts, n);
  LOG("bursts: enqueue %u (asked %u) -> %u; packets %lu dropped %lu bad %lu\n", n, count, got,
      static_cast<unsigned long>(g.v->st.packets - st.packets),
      static_cast<unsigned long>(g.v->st.dropped - st.dropped),
      static_cast<unsigned long>(g.v->st.bad_chains - st.bad_chains));
  VNET_FUZZ_CHECK(got <= n, "enqueue consumed %u of %u", got, n);
  if (!g.aq)
    VNET_FUZZ_CHECK(g.v->st.packets - st.packets + (g.v->st.dropped - st.dropped) == got,
                    "enqueue consumed %u, but %lu sent + %lu dropped", got,
                    static_cast<unsigned long>(g.v->st.packets - st.packets),
                    static_cast<unsigned long>(g.v->st.dropped - st.dropped));
  g.total += got;
  for (uint16_t i = got; i < n; ++i) rte_pktmbuf_free(pkts[i]);  // not consumed: still ours
  check_queue(g);
}

void check_frame(const rte_mbuf* m) {
  const char* why = nullptr;
  VNET_FUZZ_CHECK(rte_mbuf_check(m, 1, &why) == 0, "bad mbuf: %s", why);
  VNET_FUZZ_CHECK(m->pkt_len >= 1 && m->pkt_len <= kMaxFrame, "frame of %u bytes", m->pkt_len);
  VNET_FUZZ_CHECK(m->port == kPort, "frame from port %u", m->port);
  VNET_FUZZ_CHECK(rte_mbuf_refcnt_read(m) == 1, "refcnt %u", rte_mbuf_refcnt_read(m));
  uint32_t sum = 0;
  for (const rte_mbuf* s = m; s; s = s->next) {
    VNET_FUZZ_CHECK(s->pool == g_pool, "segment from another pool");
    VNET_FUZZ_CHECK(s->data_off + s->data_len <= s->buf_len, "segment past its buffer");
    sum += s->data_len;
  }
  VNET_FUZZ_CHECK(sum == m->pkt_len, "segments hold %u of %u bytes", sum, m->pkt_len);
}

void dequeue(Run& r, Reader& in) {
  Ring& g = r.tx;
  const uint16_t count = in.u8() % 33;
  const bool keep = in.u8() & kKeep;
  // The guest memory a dequeue may write: the Tx ring's device side.
  size_t dev_lo, dev_hi, ev_lo = 0, ev_hi = 0;
  if (r.geo.packed) {
    const auto l = virtio::PackedLayout::make(r.geo.n);
    dev_lo = l.desc_off, dev_hi = l.driver_event_off;  // used descriptors are written back in place
    ev_lo = l.device_event_off, ev_hi = l.total;
  } else {
    const auto l = virtio::SplitLayout::make(r.geo.n);
    dev_lo = l.used_off, dev_hi = l.total;
  }
  dev_lo += r.geo.tx_off, dev_hi += r.geo.tx_off;
  if (ev_lo == ev_hi)
    ev_lo = ev_hi = dev_hi;  // split: one range
  else
    ev_lo += r.geo.tx_off, ev_hi += r.geo.tx_off;
  // Copies of the Rx ring still in flight on the shared channel may land meanwhile.
  const bool check_mem = !FakeDma::lands_in(r.arena.base(), r.arena.base() + r.arena.size());
  static std::vector<uint8_t> before;
  if (check_mem) before.assign(r.arena.base(), r.arena.base() + r.arena.size());

  rte_mbuf* pkts[32];
  const VringStats st = g.v->st;
  const uint16_t got = g.burst(*g.v, pkts, count);
  LOG("bursts: dequeue %u -> %u; dropped %lu nombuf %lu\n", count, got,
      static_cast<unsigned long>(g.v->st.dropped - st.dropped), static_cast<unsigned long>(g.v->st.nombuf - st.nombuf));
  VNET_FUZZ_CHECK(got <= count, "dequeue returned %u of %u", got, count);
  VNET_FUZZ_CHECK(g.v->st.packets - st.packets == got, "dequeue returned %u, packets grew by %lu", got,
                  static_cast<unsigned long>(g.v->st.packets - st.packets));
  g.total += got;
  if (check_mem) {
    // [0, dev_lo) [dev_hi, ev_lo) [ev_hi, end): ev_lo == ev_hi for split.
    const size_t from[3] = {0, dev_hi, ev_hi}, to[3] = {dev_lo, std::max(dev_hi, ev_lo), before.size()};
    const uint8_t* now = r.arena.base();
    for (int k = 0; k < 3; ++k) {
      if (from[k] >= to[k] || std::memcmp(now + from[k], before.data() + from[k], to[k] - from[k]) == 0) continue;
      size_t i = from[k];
      while (now[i] == before[i]) ++i;
      VNET_FUZZ_CHECK(false, "dequeue wrote guest memory at offset %zu (Tx ring at %zu)", i, r.geo.tx_off);
    }
  }
  for (uint16_t i = 0; i < got; ++i) {
    check_frame(pkts[i]);
    if (keep)
      r.kept.push_back(pkts[i]);
    else
      rte_pktmbuf_free(pkts[i]);
  }
  check_queue(g);
}

void free_kept(Run& r) {
  for (rte_mbuf* m : r.kept) rte_pktmbuf_free(m);
  r.kept.clear();
}

// Copies complete (the fake is told to finish everything), records are
// published, frames never delivered are freed: what a ring reset does.
void settle_and_discard(Ring& g) {
  Vring& v = *g.v;
  v.gate.close();
  if (g.settle) {
    FakeDma::per_poll = kDmaAll;
    g.settle(v);
  }
  discard(v);
  v.gate.open();
}

template <bool Packed>
void run(Run& r, Reader& in) {
  uint32_t seq = 0;
  while (!in.empty()) {
    switch (in.u8() % kOpCount) {
      case kWrite: {
        const size_t off = in.u16() % r.arena.size();
        const size_t len = std::min<size_t>(in.u8(), r.arena.size() - off);
        in.copy(r.arena.base() + off, len);
        break;
      }
      case kDesc:
        raw_desc(r, r.ring(in.u8()), in);
        break;
      case kChain:
        add_chain<Packed>(r, r.ring(in.u8()), in);
        break;
      case kEnqueue:
        enqueue(r, in, seq);
        break;
      case kDequeue:
        dequeue(r, in);
        break;
      case kFree:
        free_kept(r);
        break;
      case kDma: {
        const uint8_t p = in.u8();
        FakeDma::per_poll = p & 15u;
        if (p & kDmaFail) FakeDma::fail_at = static_cast<uint16_t>(FakeDma::next + ((p >> 4) & 7u));
        break;
      }
      case kDrive:
        if (r.ch.nrings) drive_channel(r.ch, nullptr);
        check_queue(r.rx);
        check_queue(r.tx);
        break;
      case kReset: {
        Ring& g = r.ring(in.u8());
        const uint16_t base = in.u16();
        settle_and_discard(g);
        arm<Packed>(r, g, base);
        break;
      }
    }
  }
}

template <bool Packed>
void fuzz_one(const Header& h, Reader& in) {
  FakeDma::reset(capacity(h.engine));
  Run r(h);
  r.ch.dev = 0;
  setup<Packed>(r, r.rx, true);
  setup<Packed>(r, r.tx, false);
  run<Packed>(r, in);

  settle_and_discard(r.rx);
  settle_and_discard(r.tx);
  free_kept(r);
  VNET_FUZZ_CHECK(FakeDma::ops.empty() && FakeDma::stops == 0, "%zu copies left, %lu stops", FakeDma::ops.size(),
                  static_cast<unsigned long>(FakeDma::stops));
  for (Ring* g : {&r.rx, &r.tx}) {
    const Vring& v = *g->v;
    VNET_FUZZ_CHECK(v.cs.dma_abandoned == 0, "%lu mbufs abandoned", static_cast<unsigned long>(v.cs.dma_abandoned));
    if (g->aq) VNET_FUZZ_CHECK(g->aq->held() == 0, "records left after discard");
  }
  const VringStats& rs = r.rx.v->st;
  VNET_FUZZ_CHECK(rs.packets - r.rx.st0.packets + (rs.dropped - r.rx.st0.dropped) == r.rx.total,
                  "Rx: %lu frames consumed, %lu sent + %lu dropped", static_cast<unsigned long>(r.rx.total),
                  static_cast<unsigned long>(rs.packets - r.rx.st0.packets),
                  static_cast<unsigned long>(rs.dropped - r.rx.st0.dropped));
  VNET_FUZZ_CHECK(r.tx.v->st.packets - r.tx.st0.packets == r.tx.total, "Tx: %lu frames returned, packets %lu",
                  static_cast<unsigned long>(r.tx.total),
                  static_cast<unsigned long>(r.tx.v->st.packets - r.tx.st0.packets));
  VNET_FUZZ_CHECK(rte_mempool_avail_count(g_pool) == kPoolSize, "%u of %u mbufs in the pool",
                  rte_mempool_avail_count(g_pool), kPoolSize);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_log = std::getenv("VNET_FUZZ_LOG") != nullptr;
  quiet_logs();
  // EAL pins this thread to its lcore; the fuzzer should run wherever it was allowed to.
  cpu_set_t cpus;
  const bool have_cpus = sched_getaffinity(0, sizeof cpus, &cpus) == 0;
  const std::string prefix = "--file-prefix=vnet-fuzz-bursts-" + std::to_string(::getpid());
  std::vector<std::string> args = {"fuzz_vhost_bursts",
                                   "--no-huge",
                                   "-m",
                                   "128",
                                   "--no-pci",
                                   "--no-shconf",
                                   "--no-telemetry",
                                   "-l",
                                   "0",
                                   prefix,
                                   "--log-level=lib.eal:error"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "fuzz_vhost_bursts: EAL init failed\n");
    std::abort();
  }
  std::atexit([] {
    const std::string runtime = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    ::rmdir(runtime.c_str());  // EAL 22.11 leaves its (then empty) runtime directory behind
  });
  if (have_cpus) sched_setaffinity(0, sizeof cpus, &cpus);
  // Every dropped chain logs a line; millions of them would be the run.
  if (!g_log) rte_log_set_global_level(RTE_LOG_EMERG);
  g_pool = rte_pktmbuf_pool_create("fuzz", kPoolSize, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  g_call_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (!g_pool || g_call_fd < 0) {
    std::fprintf(stderr, "fuzz_vhost_bursts: no mempool / eventfd\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  const Header h = Header::read(in);
  if (h.feat & kPacked)
    fuzz_one<true>(h, in);
  else
    fuzz_one<false>(h, in);
  return 0;
}
