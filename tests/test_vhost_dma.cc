// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's copy engines against an in-process driver ring: a fake
// dmadev (copies land only when the test lets them complete, statuses and a
// full ring on demand) proves ordering, error and fallback handling and the
// bounded drain; DPDK's dma_skeleton and dma_instant (benchmarks/) prove
// the real dmadev API end to end.
// Needs EAL (mbufs, the skeleton): label loopback.
#include <gtest/gtest.h>
#include <rte_dmadev.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/ring_pair.h"
#include "vhost/datapath.h"
#include "vhost/settle.h"

namespace vnet::ring {
inline void* test_tok(uintptr_t v) { return reinterpret_cast<void*>(v + 1); }
inline uintptr_t test_untok(void* t) { return reinterpret_cast<uintptr_t>(t) - 1; }
}  // namespace vnet::ring

namespace {

using namespace vnet;
using namespace vnet::vhost;

// ---- a dmadev the test drives ------------------------------------------------
struct FakeDma {
  struct Op {
    const void* src;
    void* dst;
    uint32_t len;
  };
  static inline std::deque<Op> ops;  // enqueued, not completed; front has ring index done
  static inline uint16_t next = 0, done = 0;
  static inline size_t capacity = 64;
  static inline size_t release = 0;  // ops allowed to complete
  static inline std::set<uint16_t> fail;
  static inline bool stopped = false;
  static inline uint64_t fenced = 0;

