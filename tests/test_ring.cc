// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Typed suites: the same cases over the split and the packed ring, driver
// side against device side in one process. Wraps at several sizes, full and
// empty, chains, indirect, in-order batches, notification suppression and
// event-index arithmetic across the 16-bit wrap.
#include <gtest/gtest.h>

#include <deque>
#include <numeric>

#include "ring_test_util.h"

namespace vnet::ring::test {
namespace {

template <class Drv>
class RingTest : public ::testing::Test {
 protected:
  QueuePair<Drv> p;
  Pool pool;

  void setup(uint32_t n, Features f, uint32_t slot_bytes = 256) {
    const size_t pool_bytes = size_t{n} * slot_bytes;
    ASSERT_EQ(p.init(n, f, pool_bytes + 4096), 0);
    pool.init(*p.arena, n, slot_bytes);
  }
  int add1(uint32_t slot, uint32_t len, bool write) {
    Seg s{pool.iova(slot), len, write};
    return p.drv.add(&s, 1, tok(slot));
  }
};

TYPED_TEST_SUITE(RingTest, Layouts);

// Three full wraps, one buffer at a time and in bursts, at every size.
TYPED_TEST(RingTest, ThreeWrapsAtEverySize) {
  for (uint32_t n : Sizes<TypeParam>::all()) {
    SCOPED_TRACE(n);
    this->setup(n, {});
    auto& drv = this->p.drv;
    auto& dev = this->p.dev;
    uint64_t sent = 0, got = 0;
    std::deque<uint32_t> expect;  // completed in order here
    const uint64_t total = 3ull * n + 7;
    uint32_t next_slot = 0;
    std::vector<UsedBuf> out(n);
    while (got < total) {
      // burst size cycles 1..n so both single and full-ring bursts happen
      const uint32_t burst = static_cast<uint32_t>(1 + (sent % n));
      uint32_t added = 0;
      while (added < burst && sent < total && drv.free_slots() > 0) {
        const uint32_t slot = next_slot;
        next_slot = (next_slot + 1) % n;
        ASSERT_EQ(this->add1(slot, 64, true), 0);
        expect.push_back(slot);
        ++added;
        ++sent;
      }
      drv.publish();
      ASSERT_EQ(complete_all(dev, n, [](const Chain& c) { return c.in_len; }), added);
      const uint16_t k = drv.poll_used(out.data(), static_cast<uint16_t>(std::min<uint32_t>(n, 65535)));
      ASSERT_EQ(k, added);
      for (uint16_t i = 0; i < k; ++i) {
        ASSERT_EQ(untok(out[i].token), expect.front());
        ASSERT_EQ(out[i].len, 64u);
        expect.pop_front();
      }
      got += k;
      ASSERT_EQ(drv.free_slots(), n);
    }
    EXPECT_FALSE(drv.broken());
    EXPECT_FALSE(dev.broken());
  }
}

TYPED_TEST(RingTest, FullAndEmpty) {
  for (uint32_t n : {1u, 2u, 8u, 256u}) {
    SCOPED_TRACE(n);
    this->setup(n, {});
    auto& drv = this->p.drv;
    UsedBuf u[8];
    EXPECT_EQ(drv.poll_used(u, 8), 0);  // empty
    Chain c;
    EXPECT_EQ(this->p.dev.pop(c), Pop::Empty);
    for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(this->add1(i, 16, false), 0);
    EXPECT_EQ(drv.free_slots(), 0u);
    EXPECT_EQ(drv.in_flight(), n);
    EXPECT_EQ(this->add1(0, 16, false), -ENOSPC);
    drv.publish();
    EXPECT_EQ(complete_all(this->p.dev, n + 1, [](const Chain&) { return 0u; }), n);
    EXPECT_EQ(this->p.dev.pop(c), Pop::Empty);
    std::vector<UsedBuf> out(n + 1);
    EXPECT_EQ(drv.poll_used(out.data(), static_cast<uint16_t>(n + 1)), n);
    EXPECT_EQ(drv.free_slots(), n);
    EXPECT_EQ(drv.in_flight(), 0u);
  }
}

// Batches: the device sees nothing the driver added before publish(), and
// the driver sees no used entry before the device's flush(); then the
// whole batch at once, in order, chains mixed with single buffers, across
// the wrap and past the device's 64-entry staging area.
TYPED_TEST(RingTest, BatchesAppearOnlyWhenPublished) {
  this->setup(256, {}, 256);
  auto& drv = this->p.drv;
  auto& dev = this->p.dev;
  std::vector<UsedBuf> out(256);
  uint32_t slot = 0;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    const uint32_t nbuf = 70 + 20 * static_cast<uint32_t>(round % 2);  // > 64 used entries per flush
    std::vector<uint32_t> toks;
    for (uint32_t i = 0; i < nbuf; ++i, slot = (slot + 1) % 256) {
      if (i % 7 == 3) {  // a two-descriptor chain now and then
        Seg segs[2] = {{this->pool.iova(slot), 16, false}, {this->pool.iova(slot) + 16, 32, true}};
        ASSERT_EQ(drv.add(segs, 2, tok(slot), false), 0);
      } else {
        ASSERT_EQ(this->add1(slot, 48, true), 0);
      }
      toks.push_back(slot);
    }
    Chain c;
    ASSERT_EQ(dev.pop(c), Pop::Empty) << "available before publish()";
    drv.publish();
    std::vector<Chain> held(nbuf);
    for (uint32_t i = 0; i < nbuf; ++i) ASSERT_EQ(dev.pop(held[i]), Pop::Ok);
    ASSERT_EQ(dev.pop(c), Pop::Empty);
    for (uint32_t i = 0; i < nbuf; ++i) dev.push_used(held[i], held[i].in_len);
    // Past 64 staged entries the device may already have written some; the
    // rest must wait for flush().
    const uint16_t early = drv.poll_used(out.data(), 256);
    EXPECT_LE(early, 64u);
    dev.flush();
    const uint16_t late = drv.poll_used(out.data() + early, 256);
    ASSERT_EQ(early + late, nbuf);
    for (uint32_t i = 0; i < nbuf; ++i) {
      ASSERT_EQ(untok(out[i].token), toks[i]);
      ASSERT_EQ(out[i].len, i % 7 == 3 ? 32u : 48u);
    }
    EXPECT_EQ(drv.free_slots(), 256u);
  }
  EXPECT_FALSE(drv.broken());
  EXPECT_FALSE(dev.broken());
}

// Multi-descriptor chains: readable then writable, device sees the bytes.
TYPED_TEST(RingTest, ChainsCarryDataBothWays) {
  for (bool indirect : {false, true}) {
    SCOPED_TRACE(indirect);
    this->setup(16, {.indirect = indirect}, 1024);
    auto& drv = this->p.drv;
    uint8_t* b = this->pool.at(0);
    for (int i = 0; i < 100; ++i) b[i] = static_cast<uint8_t>(i);
    Seg segs[4] = {{this->pool.iova(0), 10, false},
                   {this->pool.iova(0) + 10, 90, false},
                   {this->pool.iova(1), 50, true},
                   {this->pool.iova(2), 70, true}};
    const uint32_t before = drv.free_slots();
    ASSERT_EQ(drv.add(segs, 4, tok(7)), 0);
    EXPECT_EQ(before - drv.free_slots(), indirect ? 1u : 4u);
    drv.publish();
    Chain c;
    ASSERT_EQ(this->p.dev.pop(c), Pop::Ok);
    EXPECT_EQ(c.out_len, 100u);
    EXPECT_EQ(c.in_len, 120u);
    ASSERT_EQ(c.nout, 2);
    ASSERT_EQ(c.nseg, 4);
    EXPECT_EQ(c.segs[0].ptr, b);
    EXPECT_EQ(c.segs[1].ptr[0], 10);
    std::memset(c.segs[2].ptr, 0xab, 50);
    std::memset(c.segs[3].ptr, 0xcd, 20);
    this->p.dev.push_used(c, 70);
    this->p.dev.flush();
    UsedBuf u;
    ASSERT_EQ(drv.poll_used(&u, 1), 1);
    EXPECT_EQ(untok(u.token), 7u);
    EXPECT_EQ(u.len, 70u);
    EXPECT_EQ(this->pool.at(1)[49], 0xab);
    EXPECT_EQ(this->pool.at(2)[19], 0xcd);
    EXPECT_EQ(drv.free_slots(), before);
  }
}

TYPED_TEST(RingTest, WritableBeforeReadableIsRejectedByDriver) {
  this->setup(8, {});
  Seg segs[2] = {{this->pool.iova(0), 8, true}, {this->pool.iova(1), 8, false}};
  EXPECT_EQ(this->p.drv.add(segs, 2, tok(0)), -EINVAL);
  EXPECT_EQ(this->p.drv.add(segs, 0, tok(0)), -EINVAL);
  EXPECT_EQ(this->p.drv.free_slots(), 8u);
}

// Indirect chains take one slot each: a ring of 4 carries 4 chains of 4;
// no chain may be longer than the queue, indirect or not (2.7.5.3.1).
TYPED_TEST(RingTest, IndirectUsesOneSlotPerChain) {
  this->setup(4, {.indirect = true}, 512);
  Seg segs[8];
  for (int i = 0; i < 5; ++i) segs[i] = Seg{this->pool.iova(0), 8, false};
  EXPECT_EQ(this->p.drv.add(segs, 5, tok(0)), -EINVAL);
  for (uint32_t k = 0; k < 4; ++k) {
    for (int i = 0; i < 4; ++i) segs[i] = Seg{this->pool.iova(k) + i * 64u, 64, i >= 2};
    ASSERT_EQ(this->p.drv.add(segs, 4, tok(k)), 0);
  }
  EXPECT_EQ(this->p.drv.free_slots(), 0u);
  this->p.drv.publish();
  Chain c;
  for (uint32_t k = 0; k < 4; ++k) {
    ASSERT_EQ(this->p.dev.pop(c), Pop::Ok);
    EXPECT_EQ(c.nseg, 4);
    EXPECT_EQ(c.nout, 2);
    this->p.dev.push_used(c, 128);
  }
  this->p.dev.flush();
  UsedBuf u[4];
  ASSERT_EQ(this->p.drv.poll_used(u, 4), 4);
  for (uint32_t k = 0; k < 4; ++k) EXPECT_EQ(u[k].len, 128u);
}

// Out-of-order completion (no IN_ORDER): tokens come back as the device used them.
TYPED_TEST(RingTest, OutOfOrderCompletion) {
  this->setup(8, {});
  for (uint32_t i = 0; i < 8; ++i) ASSERT_EQ(this->add1(i, 32, true), 0);
  this->p.drv.publish();
  std::vector<Chain> cs(8);
  for (auto& c : cs) ASSERT_EQ(this->p.dev.pop(c), Pop::Ok);
  const int order[8] = {3, 0, 7, 1, 6, 2, 5, 4};
  for (int i : order) this->p.dev.push_used(cs[i], static_cast<uint32_t>(i));
  this->p.dev.flush();
  UsedBuf u[8];
  ASSERT_EQ(this->p.drv.poll_used(u, 8), 8);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(untok(u[i].token), static_cast<uintptr_t>(order[i]));
    EXPECT_EQ(u[i].len, static_cast<uint32_t>(order[i]));
  }
  // Slots freed out of order are reused correctly.
  for (uint32_t i = 0; i < 8; ++i) ASSERT_EQ(this->add1(i, 32, true), 0);
  EXPECT_EQ(this->p.drv.free_slots(), 0u);
}

