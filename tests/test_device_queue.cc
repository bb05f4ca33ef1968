// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// ring::DeviceQueue, the one device-side virtqueue type: the same contract
// on both layouts (pop, push_used(head, ndesc, len), drain, positions),
// against the driver side in one arena; and the layout facts the vhost-user
// backend asks it for (sizes, ring areas, the SET/GET_VRING_BASE word).
#include <gtest/gtest.h>

#include "ring/device_queue.h"
#include "ring_test_util.h"

namespace vnet::ring::test {
namespace {

template <class Drv>
class DeviceQueueTest : public ::testing::Test {};
TYPED_TEST_SUITE(DeviceQueueTest, Layouts);

// A DeviceQueue over the pair's ring, armed the way the backend arms one.
template <class Drv>
int arm(QueuePair<Drv>& qp, DeviceQueue<RegionTable>& dq, uint32_t n) {
  using L = LayoutOf<Drv>;
  DeviceConfig c;
  c.layout = L::layout;
  c.size = n;
  L::place(c, qp.ring, n);
  return dq.init(c, &qp.arena->mem());
}

TYPED_TEST(DeviceQueueTest, OneContractForBothLayouts) {
  using L = LayoutOf<TypeParam>;
  constexpr uint32_t n = 8;
  QueuePair<TypeParam> qp;
  ASSERT_EQ(qp.init(n, {}), 0);
  DeviceQueue<RegionTable> dq;
  EXPECT_EQ(dq.size(), 0u);  // not armed yet
  ASSERT_EQ(arm(qp, dq, n), 0);
  EXPECT_EQ(dq.layout(), L::layout);
  EXPECT_EQ(dq.size(), n);
  Pool pool;
  pool.init(*qp.arena, n, 256);
  for (uint32_t i = 0; i < 3; ++i) {
    const Seg s{pool.iova(i), 256, true};
    ASSERT_EQ(qp.drv.add(&s, 1, tok(i)), 0);
  }
  qp.drv.publish();

  // Pop three, give the second back unused, complete the other two with
  // push_used(head, ndesc, len): the Chain is not needed once popped.
  struct Done {
    uint16_t head, ndesc;
  } got[3];
  Chain c;
  for (auto& g : got) {
    ASSERT_EQ(dq.pop(c), Pop::Ok);
    EXPECT_EQ(c.in_len, 256u);
    g = {c.head, c.ndesc};
  }
  EXPECT_EQ(dq.pop(c), Pop::Empty);
  const Cursor before = dq.save();
  EXPECT_EQ(dq.pop(c), Pop::Empty);
  dq.restore(before);
  dq.push_used(got[0].head, got[0].ndesc, 10);
  EXPECT_FALSE(dq.drain());  // published; the driver polls (its interrupts are off)
  (void)qp.drv.enable_cb();
  dq.push_used(got[1].head, got[1].ndesc, 0);
  dq.push_used(got[2].head, got[2].ndesc, 30);
  EXPECT_TRUE(dq.drain());  // published, and now the driver asked to be told

  UsedBuf out[4];
  ASSERT_EQ(qp.drv.poll_used(out, 4), 3);
  EXPECT_EQ(untok(out[0].token), 0u);
  EXPECT_EQ(out[0].len, 10u);
  EXPECT_EQ(out[1].len, 0u);
  EXPECT_EQ(out[2].len, 30u);
  EXPECT_FALSE(dq.drain());  // nothing new since
  EXPECT_FALSE(dq.broken());
  EXPECT_EQ(dq.errors().total(), 0u);

  // Positions: three chains of one slot each, from the start (packed: wrap 1).
  const uint16_t wrap = L::packed ? 0x8000 : 0;
  EXPECT_EQ(dq.last_avail(), 3 | wrap);
  EXPECT_EQ(dq.used_idx(), 3 | wrap);
  EXPECT_EQ(dq.position().avail, dq.last_avail());
  EXPECT_EQ(dq.base_word(), L::packed ? (3u | 0x8000u) * 0x10001u : 3u);

  dq.reset();
  EXPECT_EQ(dq.size(), 0u);
  EXPECT_EQ(dq.layout(), Layout::Split);
}

TYPED_TEST(DeviceQueueTest, DroppedChainsAndErrorsGoThroughTheSameQueue) {
  using L = LayoutOf<TypeParam>;
  constexpr uint32_t n = 4;
  QueuePair<TypeParam> qp;
  ASSERT_EQ(qp.init(n, {}), 0);
  DeviceQueue<RegionTable> dq;
  ASSERT_EQ(arm(qp, dq, n), 0);
  const Seg s{uint64_t{1} << 50, 64, true};  // outside guest memory
  ASSERT_EQ(qp.drv.add(&s, 1, tok(7)), 0);
  qp.drv.publish();
  Chain c;
  ASSERT_EQ(dq.pop(c), Pop::Dropped);
  EXPECT_EQ(c.err, DevErr::BadAddress);
  EXPECT_EQ(dq.errors()[DevErr::BadAddress], 1u);
  dq.push_used(c, 0);
  dq.flush();
  UsedBuf out[1];
  ASSERT_EQ(qp.drv.poll_used(out, 1), 1);
  EXPECT_EQ(untok(out[0].token), 7u);
  EXPECT_EQ(dq.layout(), L::layout);
}

TEST(DeviceQueueFacts, SizesAreasAndBaseWords) {
  EXPECT_TRUE(size_ok(Layout::Split, 256));
  EXPECT_FALSE(size_ok(Layout::Split, 255));
  EXPECT_TRUE(size_ok(Layout::Packed, 255));
  EXPECT_FALSE(size_ok(Layout::Packed, 0));
  EXPECT_FALSE(size_ok(Layout::Packed, 32769));
  EXPECT_STREQ(layout_name(Layout::Packed), "packed");
  EXPECT_EQ(layout_of(virtio::bit(virtio::feat::RING_PACKED)), Layout::Packed);
  EXPECT_EQ(layout_of(0), Layout::Split);

  // The areas are what the layouts place in one allocation.
  const auto s = ring_areas(Layout::Split, 256);
  const auto sl = virtio::SplitLayout::make(256);
  EXPECT_EQ(s.desc.bytes, sl.avail_off);
  EXPECT_EQ(s.driver.bytes + 2, sl.used_off - sl.avail_off);  // 2 bytes of padding to the used ring's 4
  EXPECT_EQ(s.device.bytes, sl.total - sl.used_off);
  const auto p = ring_areas(Layout::Packed, 3);
  const auto pl = virtio::PackedLayout::make(3);
  EXPECT_EQ(p.desc.bytes, pl.driver_event_off);
  EXPECT_EQ(p.driver.bytes + p.device.bytes, pl.total - pl.driver_event_off);

  EXPECT_TRUE(base_word_ok(Layout::Split, 0xffff, 256));
  EXPECT_FALSE(base_word_ok(Layout::Split, 0x10000, 256));
  EXPECT_TRUE(base_word_ok(Layout::Packed, 0x00058007, 256));
  EXPECT_FALSE(base_word_ok(Layout::Packed, 0x8100, 256));      // avail slot 256
  EXPECT_FALSE(base_word_ok(Layout::Packed, 0x01008000, 256));  // used slot 256
  EXPECT_TRUE(base_word_ok(Layout::Packed, 0x01008000, 0));     // size not known yet
  EXPECT_EQ(start_base_word(Layout::Split), 0u);
  EXPECT_EQ(start_base_word(Layout::Packed), 0x8000u);  // slot 0, wrap counter 1
  const Position a = position_of(Layout::Packed, 0x8007, nullptr);
  EXPECT_EQ(a.avail, 0x8007);
  EXPECT_EQ(a.used, 0x8007);  // DPDK's 16-bit word: used = avail
  const Position b = position_of(Layout::Packed, 0x00058007, nullptr);
  EXPECT_EQ(b.used, 0x0005);
  virtio::SplitUsedHdr used{};
  used.idx.set(42);
  const Position c = position_of(Layout::Split, 7, &used);
  EXPECT_EQ(c.avail, 7);
  EXPECT_EQ(c.used, 42);  // where the driver last saw it

  DeviceConfig cfg;
  cfg.layout = Layout::Packed;
  start_at(cfg, b);
  EXPECT_EQ(cfg.avail_base, 7);
  EXPECT_TRUE(cfg.avail_wrap);
  EXPECT_EQ(cfg.used_base, 5);
  EXPECT_FALSE(cfg.used_wrap);
}

}  // namespace
}  // namespace vnet::ring::test