  static void reset() {
    ops.clear();
    next = done = 0;
    capacity = 64;
    release = 0;
    fail.clear();
    stopped = false;
    fenced = 0;
  }
  static int copy(int16_t, uint16_t, const void* src, void* dst, uint32_t len, uint64_t flags) {
    if (ops.size() >= capacity) return -ENOSPC;
    if (flags & RTE_DMA_OP_FLAG_FENCE) ++fenced;
    ops.push_back(Op{src, dst, len});
    return next++;
  }
  static void submit(int16_t, uint16_t) {}
  static uint16_t completed(int16_t, uint16_t, uint16_t n, uint16_t* last, bool* err) {
    uint16_t k = 0;
    *err = false;
    while (k < n && release > 0 && !ops.empty()) {
      if (fail.count(done)) {
        *err = true;
        break;
      }
      std::memcpy(ops.front().dst, ops.front().src, ops.front().len);
      ops.pop_front();
      ++done;
      --release;
      ++k;
    }
    *last = static_cast<uint16_t>(done - 1);
    return k;
  }
  static uint16_t completed_status(int16_t, uint16_t, uint16_t n, uint16_t* last, rte_dma_status_code* st) {
    uint16_t k = 0;
    while (k < n && release > 0 && !ops.empty()) {
      const bool f = fail.count(done) != 0;
      if (!f) std::memcpy(ops.front().dst, ops.front().src, ops.front().len);
      st[k++] = f ? RTE_DMA_STATUS_DATA_POISION : RTE_DMA_STATUS_SUCCESSFUL;
      ops.pop_front();
      ++done;
      --release;
    }
    *last = static_cast<uint16_t>(done - 1);
    return k;
  }
  static void stop(int16_t) {
    stopped = true;
    ops.clear();  // nothing lands after a stop
  }
};
using Fake = DmaCopy<FakeDma>;

rte_mempool* pool() {
  static rte_mempool* mp = [] {
    const std::string prefix = "--file-prefix=vnet-dma-" + std::to_string(::getpid());
    std::vector<std::string> args = {"test",
                                     "--no-huge",
                                     "-m",
                                     "256",
                                     "--no-pci",
                                     "-l",
                                     "0",
                                     prefix,
                                     "--vdev",
                                     "dma_skeleton0",
                                     "--vdev",
                                     "dma_instant0",
                                     "--log-level=lib.eal:warning"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) return static_cast<rte_mempool*>(nullptr);
    std::atexit([] {
      const std::string runtime = rte_eal_get_runtime_dir();
      rte_eal_cleanup();
      ::rmdir(runtime.c_str());  // EAL 22.11 leaves its (then empty) runtime directory behind
    });
    return rte_pktmbuf_pool_create("dma", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  }();
  return mp;
}

uint8_t pattern(uint32_t seq, uint32_t i) { return static_cast<uint8_t>(seq * 7 + i * 13 + (i >> 8)); }

rte_mbuf* frame(uint32_t seq, uint32_t len) {
  rte_mbuf* head = rte_pktmbuf_alloc(pool());
  rte_mbuf* cur = head;
  for (uint32_t i = 0; i < len; ++i) {
    if (rte_pktmbuf_tailroom(cur) == 0) {
      rte_mbuf* nx = rte_pktmbuf_alloc(pool());
      cur->next = nx;
      cur = nx;
      ++head->nb_segs;
    }
    *rte_pktmbuf_mtod_offset(cur, uint8_t*, cur->data_len) = pattern(seq, i);
    ++cur->data_len;
  }
  head->pkt_len = len;
  return head;
}

bool frame_ok(const rte_mbuf* m, uint32_t seq, uint32_t len) {
  if (m->pkt_len != len) return false;
  uint32_t i = 0;
  for (const rte_mbuf* s = m; s; s = s->next)
    for (uint16_t k = 0; k < s->data_len; ++k, ++i)
      if (*rte_pktmbuf_mtod_offset(s, const uint8_t*, k) != pattern(seq, i)) return false;
  return i == len;
}

constexpr uint32_t kHdr = sizeof(virtio::NetHdrMrg);
constexpr uint32_t kBuf = 2048;

// One guest queue (driver side in an arena) with a backend Vring over it.
template <class Drv>
struct Rig {
  using L = ring::LayoutOf<Drv>;
  using Dev = typename L::Device;
  ring::QueuePair<Drv> qp;
  Vring v;
  AsyncQueue aq;
  DmaChan ch;
  uint8_t* bufs = nullptr;
  uint32_t nbufs = 0;

  void init(uint32_t n, bool dequeue, uint32_t threshold) {
    ASSERT_EQ(qp.init(n, {}, size_t{n} * kBuf * 2 + (1u << 20)), 0);
    v.mem = qp.arena->mem();
    ring::DeviceConfig vc;
    vc.size = n;
    vc.read_only = dequeue;
    vc.layout = L::layout;
    L::place(vc, qp.ring, n);
    ASSERT_EQ(v.dq.init(vc, &v.mem), 0);
    v.hdr_len = kHdr;
    v.mp = pool();
    v.aq = &aq;
    aq.ch = &ch;
    aq.threshold = threshold;
    ch.dev = 0;
    ch.rings[0] = &v;
    ch.nrings = 1;
    nbufs = n;
    bufs = qp.arena->alloc(size_t{n} * kBuf, 64);
    ASSERT_NE(bufs, nullptr);
    v.gate.open();
  }
  uint8_t* buf(uint32_t i) { return bufs + size_t{i} * kBuf; }
  // Receive side: offer k empty buffers.
  void offer(uint32_t k) {
    for (uint32_t i = 0; i < k; ++i) add_rx(i, kBuf);
    qp.drv.publish();
  }
  // Receive side, one empty buffer: slot `i`, `len` bytes (not yet published).
  void add_rx(uint32_t i, uint32_t len) {
    const ring::Seg s{ring::Arena::iova(buf(i)), len, true};
    ASSERT_EQ(qp.drv.add(&s, 1, ring::test_tok(i)), 0);
  }
  // Transmit side: k frames (header + payload in one buffer).
  void transmit(uint32_t first_seq, uint32_t k, uint32_t len) {
    for (uint32_t i = 0; i < k; ++i) add_frame(i, first_seq + i, len);
    qp.drv.publish();
  }
  std::vector<ring::UsedBuf> used() {
    std::vector<ring::UsedBuf> out(nbufs);
    out.resize(qp.drv.poll_used(out.data(), static_cast<uint16_t>(nbufs)));
    return out;
  }
  bool rx_ok(uint32_t slot, uint32_t seq, uint32_t len) {
    const uint8_t* b = buf(slot);
    if (b[10] != 1 || b[11] != 0) return false;  // num_buffers
    for (uint32_t j = 0; j < len; ++j)
      if (b[kHdr + j] != pattern(seq, j)) return false;
    return true;
  }
  uint16_t enqueue(rte_mbuf** pkts, uint16_t n) { return enqueue_burst<Dev, false, Fake>(v, pkts, n); }
  uint16_t enqueue_mrg(rte_mbuf** pkts, uint16_t n) { return enqueue_burst<Dev, true, Fake>(v, pkts, n); }
  // The synchronous engine (CPU copies), mergeable: the pop-ahead path.
  uint16_t enqueue_cpu_mrg(rte_mbuf** pkts, uint16_t n) { return enqueue_burst<Dev, true, CpuCopy>(v, pkts, n); }
  // Receive side: buffers first..first+lens.size()-1, of these lengths.
  void offer_lens(uint32_t first, std::initializer_list<uint32_t> lens) {
    uint32_t i = first;
    for (const uint32_t len : lens) add_rx(i++, len);
    qp.drv.publish();
  }
  // A mergeable frame spread over buffers first..first+k-1 (header in the first).
  bool rx_mrg_ok(uint32_t first, uint16_t k, uint32_t seq, uint32_t len) {
    const uint8_t* b = buf(first);
    if (b[10] != k || b[11] != 0) return false;
    uint32_t at = kHdr, slot = first;
    for (uint32_t j = 0; j < len; ++j, ++at) {
      if (at == kBuf) {
        at = 0;
        b = buf(++slot);
      }
      if (b[at] != pattern(seq, j)) return false;
    }
    return true;
  }
  uint16_t dequeue(rte_mbuf** pkts, uint16_t n) { return dequeue_burst<Dev, Fake>(v, pkts, n); }
  uint16_t dequeue_cpu(rte_mbuf** pkts, uint16_t n) { return dequeue_burst<Dev, CpuCopy>(v, pkts, n); }
  // Transmit side, one frame in buffer `slot` (not yet published); len 0:
  // a descriptor pointing outside guest memory instead.
  void add_frame(uint32_t slot, uint32_t seq, uint32_t len) {
    uint8_t* b = buf(slot);
    std::memset(b, 0, kHdr);
    for (uint32_t j = 0; j < len; ++j) b[kHdr + j] = pattern(seq, j);
    const ring::Seg s{len ? ring::Arena::iova(b) : uint64_t{1} << 50, kHdr + (len ? len : 64), false};
    ASSERT_EQ(qp.drv.add(&s, 1, ring::test_tok(slot)), 0);
  }
};

uint64_t g_abandoned = 0;  // mbufs the copy engines kept out of the pool, all tests

template <class Drv>
class VhostDma : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(pool(), nullptr);
    FakeDma::reset();
    rig = std::make_unique<Rig<Drv>>();
  }
  void TearDown() override {
    // Abandoned mbufs (a stopped engine may still copy into them) stay out
    // of the pool on purpose; every other one must be back.
    g_abandoned += rig->v.cs.dma_abandoned;  // the pool outlives each test
    rig.reset();
    EXPECT_EQ(rte_mempool_avail_count(pool()) + g_abandoned, pool()->size) << "mbufs leaked";
  }
  std::unique_ptr<Rig<Drv>> rig;
};
using Layouts = ::testing::Types<ring::SplitDriver, ring::PackedDriver>;
TYPED_TEST_SUITE(VhostDma, Layouts);