// IN_ORDER: the device returns a batch with a single used entry naming the
// last buffer; the driver completes all of them, in order.
TYPED_TEST(RingTest, InOrderBatchOfOneEntry) {
  for (uint32_t n : {4u, 5u, 64u}) {
    if (!LayoutOf<TypeParam>::packed && (n & (n - 1))) continue;
    SCOPED_TRACE(n);
    this->setup(n, {.in_order = true});
    auto& drv = this->p.drv;
    auto& dev = this->p.dev;
    uint32_t next = 0;
    for (int round = 0; round < 10; ++round) {  // several laps
      const uint32_t batch = 1 + (round % n);
      for (uint32_t i = 0; i < batch; ++i) ASSERT_EQ(this->add1((next + i) % n, 32, true), 0);
      drv.publish();
      Chain c;
      uint32_t slots = 0;
      for (uint32_t i = 0; i < batch; ++i) {
        ASSERT_EQ(dev.pop(c), Pop::Ok);
        slots += c.ndesc;
      }
      dev.push_used_batch(c, 17,
                          LayoutOf<TypeParam>::packed ? static_cast<uint16_t>(slots) : static_cast<uint16_t>(batch));
      dev.flush();
      // Reap with a small budget to cross the batch in pieces.
      std::vector<UsedBuf> u(batch);
      uint32_t got = 0;
      while (got < batch) {
        const uint16_t k = drv.poll_used(u.data() + got, 2);
        ASSERT_GT(k, 0);
        got += k;
      }
      for (uint32_t i = 0; i < batch; ++i) {
        EXPECT_EQ(untok(u[i].token), (next + i) % n);
        EXPECT_EQ(u[i].len, i + 1 == batch ? 17u : 0u);
      }
      next = (next + batch) % n;
      EXPECT_EQ(drv.free_slots(), n);
      EXPECT_FALSE(drv.broken());
    }
  }
}

