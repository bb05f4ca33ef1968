// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// ring::DriverQueue, the one driver-side virtqueue type, over both layouts
// against the device side: layout switching, the static layout rules, the
// shadow memory it takes from the caller, and the one meaning of drain()
// (driver_queue.h) that both layouts honour.
#include "ring/driver_queue.h"

#include <gtest/gtest.h>

#include <vector>

#include "ring_test_util.h"

namespace vnet::ring::test {
namespace {

template <class R>
struct Rig {
  using L = LayoutOf<R>;
  static constexpr uint32_t kMax = 64;
  Arena arena{L::bytes(kMax) + (1u << 20)};
  uint8_t* ring = arena.alloc(L::bytes(kMax), 4096);
  HeapShadow shadow{DriverQueue::bytes_needed(kMax)};
  DriverQueue q;
  typename L::Device dev;

  DriverConfig config(uint32_t n) {
    DriverConfig c;
    c.size = n;
    c.ring = RingMem{ring, Arena::iova(ring)};
    c.shadow = shadow.mem();
    return c;
  }
  int init(uint32_t n) {
    if (const int rc = q.init(kLayoutOf<R>, config(n)); rc != 0) return rc;
    DeviceConfig vc;
    vc.size = n;
    L::place(vc, ring, n);
    return dev.init(vc, &arena.mem());
  }
};

template <class R>
class DriverQueueTest : public ::testing::Test {
 protected:
  Rig<R> r;
  Pool pool;
  void SetUp() override { pool.init(r.arena, 64, 64); }
  int add1(uint32_t slot) {
    const Seg s{pool.iova(slot), 64, true};
    return r.q.add(&s, 1, tok(slot));
  }
  std::vector<uintptr_t> drain() {
    std::vector<uintptr_t> got;
    r.q.drain([&](void* t) { got.push_back(untok(t)); });
    return got;
  }
};

TYPED_TEST_SUITE(DriverQueueTest, Layouts);

TYPED_TEST(DriverQueueTest, InitTakesTheLayoutAndTheConcreteRing) {
  ASSERT_EQ(this->r.init(16), 0);
  EXPECT_EQ(this->r.q.layout(), kLayoutOf<TypeParam>);
  EXPECT_EQ(&this->r.q.template as<TypeParam>().errors(), &this->r.q.errors());
  EXPECT_EQ(this->r.q.size(), 16u);
  EXPECT_EQ(this->r.q.free_slots(), 16u);
  EXPECT_EQ(this->r.q.in_flight(), 0u);
  EXPECT_FALSE(this->r.q.broken());
  // The other layout over the same memory, and back.
  const Layout other = kLayoutOf<TypeParam> == Layout::Split ? Layout::Packed : Layout::Split;
  ASSERT_EQ(this->r.q.init(other, this->r.config(16)), 0);
  EXPECT_EQ(this->r.q.layout(), other);
  ASSERT_EQ(this->r.init(16), 0);
  EXPECT_EQ(this->r.q.layout(), kLayoutOf<TypeParam>);
}

TYPED_TEST(DriverQueueTest, InitRejectsMissingOrShortShadowMemory) {
  DriverConfig c = this->r.config(16);
  c.shadow.bytes = TypeParam::bytes_needed(16) - 1;
  EXPECT_EQ(this->r.q.init(kLayoutOf<TypeParam>, c), -EINVAL);
  c.shadow = ShadowMem{};
  EXPECT_EQ(this->r.q.init(kLayoutOf<TypeParam>, c), -EINVAL);
  c = this->r.config(16);
  c.shadow.va = static_cast<uint8_t*>(c.shadow.va) + 1;  // misaligned
  EXPECT_EQ(this->r.q.init(kLayoutOf<TypeParam>, c), -EINVAL);
  c.shadow.bytes = TypeParam::bytes_needed(16);
  c.shadow.va = this->r.shadow.mem().va;
  EXPECT_EQ(this->r.q.init(kLayoutOf<TypeParam>, c), 0);
}

// drain(): every outstanding token once, in id order, published or not,
// completed-but-not-reaped too; descriptors released; unpublished buffers
// withdrawn; the queue stopped until init(); a second drain hands nothing.
TYPED_TEST(DriverQueueTest, DrainHasOneMeaning) {
  auto& q = this->r.q;
  auto& dev = this->r.dev;
  ASSERT_EQ(this->r.init(16), 0);
  for (uint32_t i = 0; i < 8; ++i) ASSERT_EQ(this->add1(i), 0);
  q.publish();
  ASSERT_EQ(this->add1(8), 0);  // added, never published
  ASSERT_EQ(this->add1(9), 0);
  Chain c;
  for (int i = 0; i < 3; ++i) {  // the device completes 0, 1, 2
    ASSERT_EQ(dev.pop(c), Pop::Ok);
    dev.push_used(c, 10);
  }
  dev.flush();
  UsedBuf u[4];
  ASSERT_EQ(q.poll_used(u, 2), 2);  // 0 and 1 reaped, 2 completed and not reaped
  EXPECT_EQ(untok(u[0].token), 0u);
  EXPECT_EQ(untok(u[1].token), 1u);
  ASSERT_EQ(q.in_flight(), 8u);

  EXPECT_EQ(this->drain(), (std::vector<uintptr_t>{2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(q.in_flight(), 0u);
  EXPECT_EQ(q.free_slots(), q.size());
  EXPECT_FALSE(q.broken());
  EXPECT_EQ(q.errors().total(), 0u);

  // Stopped: nothing added, nothing reaped, nothing to kick.
  EXPECT_EQ(this->add1(10), -EIO);
  q.publish();
  EXPECT_FALSE(q.kick_prepare());
  EXPECT_EQ(q.poll_used(u, 4), 0);
  EXPECT_TRUE(this->drain().empty());
  // Withdrawn: a device that went on would find the five published buffers
  // it had not taken, never the two that were not published.
  std::vector<Chain> rest(5);
  for (auto& ch : rest) ASSERT_EQ(dev.pop(ch), Pop::Ok);
  EXPECT_EQ(dev.pop(c), Pop::Empty);
  for (const auto& ch : rest) dev.push_used(ch, 0);
  dev.flush();
  EXPECT_EQ(q.poll_used(u, 4), 0);  // never a drained token
  EXPECT_EQ(q.in_flight(), 0u);

  // init() makes it a fresh queue.
  ASSERT_EQ(this->r.init(16), 0);
  ASSERT_EQ(this->add1(11), 0);
  q.publish();
  ASSERT_EQ(dev.pop(c), Pop::Ok);
  dev.push_used(c, 7);
  dev.flush();
  ASSERT_EQ(q.poll_used(u, 4), 1);
  EXPECT_EQ(untok(u[0].token), 11u);
  EXPECT_EQ(u[0].len, 7u);
}

TYPED_TEST(DriverQueueTest, DrainOfAnIdleQueueHandsNothing) {
  ASSERT_EQ(this->r.init(8), 0);
  EXPECT_TRUE(this->drain().empty());
  EXPECT_EQ(this->r.q.free_slots(), 8u);
  EXPECT_EQ(this->r.q.in_flight(), 0u);
  DriverQueue never_initialised;
  never_initialised.drain([](void*) { FAIL(); });
}

TEST(DriverQueueStatics, LayoutRules) {
  EXPECT_TRUE(size_ok(Layout::Split, 256));
  EXPECT_FALSE(size_ok(Layout::Split, 255));
  EXPECT_TRUE(size_ok(Layout::Packed, 255));
  for (Layout l : {Layout::Split, Layout::Packed}) {
    EXPECT_FALSE(size_ok(l, 0));
    EXPECT_TRUE(size_ok(l, 32768));
    EXPECT_FALSE(size_ok(l, 32769));
  }
  const RingParts s = DriverQueue::parts(Layout::Split, 256, 4096);
  const auto sl = virtio::SplitLayout::make(256, 4096);
  EXPECT_EQ(s.desc, sl.desc_off);
  EXPECT_EQ(s.driver, sl.avail_off);
  EXPECT_EQ(s.device, sl.used_off);
  EXPECT_EQ(s.total, sl.total);
  const RingParts p = DriverQueue::parts(Layout::Packed, 256, 4096);
  const auto pl = virtio::PackedLayout::make(256);
  EXPECT_EQ(p.desc, pl.desc_off);
  EXPECT_EQ(p.driver, pl.driver_event_off);
  EXPECT_EQ(p.device, pl.device_event_off);
  EXPECT_EQ(p.total, pl.total);
  EXPECT_EQ(DriverQueue::ring_bytes_any(256, 4096), std::max(s.total, p.total));
  for (uint32_t n : {1u, 255u, 256u, 32768u}) {
    EXPECT_GE(DriverQueue::bytes_needed(n), SplitDriver::bytes_needed(n));
    EXPECT_GE(DriverQueue::bytes_needed(n), PackedDriver::bytes_needed(n));
  }
}

}  // namespace
}  // namespace vnet::ring::test