// A small frame copied by the CPU must not overtake a big one still on the
// DMA engine; nothing is visible until its bytes have landed.
TYPED_TEST(VhostDma, EnqueueUsedEntriesWaitForCopiesAndKeepOrder) {
  auto& r = *this->rig;
  r.init(16, false, 256);
  r.offer(4);
  rte_mbuf* pkts[3] = {frame(0, 1000), frame(1, 64), frame(2, 1500)};
  ASSERT_EQ(r.enqueue(pkts, 3), 3);
  EXPECT_EQ(FakeDma::ops.size(), 2u);  // frames 0 and 2; frame 1 went by CPU
  EXPECT_EQ(r.aq.in_flight(), 3);
  EXPECT_TRUE(r.used().empty()) << "published before its copies completed";
  FakeDma::release = 1;  // frame 0 lands: frames 0 and 1 may go, 2 waits
  r.enqueue(nullptr, 0);
  auto u = r.used();
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(ring::test_untok(u[0].token), 0u);
  EXPECT_EQ(u[0].len, kHdr + 1000);
  EXPECT_EQ(ring::test_untok(u[1].token), 1u);
  EXPECT_TRUE(r.rx_ok(0, 0, 1000));
  EXPECT_TRUE(r.rx_ok(1, 1, 64));
  FakeDma::release = 1;
  r.enqueue(nullptr, 0);
  u = r.used();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].len, kHdr + 1500);
  EXPECT_TRUE(r.rx_ok(2, 2, 1500));
  EXPECT_EQ(r.v.st.packets, 3u);
  EXPECT_EQ(r.v.cs.dma_copies, 2u);
  EXPECT_EQ(r.v.cs.cpu_copies, 1u);
  EXPECT_EQ(r.v.cs.inflight_hwm, 3u);
  EXPECT_EQ(r.aq.in_flight(), 0);
}