// add_many() (Rx refill's batch add) is add_one() n times: over three laps
// at every size, in order or not, the device pops exactly the buffers and
// writable lengths added and the driver reaps their tokens in order; a batch
// larger than the free slots is refused whole, changing nothing.
TYPED_TEST(RingTest, AddManyIsAddOneNTimes) {
  for (const bool in_order : {false, true}) {
    for (uint32_t n : Sizes<TypeParam>::all()) {
      SCOPED_TRACE(testing::Message() << "size " << n << " in_order " << in_order);
      this->setup(n, {.in_order = in_order});
      auto& drv = this->p.drv;
      auto& dev = this->p.dev;
      std::vector<Seg> segs(n);
      std::vector<void*> toks(n);
      std::vector<UsedBuf> out(n);
      uint32_t next_slot = 0;
      for (uint32_t done = 0, round = 0; done < 3 * n + 7; ++round) {
        const auto batch = static_cast<uint16_t>(1 + round % n);
        for (uint16_t i = 0; i < batch; ++i) {
          const uint32_t slot = (next_slot + i) % n;
          segs[i] = Seg{this->pool.iova(slot), 40u + slot % 7, true};
          toks[i] = tok(slot);
        }
        ASSERT_EQ(drv.add_many(segs.data(), toks.data(), batch), 0);
        EXPECT_EQ(drv.free_slots(), n - batch);
        if (batch < n) {  // one more than is free: refused, nothing changes
          EXPECT_EQ(drv.add_many(segs.data(), toks.data(), static_cast<uint16_t>(n - batch + 1)), -ENOSPC);
          EXPECT_EQ(drv.free_slots(), n - batch);
        }
        drv.publish();
        Chain c;
        for (uint16_t i = 0; i < batch; ++i) {
          ASSERT_EQ(dev.pop(c), Pop::Ok);
          ASSERT_EQ(c.nseg, 1);
          EXPECT_EQ(this->pool.slot_of(c.segs[0].ptr), static_cast<int32_t>((next_slot + i) % n));
          EXPECT_EQ(c.in_len, 40u + (next_slot + i) % n % 7);
          dev.push_used(c, c.in_len);
        }
        EXPECT_EQ(dev.pop(c), Pop::Empty);  // nothing beyond the batch
        dev.flush();
        ASSERT_EQ(drv.poll_used(out.data(), static_cast<uint16_t>(std::min<uint32_t>(n, 65535))), batch);
        for (uint16_t i = 0; i < batch; ++i) {
          EXPECT_EQ(untok(out[i].token), (next_slot + i) % n);
          EXPECT_EQ(out[i].len, 40u + (next_slot + i) % n % 7);
        }
        EXPECT_EQ(drv.free_slots(), n);
        next_slot = (next_slot + batch) % n;
        done += batch;
      }
      EXPECT_FALSE(drv.broken());
      EXPECT_FALSE(dev.broken());
    }
  }
}

