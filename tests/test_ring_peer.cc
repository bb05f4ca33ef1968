// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Misbehaving peers: every validation rule of the device-side walk and of
// the driver-side used processing, on both layouts. A bad chain is dropped
// (and still returned to the driver), a bad ring is marked broken; nothing
// crashes, every error is counted.
#include <gtest/gtest.h>

#include "ring_test_util.h"

namespace vnet::ring::test {
namespace {

using virtio::DESC_F_AVAIL;
using virtio::DESC_F_INDIRECT;
using virtio::DESC_F_NEXT;
using virtio::DESC_F_USED;
using virtio::DESC_F_WRITE;

// ---- a hand-written driver: raw descriptor writes ---------------------------
struct RawSplit {
  QueuePair<SplitDriver> p;  // only the device half and the arena are used
  virtio::SplitDesc* desc;
  virtio::SplitAvailHdr* avail;
  virtio::le16* ring;
  virtio::SplitUsedElem* used;
  uint16_t idx = 0;
  uint8_t* buf;
  void init(uint32_t n, Features f = {}) {
    ASSERT_EQ(p.init(n, f), 0);
    const auto l = virtio::SplitLayout::make(n);
    desc = reinterpret_cast<virtio::SplitDesc*>(p.ring + l.desc_off);
    avail = reinterpret_cast<virtio::SplitAvailHdr*>(p.ring + l.avail_off);
    ring = reinterpret_cast<virtio::le16*>(avail + 1);
    used = reinterpret_cast<virtio::SplitUsedElem*>(p.ring + l.used_off + 4);
    buf = p.arena->alloc(1 << 16, 64);
  }
  void d(virtio::SplitDesc* t, uint16_t i, uint64_t addr, uint32_t len, uint16_t fl, uint16_t next = 0) {
    t[i].addr.set(addr);
    t[i].len.set(len);
    t[i].flags.set(fl);
    t[i].next.set(next);
  }
  void d(uint16_t i, uint64_t addr, uint32_t len, uint16_t fl, uint16_t next = 0) { d(desc, i, addr, len, fl, next); }
  void publish(uint16_t head) {
    ring[idx % p.size].set(head);
    avail->idx.set(++idx);
  }
  uint64_t a(size_t off = 0) const { return Arena::iova(buf + off); }
};

struct RawPacked {
  QueuePair<PackedDriver> p;
  virtio::PackedDesc* desc;
  uint16_t next = 0;
  bool wrap = true;
  uint8_t* buf;
  void init(uint32_t n, Features f = {}) {
    ASSERT_EQ(p.init(n, f), 0);
    desc = reinterpret_cast<virtio::PackedDesc*>(p.ring);
    buf = p.arena->alloc(1 << 16, 64);
  }
  // Append one descriptor at the next slot, marked available.
  void put(uint64_t addr, uint32_t len, uint16_t id, uint16_t fl) {
    desc[next].addr.set(addr);
    desc[next].len.set(len);
    desc[next].id.set(id);
    desc[next].flags.set(static_cast<uint16_t>(fl | (wrap ? DESC_F_AVAIL : DESC_F_USED)));
    if (++next == p.size) {
      next = 0;
      wrap = !wrap;
    }
  }
  uint64_t a(size_t off = 0) const { return Arena::iova(buf + off); }
};

template <class Dev>
void expect_dropped(Dev& dev, DevErr e) {
  Chain c;
  ASSERT_EQ(dev.pop(c), Pop::Dropped);
  EXPECT_EQ(c.err, e);
  EXPECT_EQ(dev.errors()[e], 1u);
  EXPECT_EQ(c.nseg, 0);
  EXPECT_FALSE(dev.broken());
  dev.push_used(c, 0);  // the driver gets its buffer back
  dev.flush();
}

template <class Dev>
void expect_broken(Dev& dev, DevErr e) {
  Chain c;
  EXPECT_EQ(dev.pop(c), Pop::Broken);
  EXPECT_EQ(dev.errors()[e], 1u);
  EXPECT_TRUE(dev.broken());
  EXPECT_EQ(dev.pop(c), Pop::Broken);  // stays broken
}

// -- split device ---------------------------------------------------------
TEST(SplitDevicePeer, AvailIdxJump) {
  RawSplit r;
  r.init(8);
  r.avail->idx.set(9);
  expect_broken(r.p.dev, DevErr::AvailIdxJump);
}
// Regression (found by fuzz_split_device): avail_pending() cached an
// unchecked index, after which pop() handed out stale entries forever.
TEST(SplitDevicePeer, AvailIdxJumpSeenByAvailPending) {
  RawSplit r;
  r.init(4);
  r.d(0, r.a(), 10, 0);
  r.avail->idx.set(1000);
  EXPECT_EQ(r.p.dev.avail_pending(), 0);
  EXPECT_TRUE(r.p.dev.broken());
  EXPECT_EQ(r.p.dev.errors()[DevErr::AvailIdxJump], 1u);
  Chain c;
  EXPECT_EQ(r.p.dev.pop(c), Pop::Broken);
}

TEST(SplitDevicePeer, HeadOutOfRange) {
  RawSplit r;
  r.init(8);
  r.publish(8);
  expect_broken(r.p.dev, DevErr::HeadOutOfRange);
}
TEST(SplitDevicePeer, NextOutOfRangeDropsChainAndRingGoesOn) {
  RawSplit r;
  r.init(8);
  r.d(0, r.a(), 10, DESC_F_NEXT, 8);
  r.publish(0);
  expect_dropped(r.p.dev, DevErr::NextOutOfRange);
  EXPECT_EQ(r.used[0].id.get(), 0u);
  EXPECT_EQ(r.used[0].len.get(), 0u);
  r.d(1, r.a(), 10, 0);
  r.publish(1);
  Chain c;
  EXPECT_EQ(r.p.dev.pop(c), Pop::Ok);
  EXPECT_EQ(c.out_len, 10u);
}
TEST(SplitDevicePeer, LoopIsChainTooLong) {
  RawSplit r;
  r.init(8);
  r.d(0, r.a(), 10, DESC_F_NEXT, 1);
  r.d(1, r.a(), 10, DESC_F_NEXT, 0);
  r.publish(0);
  expect_dropped(r.p.dev, DevErr::ChainTooLong);
}
TEST(SplitDevicePeer, IndirectRules) {
  struct Case {
    DevErr e;
    uint16_t fl;
    uint32_t len;
    bool nested;
    bool negotiated;
  };
  for (const Case& k : {Case{DevErr::NestedIndirect, DESC_F_INDIRECT, 32, true, true},
                        Case{DevErr::IndirectBadLen, DESC_F_INDIRECT, 24, false, true},
                        Case{DevErr::IndirectBadLen, DESC_F_INDIRECT, 0, false, true},
                        Case{DevErr::IndirectAndNext, DESC_F_INDIRECT | DESC_F_NEXT, 32, false, true},
                        Case{DevErr::IndirectNotNegotiated, DESC_F_INDIRECT, 32, false, false},
                        Case{DevErr::ChainTooLong, DESC_F_INDIRECT, 16 * 9, false, true}}) {
    SCOPED_TRACE(to_string(k.e));
    RawSplit r;
    r.init(8, {.indirect = k.negotiated});
    auto* t = reinterpret_cast<virtio::SplitDesc*>(r.buf + 4096);
    r.d(t, 0, r.a(), 10, DESC_F_NEXT, 1);
    r.d(t, 1, k.nested ? r.a(4096) : r.a(), 32, k.nested ? DESC_F_INDIRECT : 0);
    r.d(0, r.a(4096), k.len, k.fl, 1);
    r.publish(0);
    expect_dropped(r.p.dev, k.e);
  }
}
TEST(SplitDevicePeer, IndirectLoopAndNextOutOfRange) {
  RawSplit r;
  r.init(8, {.indirect = true});
  auto* t = reinterpret_cast<virtio::SplitDesc*>(r.buf + 4096);
  r.d(t, 0, r.a(), 10, DESC_F_NEXT, 1);
  r.d(t, 1, r.a(), 10, DESC_F_NEXT, 0);  // loops inside the table
  r.d(0, r.a(4096), 32, DESC_F_INDIRECT);
  r.publish(0);
  expect_dropped(r.p.dev, DevErr::ChainTooLong);
  r.d(t, 1, r.a(), 10, DESC_F_NEXT, 2);  // next past the 2-entry table
  r.publish(0);
  Chain c;
  ASSERT_EQ(r.p.dev.pop(c), Pop::Dropped);
  EXPECT_EQ(c.err, DevErr::NextOutOfRange);
}
TEST(SplitDevicePeer, ContentRules) {
  struct Case {
    DevErr e;
    uint64_t addr0, addr1;
    uint32_t len0, len1;
    uint16_t fl0, fl1;
  };
  RawSplit probe;
  probe.init(8);
  const uint64_t arena_end = Arena::iova(probe.p.arena->base()) + probe.p.arena->size();
  for (const Case& k : {
           Case{DevErr::LenOverflow, 0, 0, 8, 0xffffffffu, DESC_F_NEXT, 0},
           Case{DevErr::BadAddress, 0x10, 0, 64, 0, 0, 0},
           Case{DevErr::BadAddress, arena_end - 8, 0, 64, 0, 0, 0},  // runs past the end
           Case{DevErr::ReadAfterWrite, 1, 1, 8, 8, DESC_F_WRITE | DESC_F_NEXT, 0},
           Case{DevErr::ReadAfterWrite, 1, 1, 0, 8, DESC_F_WRITE | DESC_F_NEXT, 0},  // even a 0-byte write
       }) {
    SCOPED_TRACE(to_string(k.e));
    RawSplit r;
    r.init(8);
    const uint64_t a0 = k.addr0 == 1 ? r.a() : k.addr0 == 0 ? r.a() : k.addr0;
    const uint64_t a1 = k.addr1 <= 1 ? r.a(64) : k.addr1;
    r.d(0, k.e == DevErr::BadAddress ? k.addr0 : a0, k.len0, k.fl0, 1);
    r.d(1, a1, k.len1, k.fl1);
    r.publish(0);
    expect_dropped(r.p.dev, k.e);
  }
}
TEST(SplitDevicePeer, TooManySegments) {
  RawSplit r;
  r.init(512);
  for (uint16_t i = 0; i < 300; ++i) r.d(i, r.a(i), 1, i + 1 < 300 ? DESC_F_NEXT : 0, i + 1);
  r.publish(0);
  expect_dropped(r.p.dev, DevErr::TooManySegs);
}
TEST(SplitDevicePeer, BufferSpanningTwoRegionsIsSplitInPieces) {
  RawSplit r;
  r.init(8);
  // A second region right after the arena's guest range, backed elsewhere.
  static uint8_t extra[256];
  const uint64_t g = Arena::iova(r.p.arena->base()) + r.p.arena->size();
  ASSERT_EQ(r.p.arena->mem().add({g, sizeof extra, extra}), 0);
  r.d(0, g - 16, 32, 0);
  r.publish(0);
  Chain c;
  ASSERT_EQ(r.p.dev.pop(c), Pop::Ok);
  ASSERT_EQ(c.nseg, 2);
  EXPECT_EQ(c.segs[0].len, 16u);
  EXPECT_EQ(c.segs[1].ptr, extra);
  EXPECT_EQ(c.segs[1].len, 16u);
}

// -- packed device --------------------------------------------------------
TEST(PackedDevicePeer, ChainIntoUnavailableSlotBreaks) {
  RawPacked r;
  r.init(8);
  r.put(r.a(), 10, 0, DESC_F_NEXT);  // claims a continuation that is not there
  expect_broken(r.p.dev, DevErr::PackedNotAvail);
}
TEST(PackedDevicePeer, EndlessChainBreaks) {
  RawPacked r;
  r.init(4);
  for (int i = 0; i < 4; ++i) r.put(r.a(), 10, 0, DESC_F_NEXT);
  // all four slots available and chained: wraps onto itself
  expect_broken(r.p.dev, DevErr::ChainTooLong);
}
TEST(PackedDevicePeer, IdOutOfRangeBreaks) {
  RawPacked r;
  r.init(8);
  r.put(r.a(), 10, 8, 0);
  expect_broken(r.p.dev, DevErr::PackedIdOutOfRange);
}
TEST(PackedDevicePeer, DroppedChainKeepsItsIdAndLength) {
  RawPacked r;
  r.init(8);
  r.put(0x10, 10, 0, DESC_F_NEXT);  // bad address in the first slot
  r.put(r.a(), 10, 5, 0);
  Chain c;
  ASSERT_EQ(r.p.dev.pop(c), Pop::Dropped);
  EXPECT_EQ(c.err, DevErr::BadAddress);
  EXPECT_EQ(c.head, 5);
  EXPECT_EQ(c.ndesc, 2);
  r.p.dev.push_used(c, 0);
  EXPECT_EQ(r.desc[0].flags.get(), DESC_F_AVAIL | DESC_F_NEXT) << "written before flush()";
  r.p.dev.flush();
  EXPECT_EQ(r.desc[0].id.get(), 5);
  EXPECT_EQ(r.desc[0].flags.get(), DESC_F_AVAIL | DESC_F_USED);
  r.put(r.a(), 10, 1, 0);  // the ring goes on at slot 2
  ASSERT_EQ(r.p.dev.pop(c), Pop::Ok);
  EXPECT_EQ(c.head, 1);
}
TEST(PackedDevicePeer, IndirectRules) {
  struct Case {
    DevErr e;
    uint16_t fl;
    uint32_t len;
    bool nested;
    bool negotiated;
    bool after_direct;
  };
  for (const Case& k : {Case{DevErr::NestedIndirect, DESC_F_INDIRECT, 32, true, true, false},
                        Case{DevErr::IndirectBadLen, DESC_F_INDIRECT, 40, false, true, false},
                        Case{DevErr::IndirectBadLen, DESC_F_INDIRECT, 0, false, true, false},
                        Case{DevErr::IndirectAndNext, DESC_F_INDIRECT | DESC_F_NEXT, 32, false, true, false},
                        Case{DevErr::IndirectAndNext, DESC_F_INDIRECT, 32, false, true, true},
                        Case{DevErr::IndirectNotNegotiated, DESC_F_INDIRECT, 32, false, false, false},
                        Case{DevErr::ChainTooLong, DESC_F_INDIRECT, 16 * 9, false, true, false}}) {
    SCOPED_TRACE(to_string(k.e));
    RawPacked r;
    r.init(8, {.indirect = k.negotiated});
    auto* t = reinterpret_cast<virtio::PackedDesc*>(r.buf + 4096);
    for (int i = 0; i < 9; ++i) {
      t[i].addr.set(r.a());
      t[i].len.set(8);
      t[i].flags.set(0);
    }
    if (k.nested) t[1].flags.set(DESC_F_INDIRECT);
    if (k.after_direct) r.put(r.a(), 8, 0, DESC_F_NEXT);
    r.put(r.a(4096), k.len, 3, k.fl);
    if (k.fl & DESC_F_NEXT) r.put(r.a(), 8, 3, 0);
    expect_dropped(r.p.dev, k.e);
  }
}
// A queue the device only reads ignores WRITE flags: DPDK's virtio marks the
// header entry of its packed Tx indirect tables writable.
TEST(PackedDevicePeer, ReadOnlyQueueIgnoresWriteFlags) {
  for (bool ro : {false, true}) {
    RawPacked r;
    ASSERT_EQ(r.p.init(8, {.indirect = true}), 0);
    r.desc = reinterpret_cast<virtio::PackedDesc*>(r.p.ring);
    r.buf = r.p.arena->alloc(1 << 16, 64);
    DeviceConfig vc;
    vc.size = 8;
    vc.indirect = true;
    vc.read_only = ro;
    LayoutOf<PackedDriver>::place(vc, r.p.ring, 8);
    ASSERT_EQ(r.p.dev.init(vc, &r.p.arena->mem()), 0);
    auto* t = reinterpret_cast<virtio::PackedDesc*>(r.buf + 4096);
    t[0].addr.set(r.a());
    t[0].len.set(12);
    t[0].flags.set(DESC_F_WRITE);  // the header, wrongly marked writable
    t[1].addr.set(r.a(64));
    t[1].len.set(64);
    t[1].flags.set(0);
    r.put(r.a(4096), 32, 0, DESC_F_INDIRECT);
    Chain c;
    if (ro) {
      ASSERT_EQ(r.p.dev.pop(c), Pop::Ok);
      EXPECT_EQ(c.out_len, 76u);
      EXPECT_EQ(c.in_len, 0u);
    } else {
      ASSERT_EQ(r.p.dev.pop(c), Pop::Dropped);
      EXPECT_EQ(c.err, DevErr::ReadAfterWrite);
    }
  }
}

TEST(PackedDevicePeer, ContentRules) {
  {
    RawPacked r;
    r.init(8);
    r.put(r.a(), 8, 0, DESC_F_NEXT);
    r.put(r.a(), 0xffffffffu, 0, 0);
    expect_dropped(r.p.dev, DevErr::LenOverflow);
  }
  {
    RawPacked r;
    r.init(8);
    r.put(r.a(), 8, 0, DESC_F_WRITE | DESC_F_NEXT);
    r.put(r.a(), 8, 0, 0);
    expect_dropped(r.p.dev, DevErr::ReadAfterWrite);
  }
  {
    RawPacked r;
    r.init(512);
    for (int i = 0; i < 300; ++i) r.put(r.a(i), 1, 0, i + 1 < 300 ? DESC_F_NEXT : 0);
    expect_dropped(r.p.dev, DevErr::TooManySegs);
  }
}

// -- driver side: a device that writes garbage into the used ring -----------
template <class Drv>
class DriverPeer : public ::testing::Test {
 protected:
  QueuePair<Drv> p;
  Pool pool;
  void SetUp() override {
    ASSERT_EQ(p.init(8, {}, 1 << 16), 0);
    pool.init(*p.arena, 8, 256);
    for (uint32_t i = 0; i < 4; ++i) {
      Seg s{pool.iova(i), 100, true};
      ASSERT_EQ(p.drv.add(&s, 1, tok(i)), 0);
    }
    p.drv.publish();
  }
  // Write a used entry for `id` with `len` as a (possibly broken) device would.
  void bad_used(uint32_t id, uint32_t len, uint16_t advance = 1) {
    if constexpr (LayoutOf<Drv>::packed) {
      auto* d = reinterpret_cast<virtio::PackedDesc*>(p.ring);
      d[0].id.set(static_cast<uint16_t>(id));
      d[0].len.set(len);
      d[0].flags.set(DESC_F_AVAIL | DESC_F_USED);
      (void)advance;
    } else {
      const auto l = virtio::SplitLayout::make(8);
      auto* hdr = reinterpret_cast<virtio::SplitUsedHdr*>(p.ring + l.used_off);
      auto* e = reinterpret_cast<virtio::SplitUsedElem*>(hdr + 1);
      e[0].id.set(id);
      e[0].len.set(len);
      hdr->idx.set(advance);
    }
  }
  void expect_broken(DrvErr e) {
    UsedBuf u[8];
    EXPECT_EQ(p.drv.poll_used(u, 8), 0);
    EXPECT_TRUE(p.drv.broken());
    EXPECT_EQ(p.drv.errors()[e], 1u);
    EXPECT_EQ(p.drv.poll_used(u, 8), 0);
    // Teardown still hands back every buffer: nothing leaks.
    uint32_t n = 0;
    p.drv.drain([&](void*) { ++n; });
    EXPECT_EQ(n, 4u);
  }
};
TYPED_TEST_SUITE(DriverPeer, Layouts);

TYPED_TEST(DriverPeer, IdOutOfRange) {
  this->bad_used(8, 0);
  this->expect_broken(DrvErr::UsedIdOutOfRange);
}
TYPED_TEST(DriverPeer, IdNotOutstanding) {
  // Split: descriptor 5 is free; packed: buffer id 5 was never handed out.
  this->bad_used(5, 0);
  this->expect_broken(DrvErr::UsedIdNotHead);
}
TYPED_TEST(DriverPeer, LenLargerThanBuffer) {
  this->bad_used(0, 101);
  this->expect_broken(DrvErr::UsedLenTooLong);
}
// Device-readable-only buffers (Tx): a device reporting their readable length
// (DPDK's vhost does on packed rings) is tolerated; the length reads as 0.
TYPED_TEST(DriverPeer, LenOnReadOnlyBufferIsIgnored) {
  QueuePair<TypeParam> q;
  ASSERT_EQ(q.init(8, {}), 0);
  Pool bufs;
  bufs.init(*q.arena, 8, 64);
  Seg s{bufs.iova(0), 64, false};
  ASSERT_EQ(q.drv.add(&s, 1, tok(0)), 0);
  q.drv.publish();
  Chain c;
  ASSERT_EQ(q.dev.pop(c), Pop::Ok);
  q.dev.push_used(c, 64 + 12);
  q.dev.flush();
  UsedBuf u;
  ASSERT_EQ(q.drv.poll_used(&u, 1), 1);
  EXPECT_EQ(u.len, 0u);
  EXPECT_FALSE(q.drv.broken());
}

TYPED_TEST(DriverPeer, UsedTwice) {
  this->bad_used(0, 10);
  UsedBuf u[8];
  ASSERT_EQ(this->p.drv.poll_used(u, 8), 1);
  // The device reports buffer 0 again in the next slot.
  if constexpr (LayoutOf<TypeParam>::packed) {
    auto* d = reinterpret_cast<virtio::PackedDesc*>(this->p.ring);
    d[1].id.set(0);
    d[1].len.set(0);
    d[1].flags.set(DESC_F_AVAIL | DESC_F_USED);
  } else {
    const auto l = virtio::SplitLayout::make(8);
    auto* hdr = reinterpret_cast<virtio::SplitUsedHdr*>(this->p.ring + l.used_off);
    auto* e = reinterpret_cast<virtio::SplitUsedElem*>(hdr + 1);
    e[1].id.set(0);
    hdr->idx.set(2);
  }
  EXPECT_EQ(this->p.drv.poll_used(u, 8), 0);
  EXPECT_TRUE(this->p.drv.broken());
  EXPECT_EQ(this->p.drv.errors()[DrvErr::UsedIdNotHead], 1u);
}
// A used entry for a buffer added but not yet published is a jump too, and
// a broken ring refuses new buffers.
TEST(SplitDriverPeer, UsedBeyondPublishedAndAddOnBroken) {
  QueuePair<SplitDriver> p;
  ASSERT_EQ(p.init(8, {}), 0);
  Pool pool;
  pool.init(*p.arena, 8, 64);
  Seg s{pool.iova(0), 64, true};
  ASSERT_EQ(p.drv.add(&s, 1, tok(0)), 0);  // not published
  const auto l = virtio::SplitLayout::make(8);
  auto* hdr = reinterpret_cast<virtio::SplitUsedHdr*>(p.ring + l.used_off);
  reinterpret_cast<virtio::SplitUsedElem*>(hdr + 1)[0].id.set(0);
  hdr->idx.set(1);
  UsedBuf u[4];
  EXPECT_EQ(p.drv.poll_used(u, 4), 0);
  EXPECT_EQ(p.drv.errors()[DrvErr::UsedIdxJump], 1u);
  EXPECT_EQ(p.drv.add(&s, 1, tok(1)), -EIO);
}

// A batch longer than the ring must not push the used index off the table.
TEST(PackedDevicePeer, OversizedBatchStaysInsideTable) {
  RawPacked r;
  r.init(4);
  r.put(r.a(), 8, 0, 0);
  Chain c;
  ASSERT_EQ(r.p.dev.pop(c), Pop::Ok);
  r.p.dev.push_used_batch(c, 0, 9);  // 2 laps + 1
  r.p.dev.push_used(c, 0);           // lands in slot 1, inside the table
  EXPECT_EQ(r.p.dev.used_idx() & 0x7fff, 2);
}

// Buffers completed in order come back to the free list in order, so
// descriptor i goes out again at avail slot i: the device reads the table in
// sequence and the avail ring keeps its values. (A LIFO free list handed
// them out reversed within each burst and rewrote the avail ring every lap.)
TEST(SplitDriverPeer, InOrderCompletionReusesDescriptorsInRingOrder) {
  QueuePair<SplitDriver> p;
  ASSERT_EQ(p.init(16, {}), 0);
  Pool pool;
  pool.init(*p.arena, 16, 64);
  uint32_t slot = 0;
  for (int burst = 0; burst < 12; ++burst) {
    const uint32_t n = 1 + static_cast<uint32_t>(burst * 5) % 16;
    for (uint32_t i = 0; i < n; ++i) {
      Seg s{pool.iova(i), 64, true};
      ASSERT_EQ(p.drv.add(&s, 1, tok(i)), 0);
    }
    p.drv.publish();
    Chain c[16];
    for (uint32_t i = 0; i < n; ++i, ++slot) {
      ASSERT_EQ(p.dev.pop(c[i]), Pop::Ok);
      EXPECT_EQ(c[i].head, slot % 16) << "burst " << burst << " buffer " << i;
    }
    for (uint32_t i = 0; i < n; ++i) p.dev.push_used(c[i], 64);
    p.dev.flush();
    UsedBuf u[16];
    ASSERT_EQ(p.drv.poll_used(u, 16), n);
    for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(untok(u[i].token), i);
  }
}

TEST(SplitDriverPeer, UsedIdxJump) {
  QueuePair<SplitDriver> p;
  ASSERT_EQ(p.init(8, {}), 0);
  Pool pool;
  pool.init(*p.arena, 8, 64);
  Seg s{pool.iova(0), 64, true};
  ASSERT_EQ(p.drv.add(&s, 1, tok(0)), 0);
  p.drv.publish();
  const auto l = virtio::SplitLayout::make(8);
  reinterpret_cast<virtio::SplitUsedHdr*>(p.ring + l.used_off)->idx.set(2);  // only 1 was available
  UsedBuf u[4];
  EXPECT_EQ(p.drv.poll_used(u, 4), 0);
  EXPECT_TRUE(p.drv.broken());
  EXPECT_EQ(p.drv.errors()[DrvErr::UsedIdxJump], 1u);
}
TEST(SplitDriverPeer, InOrderBatchNamingUnknownId) {
  QueuePair<SplitDriver> p;
  ASSERT_EQ(p.init(8, {.in_order = true}), 0);
  Pool pool;
  pool.init(*p.arena, 8, 64);
  for (uint32_t i = 0; i < 2; ++i) {
    Seg s{pool.iova(i), 64, true};
    ASSERT_EQ(p.drv.add(&s, 1, tok(i)), 0);
  }
  p.drv.publish();
  const auto l = virtio::SplitLayout::make(8);
  auto* hdr = reinterpret_cast<virtio::SplitUsedHdr*>(p.ring + l.used_off);
  auto* e = reinterpret_cast<virtio::SplitUsedElem*>(hdr + 1);
  e[0].id.set(6);  // a descriptor that is free
  hdr->idx.set(2);
  UsedBuf u[4];
  EXPECT_EQ(p.drv.poll_used(u, 4), 0);
  EXPECT_EQ(p.drv.errors()[DrvErr::UsedIdNotHead], 1u);
}

}  // namespace
}  // namespace vnet::ring::test