TYPED_TEST(VhostDma, EnqueueCopyErrorDropsOnlyThatPacket) {
  auto& r = *this->rig;
  r.init(16, false, 0);
  r.offer(3);
  rte_mbuf* pkts[3] = {frame(0, 300), frame(1, 300), frame(2, 300)};
  ASSERT_EQ(r.enqueue(pkts, 3), 3);
  FakeDma::fail = {1};
  FakeDma::release = 3;
  r.enqueue(nullptr, 0);
  const auto u = r.used();
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0].len, kHdr + 300);
  EXPECT_EQ(u[1].len, 0u);  // buffer returned empty: the frame is lost, the ring goes on
  EXPECT_EQ(u[2].len, kHdr + 300);
  EXPECT_TRUE(r.rx_ok(2, 2, 300));
  EXPECT_EQ(r.v.cs.dma_errors, 1u);
  EXPECT_EQ(r.v.st.dropped, 1u);
  EXPECT_EQ(r.v.st.packets, 2u);
}

TYPED_TEST(VhostDma, FullDmaRingFallsBackToCpuForThatPacket) {
  auto& r = *this->rig;
  r.init(16, false, 0);
  r.offer(4);
  FakeDma::capacity = 2;
  rte_mbuf* pkts[4] = {frame(0, 100), frame(1, 100), frame(2, 100), frame(3, 100)};
  ASSERT_EQ(r.enqueue(pkts, 4), 4);
  EXPECT_EQ(r.v.cs.dma_copies, 2u);
  EXPECT_EQ(r.v.cs.dma_fallbacks, 2u);
  EXPECT_EQ(r.v.cs.cpu_copies, 2u);
  EXPECT_TRUE(r.used().empty());  // frames 2, 3 are done but wait behind 0, 1
  FakeDma::release = 2;
  r.enqueue(nullptr, 0);
  const auto u = r.used();
  ASSERT_EQ(u.size(), 4u);
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ring::test_untok(u[i].token), i);
    EXPECT_TRUE(r.rx_ok(i, i, 100));
  }
}

// Mergeable: the ring runs dry in the middle of a frame after some of its
// copies were submitted. The buffers go back to the ring, those copies are
// kept in flight (a record without used entries), the next copy into them
// is fenced behind them, and the frame arrives whole when room appears.
TYPED_TEST(VhostDma, MergeableShortRingKeepsSubmittedCopiesFenced) {
  auto& r = *this->rig;
  r.init(16, false, 0);
  r.offer(2);
  rte_mbuf* m = frame(7, 5000);        // 12 + 5000 B: three 2 KiB buffers
  EXPECT_EQ(r.enqueue_mrg(&m, 1), 0);  // not consumed: the application keeps it
  // Segments of 2048 B: buffer 0 takes 2036 B of the first, buffer 1 its
  // last 12 B and 2036 B of the second; then the ring is dry.
  EXPECT_EQ(FakeDma::ops.size(), 3u);
  EXPECT_EQ(r.aq.in_flight(), 1);
  EXPECT_EQ(r.ch.fence, uint64_t{RTE_DMA_OP_FLAG_FENCE});
  for (uint32_t i = 2; i < 4; ++i) {  // two more buffers behind the two given back
    const ring::Seg sg{ring::Arena::iova(r.buf(i)), kBuf, true};
    ASSERT_EQ(r.qp.drv.add(&sg, 1, ring::test_tok(i)), 0);
  }
  r.qp.drv.publish();
  EXPECT_EQ(r.enqueue_mrg(&m, 1), 1);
  EXPECT_EQ(FakeDma::fenced, 1u);
  EXPECT_TRUE(r.used().empty());
  FakeDma::fail = {0};  // a copy of the given-back attempt fails: no frame of ours is lost by it
  FakeDma::release = 100;
  r.enqueue_mrg(nullptr, 0);
  const auto u = r.used();
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0].len + u[1].len + u[2].len, kHdr + 5000);
  EXPECT_TRUE(r.rx_mrg_ok(0, 3, 7, 5000));
  EXPECT_EQ(r.aq.in_flight(), 0);
  EXPECT_EQ(r.v.cs.dma_errors, 0u);
  EXPECT_EQ(r.v.st.dropped, 0u);
  EXPECT_EQ(r.v.st.packets, 1u);
}