// Notification suppression, both directions, without event index.
TYPED_TEST(RingTest, SuppressionFlags) {
  this->setup(8, {});
  auto& drv = this->p.drv;
  auto& dev = this->p.dev;
  // Device asks for kicks: the driver kicks once per publish with new buffers.
  dev.enable_kicks();
  ASSERT_EQ(this->add1(0, 8, true), 0);
  drv.publish();
  EXPECT_TRUE(drv.kick_prepare());
  EXPECT_FALSE(drv.kick_prepare());  // nothing new
  dev.disable_kicks();
  ASSERT_EQ(this->add1(1, 8, true), 0);
  drv.publish();
  EXPECT_FALSE(drv.kick_prepare());
  // Driver starts with interrupts off (poll mode).
  complete_all(dev, 1, [](const Chain&) { return 0u; });
  EXPECT_FALSE(dev.should_notify());
  EXPECT_TRUE(drv.enable_cb());  // one used buffer is already pending
  complete_all(dev, 1, [](const Chain&) { return 0u; });
  EXPECT_TRUE(dev.should_notify());
  EXPECT_FALSE(dev.should_notify());  // nothing new since
  drv.disable_cb();
  UsedBuf u[2];
  EXPECT_EQ(drv.poll_used(u, 2), 2);
}

// Event index: kicks and interrupts fire exactly when the event is crossed,
// including across the 16-bit wrap of the indexes (split) / the ring wrap.
TYPED_TEST(RingTest, EventIndexAcrossWrap) {
  const uint32_t n = 256;
  this->setup(n, {.event_idx = true});
  auto& drv = this->p.drv;
  auto& dev = this->p.dev;
  dev.enable_kicks();  // device wants a kick for the next buffer it has not seen
  UsedBuf u[4];
  uint32_t kicks = 0, irqs = 0;
  const uint32_t rounds = 70000;  // > 65536 buffers: indexes wrap
  for (uint32_t r = 0; r < rounds; ++r) {
    drv.enable_cb();
    ASSERT_EQ(this->add1(r % n, 8, true), 0);
    drv.publish();
    const bool kick = drv.kick_prepare();
    kicks += kick;
    // The device re-arms only every other round: then exactly those rounds kick.
    ASSERT_EQ(kick, r == 0 || (r % 2) == 1) << r;
    ASSERT_EQ(complete_all(dev, 1, [](const Chain&) { return 0u; }), 1u);
    if (r % 2 == 0) dev.enable_kicks();
    const bool irq = dev.should_notify();
    irqs += irq;
    ASSERT_TRUE(irq) << r;  // the driver armed used_event for this buffer
    ASSERT_EQ(drv.poll_used(u, 4), 1);
  }
  EXPECT_EQ(irqs, rounds);
  EXPECT_EQ(kicks, 1 + rounds / 2);
  // Interrupts suppressed: the event is a full lap away, none fire.
  drv.disable_cb();
  for (uint32_t r = 0; r < 100; ++r) {
    ASSERT_EQ(this->add1(r % n, 8, true), 0);
    drv.publish();
    complete_all(dev, 1, [](const Chain&) { return 0u; });
    EXPECT_FALSE(dev.should_notify());
    ASSERT_EQ(drv.poll_used(u, 4), 1);
  }
}