// Mergeable: a frame dropped mid-way (the next buffer cannot hold a header)
// after copies into its first buffer were submitted is one dropped frame,
// also when one of those copies then fails (found by fuzz_vhost_bursts).
TYPED_TEST(VhostDma, MergeableMidFrameDropCountsOnceWhenItsCopyFails) {
  auto& r = *this->rig;
  r.init(16, false, 0);
  r.offer_lens(0, {kBuf, 8});
  rte_mbuf* m = frame(3, 3000);        // 12 + 3000 B: needs a second buffer
  ASSERT_EQ(r.enqueue_mrg(&m, 1), 1);  // consumed: its record frees it
  EXPECT_EQ(FakeDma::ops.size(), 1u);  // 2036 B of its first segment into buffer 0
  FakeDma::fail = {0};
  FakeDma::release = 100;
  r.enqueue_mrg(nullptr, 0);
  const auto u = r.used();
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].len, 0u);
  EXPECT_EQ(u[1].len, 0u);
  EXPECT_EQ(r.v.st.dropped, 1u);
  EXPECT_EQ(r.v.st.packets, 0u);
  EXPECT_EQ(r.v.st.bad_chains, 1u);
  EXPECT_EQ(r.v.cs.dma_errors, 0u) << "the frame was lost to the short buffer, not to the copy";
  EXPECT_EQ(r.aq.in_flight(), 0);
}

// Two rings on one channel: DMA ops carry no tag, so a failed op is traced
// to its packet by the channel's op counts. Ring A's frame owns op 0; ring
// B's frame, copied by the CPU after it, waits for the same count but owns
// no op: only A's frame is lost when op 0 fails.
TYPED_TEST(VhostDma, FailedOpOnSharedChannelLosesOnlyItsOwner) {
  auto& a = *this->rig;
  Rig<TypeParam> b;
  a.init(16, false, 256);
  b.init(16, false, 256);
  b.aq.ch = &a.ch;  // B's copies go to A's channel, B's ring the first one searched
  a.ch.rings[0] = &b.v;
  a.ch.rings[1] = &a.v;
  a.ch.nrings = 2;
  a.offer(2);
  b.offer(2);
  rte_mbuf* pa = frame(1, 1000);
  rte_mbuf* pb = frame(2, 100);  // below the threshold: the CPU
  ASSERT_EQ(a.enqueue(&pa, 1), 1);
  ASSERT_EQ(b.enqueue(&pb, 1), 1);
  EXPECT_EQ(FakeDma::ops.size(), 1u);
  EXPECT_EQ(b.aq.in_flight(), 1) << "B's frame waits behind A's copy";
  EXPECT_TRUE(b.used().empty());
  FakeDma::fail = {0};
  FakeDma::release = 1;
  a.enqueue(nullptr, 0);
  b.enqueue(nullptr, 0);
  const auto ua = a.used(), ub = b.used();
  ASSERT_EQ(ua.size(), 1u);
  EXPECT_EQ(ua[0].len, 0u);
  ASSERT_EQ(ub.size(), 1u);
  EXPECT_EQ(ub[0].len, kHdr + 100);
  EXPECT_TRUE(b.rx_ok(0, 2, 100));
  EXPECT_EQ(a.v.cs.dma_errors, 1u);
  EXPECT_EQ(a.v.st.packets, 0u);
  EXPECT_EQ(b.v.cs.dma_errors, 0u);
  EXPECT_EQ(b.v.st.packets, 1u);
  EXPECT_EQ(b.v.st.dropped, 0u);
}

// Dequeue: the application gets an mbuf only once its bytes have landed.
TYPED_TEST(VhostDma, DequeueDeliversOnlyCompletedFramesInOrder) {
  auto& r = *this->rig;
  r.init(16, true, 0);
  r.transmit(10, 3, 700);
  rte_mbuf* got[8];
  EXPECT_EQ(r.dequeue(got, 8), 0);
  EXPECT_EQ(r.aq.in_flight(), 3);
  EXPECT_TRUE(r.used().empty());
  FakeDma::fail = {1};
  FakeDma::release = 3;
  const uint16_t n = r.dequeue(got, 8);
  ASSERT_EQ(n, 2);
  EXPECT_TRUE(frame_ok(got[0], 10, 700));
  EXPECT_TRUE(frame_ok(got[1], 12, 700));
  EXPECT_EQ(r.used().size(), 3u);  // every transmit buffer goes back, the failed one too
  EXPECT_EQ(r.v.cs.dma_errors, 1u);
  rte_pktmbuf_free(got[0]);
  rte_pktmbuf_free(got[1]);
}