TYPED_TEST(RingTest, DrainReturnsEveryOutstandingToken) {
  this->setup(16, {});
  for (uint32_t i = 0; i < 10; ++i) ASSERT_EQ(this->add1(i, 8, true), 0);
  this->p.drv.publish();
  complete_all(this->p.dev, 3, [](const Chain&) { return 0u; });
  UsedBuf u[16];
  ASSERT_EQ(this->p.drv.poll_used(u, 16), 3);
  std::vector<uintptr_t> drained;
  this->p.drv.drain([&](void* t) { drained.push_back(untok(t)); });
  std::sort(drained.begin(), drained.end());
  std::vector<uintptr_t> want(7);
  std::iota(want.begin(), want.end(), 3);
  EXPECT_EQ(drained, want);
}

// Regression (found by fuzz_driver_used): after an out-of-order completion
// drain() walked avail slots from a count, not a position, and lost buffers.
TYPED_TEST(RingTest, DrainAfterOutOfOrderCompletion) {
  this->setup(8, {});
  for (uint32_t i = 0; i < 3; ++i) ASSERT_EQ(this->add1(i, 8, true), 0);
  this->p.drv.publish();
  std::vector<Chain> cs(3);
  for (auto& c : cs) ASSERT_EQ(this->p.dev.pop(c), Pop::Ok);
  this->p.dev.push_used(cs[1], 0);  // only the middle one completes
  this->p.dev.flush();
  UsedBuf u[4];
  ASSERT_EQ(this->p.drv.poll_used(u, 4), 1);
  EXPECT_EQ(untok(u[0].token), 1u);
  std::vector<uintptr_t> drained;
  this->p.drv.drain([&](void* t) { drained.push_back(untok(t)); });
  std::sort(drained.begin(), drained.end());
  EXPECT_EQ(drained, (std::vector<uintptr_t>{0, 2}));
  EXPECT_EQ(this->p.drv.in_flight(), 0u);  // the ring is re-initialised before reuse
}

TEST(RingInit, RejectsBadSizes) {
  for (uint32_t n : {0u, 3u, 65536u, 32769u * 2}) {
    QueuePair<SplitDriver> p;
    EXPECT_EQ(p.init(n == 0 ? 0 : n, {}), -EINVAL) << n;
  }
  for (uint32_t n : {0u, 32769u}) {
    QueuePair<PackedDriver> p;
    EXPECT_EQ(p.init(n, {}), -EINVAL) << n;
  }
}

TEST(RegionTable, TranslateBoundsAndSpans) {
  static uint8_t a[100], b[100];
  RegionTable t;
  ASSERT_EQ(t.add({1000, 100, a}), 0);
  ASSERT_EQ(t.add({1100, 100, b}), 0);
  EXPECT_EQ(t.add({1050, 10, a}), -EEXIST);
  EXPECT_EQ(t.add({~0ull - 5, 10, a}), -EINVAL);
  EXPECT_EQ(t.translate(1000, 100), a);
  EXPECT_EQ(t.translate(1099, 2), nullptr);  // crosses regions: not contiguous
  EXPECT_EQ(t.translate(999, 1), nullptr);
  EXPECT_EQ(t.translate(1200, 1), nullptr);
  std::vector<std::pair<uint8_t*, uint32_t>> pieces;
  auto emit = [&](uint8_t* p, uint32_t l) {
    pieces.emplace_back(p, l);
    return true;
  };
  EXPECT_TRUE(t.translate_pieces(1090, 20, emit));
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0], std::make_pair(a + 90, 10u));
  EXPECT_EQ(pieces[1], std::make_pair(b, 10u));
  pieces.clear();
  EXPECT_FALSE(t.translate_pieces(1190, 20, emit));  // runs off the end
  EXPECT_EQ(t.remove(1000, 100), 0);
  EXPECT_EQ(t.translate(1000, 1), nullptr);
  EXPECT_EQ(t.remove(1000, 100), -ENOENT);
}

}  // namespace
}  // namespace vnet::ring::test