// Completed frames the application never took are freed when the ring is
// reset; a channel that never completes is stopped within the bound and
// nothing it held lands afterwards.
TYPED_TEST(VhostDma, SettleStopsAStuckDeviceAndDiscardFreesFrames) {
  auto& r = *this->rig;
  r.init(16, true, 0);
  r.transmit(0, 4, 500);
  rte_mbuf* got[8];
  EXPECT_EQ(r.dequeue(got, 8), 0);
  FakeDma::release = 2;  // two land; two never will
  r.v.gate.close();
  const uint64_t t0 = rte_get_timer_cycles();
  settle<typename Rig<TypeParam>::Dev, FakeDma, true>(r.v);
  const double secs = double(rte_get_timer_cycles() - t0) / rte_get_timer_hz();
  EXPECT_TRUE(FakeDma::stopped);
  EXPECT_LT(secs, 3.0);
  EXPECT_TRUE(r.ch.dead);
  EXPECT_EQ(r.aq.in_flight(), 0);
  EXPECT_EQ(r.v.cs.dma_errors, 2u);
  // Their destination mbufs never go back to the pool: on hardware, a
  // stopped engine may still write them.
  EXPECT_EQ(r.v.cs.dma_abandoned, 2u);
  EXPECT_EQ(r.used().size(), 4u);
  discard(r.v);  // the two good frames were never delivered
  EXPECT_EQ(r.v.st.dropped, 4u);
  // A dead channel copies on the CPU from now on.
  r.v.gate.open();
  r.transmit(20, 1, 64);
  ASSERT_EQ(r.dequeue(got, 8), 1);
  EXPECT_TRUE(frame_ok(got[0], 20, 64));
  rte_pktmbuf_free(got[0]);
}

// A real dmadev under DmaCopy<RteDmaApi>: many frames of several sizes,
// every byte where it belongs, in order; its ring never fills.
template <class Drv>
void copies_every_byte(Rig<Drv>& r, const char* dmadev) {
  const int dev = rte_dma_get_dev_id_by_name(dmadev);
  ASSERT_GE(dev, 0);
  rte_dma_info info{};
  ASSERT_EQ(rte_dma_info_get(static_cast<int16_t>(dev), &info), 0);
  if (info.nb_vchans == 0) {
    rte_dma_conf conf{};
    conf.nb_vchans = 1;
    ASSERT_EQ(rte_dma_configure(static_cast<int16_t>(dev), &conf), 0);
    rte_dma_vchan_conf vc{};
    vc.direction = RTE_DMA_DIR_MEM_TO_MEM;
    vc.nb_desc = 256;
    ASSERT_EQ(rte_dma_vchan_setup(static_cast<int16_t>(dev), 0, &vc), 0);
  }
  ASSERT_EQ(rte_dma_start(static_cast<int16_t>(dev)), 0);
  r.init(256, false, 128);
  r.ch.dev = static_cast<int16_t>(dev);
  using Dev = typename Rig<Drv>::Dev;
  const uint32_t sizes[] = {60, 128, 1000, 1514, 2000};
  for (int round = 0; round < 4; ++round) {
    r.offer(200);
    std::vector<rte_mbuf*> pkts;
    for (uint32_t i = 0; i < 200; ++i) pkts.push_back(frame(round * 1000 + i, sizes[i % 5]));
    uint32_t sent = 0;
    std::vector<ring::UsedBuf> all;
    for (int spin = 0; spin < 1000000 && all.size() < 200; ++spin) {
      r.ch.lock.store(1);
      sent += enqueue_burst<Dev, false, DmaCopy<>>(r.v, pkts.data() + sent,
                                                   static_cast<uint16_t>(std::min<uint32_t>(32, 200 - sent)));
      r.ch.unlock();
      for (auto& u : r.used()) all.push_back(u);
    }
    ASSERT_EQ(all.size(), 200u);
    for (uint32_t i = 0; i < 200; ++i) {
      ASSERT_EQ(ring::test_untok(all[i].token), i);
      ASSERT_EQ(all[i].len, kHdr + sizes[i % 5]);
      ASSERT_TRUE(r.rx_ok(i, round * 1000 + i, sizes[i % 5])) << "frame " << i;
    }
  }
  // One copy per frame, 160 frames of each size: the 60 B ones (below the
  // threshold) on the CPU, the rest by DMA. At most 200 copies in flight
  // never fill 255 descriptors: no fallback.
  EXPECT_EQ(r.v.cs.dma_copies, 640u);
  EXPECT_EQ(r.v.cs.cpu_copies, 160u);
  EXPECT_EQ(r.v.cs.dma_fallbacks, 0u);
  EXPECT_EQ(r.v.cs.dma_errors, 0u);
  EXPECT_EQ(r.v.st.packets, 800u);
  EXPECT_EQ(r.aq.in_flight(), 0);
  rte_dma_stop(static_cast<int16_t>(dev));
}

// DPDK's dma_skeleton: copies on its own thread, completed later.
TYPED_TEST(VhostDma, SkeletonCopiesEveryByte) { copies_every_byte(*this->rig, "dma_skeleton0"); }

// dma_instant (benchmarks/instant_dma.cc, the engine dma_cost.py counts
// with): every copy done when submitted, reported by the next poll.
TYPED_TEST(VhostDma, InstantCopiesEveryByte) { copies_every_byte(*this->rig, "dma_instant0"); }

// free_mbufs: one-segment mbufs go back in bulk per pool, chains and still
// referenced ones through the usual path; nothing leaks, nothing is freed twice.
TEST(FreeMbufs, MixedPoolsChainsAndReferences) {
  rte_mempool* a = pool();
  ASSERT_NE(a, nullptr);
  rte_mempool* b = rte_pktmbuf_pool_create("free2", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(b, nullptr);
  const unsigned a0 = rte_mempool_avail_count(a), b0 = rte_mempool_avail_count(b);
  std::vector<rte_mbuf*> ms, held;
  for (int i = 0; i < 150; ++i) {  // more than one put batch, pools interleaved in runs
    rte_mbuf* m = rte_pktmbuf_alloc((i / 5) % 2 ? b : a);
    ASSERT_NE(m, nullptr);
    if (i % 7 == 0) {  // a two-segment chain
      rte_mbuf* t = rte_pktmbuf_alloc(a);
      ASSERT_NE(t, nullptr);
      ASSERT_EQ(rte_pktmbuf_chain(m, t), 0);
    } else if (i % 11 == 0) {  // someone else keeps a reference
      rte_mbuf_refcnt_update(m, 1);
      held.push_back(m);
    }
    ms.push_back(m);
  }
  for (size_t i = 0; i < ms.size(); i += kFreeBatch)
    free_mbufs(ms.data() + i, static_cast<uint16_t>(std::min<size_t>(kFreeBatch, ms.size() - i)));
  EXPECT_LT(rte_mempool_avail_count(a) + rte_mempool_avail_count(b), a0 + b0);  // the held ones are out
  for (rte_mbuf* m : held) {
    EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
    rte_pktmbuf_free(m);
  }
  EXPECT_EQ(rte_mempool_avail_count(a), a0);
  EXPECT_EQ(rte_mempool_avail_count(b), b0);
  rte_mempool_free(b);
}

// CPU copies with MRG_RXBUF pop several chains before copying into any: each
// frame must still get exactly the chains one-at-a-time handling gives it,
// whatever ends a group early: a chain too small for its frame (spread over
// the next ones), a chain shorter than a header (returned empty), a frame
// too big to send (dropped without a chain), the ring running dry mid-group
// (the rest stay with the caller and go next burst).
TYPED_TEST(VhostDma, CpuEnqueuePopsAheadButPairsChainsInOrder) {
  auto& r = *this->rig;
  r.init(16, false, 0);
  r.offer_lens(0, {kBuf, 8, kBuf, kBuf, kBuf, kBuf});
  const uint32_t big = kBuf + 1000;  // header + frame need two buffers
  rte_mbuf* pkts[7] = {frame(0, 64), frame(1, 64), frame(2, big), frame(3, 64),
                       frame(4, 64), frame(5, 64), frame(6, 64)};
  rte_pktmbuf_pkt_len(pkts[3]) = kMaxFrame + 1;  // too big for any chain: dropped
  ASSERT_EQ(r.enqueue_cpu_mrg(pkts, 7), 5) << "frames 5 and 6 found no buffer and stay with the caller";
  auto u = r.used();
  ASSERT_EQ(u.size(), 6u);
  const uint32_t want_len[6] = {kHdr + 64, 0, kHdr + 64, kBuf, kHdr + big - kBuf, kHdr + 64};
  for (uint32_t i = 0; i < 6; ++i) {
    EXPECT_EQ(ring::test_untok(u[i].token), i) << "used entry " << i;
    EXPECT_EQ(u[i].len, want_len[i]) << "used entry " << i;
  }
  EXPECT_TRUE(r.rx_ok(0, 0, 64));
  EXPECT_TRUE(r.rx_ok(2, 1, 64)) << "frame 1 skips the 8-byte buffer";
  EXPECT_TRUE(r.rx_mrg_ok(3, 2, 2, big));
  EXPECT_TRUE(r.rx_ok(5, 4, 64));
  EXPECT_EQ(r.v.st.packets, 4u);
  EXPECT_EQ(r.v.st.dropped, 1u);
  EXPECT_EQ(r.v.st.bad_chains, 1u);
  r.offer_lens(6, {kBuf, kBuf});
  ASSERT_EQ(r.enqueue_cpu_mrg(pkts + 5, 2), 2);
  u = r.used();
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(ring::test_untok(u[0].token), 6u);
  EXPECT_EQ(ring::test_untok(u[1].token), 7u);
  EXPECT_TRUE(r.rx_ok(6, 5, 64));
  EXPECT_TRUE(r.rx_ok(7, 6, 64));
  EXPECT_EQ(r.v.st.packets, 6u);
}

// CPU-copy dequeue pops the next chain before copying the current one:
// nothing popped may be left over at the end of a burst (the burst limit,
// an mbuf shortage) and an invalid chain popped ahead is returned once,
// counted once, in ring order.
TYPED_TEST(VhostDma, CpuDequeuePopsAheadButLeavesNothingBehind) {
  auto& r = *this->rig;
  r.init(16, true, 0);
  const uint32_t lens[6] = {64, 0, 64, 1000, 64, 64};  // 0: a chain outside guest memory
  for (uint32_t i = 0; i < 6; ++i) r.add_frame(i, i, lens[i]);
  r.qp.drv.publish();
  rte_mbuf* got[8] = {};
  ASSERT_EQ(r.dequeue_cpu(got, 2), 2);
  EXPECT_TRUE(frame_ok(got[0], 0, 64));
  EXPECT_TRUE(frame_ok(got[1], 2, 64));
  auto u = r.used();
  ASSERT_EQ(u.size(), 3u) << "the burst limit left frame 3 in the ring, not popped";
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(ring::test_untok(u[i].token), i);
  EXPECT_EQ(r.v.st.dropped, 1u);
  // One free mbuf: frame 3 gets it, frame 4 waits for the next burst.
  rte_mempool* one = rte_pktmbuf_pool_create("vnet-dq-one", 1, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(one, nullptr);
  r.v.mp = one;
  ASSERT_EQ(r.dequeue_cpu(got + 2, 8), 1);
  EXPECT_TRUE(frame_ok(got[2], 3, 1000));
  EXPECT_EQ(r.v.st.nombuf, 1u);
  u = r.used();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(ring::test_untok(u[0].token), 3u);
  rte_pktmbuf_free(got[2]);
  r.v.mp = pool();
  ASSERT_EQ(r.dequeue_cpu(got + 2, 8), 2);
  EXPECT_TRUE(frame_ok(got[2], 4, 64));
  EXPECT_TRUE(frame_ok(got[3], 5, 64));
  u = r.used();
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(ring::test_untok(u[0].token), 4u);
  EXPECT_EQ(ring::test_untok(u[1].token), 5u);
  EXPECT_EQ(r.v.st.packets, 5u);
  EXPECT_EQ(r.v.st.dropped, 1u);
  EXPECT_EQ(dev_of<typename Rig<TypeParam>::Dev>(r.v).errors().total(), 1u) << "the bad chain was popped twice";
  EXPECT_EQ(r.dequeue_cpu(got + 4, 8), 0);
  for (uint32_t i = 0; i < 4; ++i) rte_pktmbuf_free(got[i]);
  rte_mempool_free(one);
}

// cpu_copy picks fixed-size overlapping moves by length (16..32, 33..64) and
// rte_memcpy otherwise: every length and alignment copies exactly its bytes.
TEST(CpuCopy, EveryLengthExactlyItsBytes) {
  std::vector<uint8_t> src(300), dst(340);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  for (uint32_t off = 0; off < 4; ++off) {
    for (uint32_t len = 0; len <= 260; ++len) {
      std::fill(dst.begin(), dst.end(), 0xee);
      cpu_copy(dst.data() + 16 + off, src.data() + off, len);
      for (uint32_t i = 0; i < dst.size(); ++i) {
        const bool inside = i >= 16 + off && i < 16 + off + len;
        ASSERT_EQ(dst[i], inside ? src[i - 16] : 0xee) << "len " << len << " off " << off << " byte " << i;
      }
    }
  }
}

}  // namespace
