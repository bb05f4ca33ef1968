// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// ring::BurstGate, the one gate the frontend's queues and the backend's
// vrings use: its states one call at a time, then the handshake under
// contention (burst threads enter and leave as fast as they can while the
// control thread closes, checks that no burst is or gets inside, reopens).
#include "ring/burst_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "ring/asym_fence.h"

namespace vnet::ring {
namespace {

TEST(BurstGate, StartsClosed) {
  BurstGate g;
  EXPECT_FALSE(g.is_open());
  EXPECT_FALSE(g.enter());
  g.wait_idle();  // a refused burst is not inside
}

TEST(BurstGate, OpenEnterLeaveShut) {
  BurstGate g;
  g.open();
  EXPECT_TRUE(g.is_open());
  ASSERT_TRUE(g.enter());
  g.leave();
  g.shut();
  EXPECT_FALSE(g.is_open());
  EXPECT_FALSE(g.enter());
  g.open();
  EXPECT_TRUE(g.enter());
  g.leave();
}

TEST(BurstGate, PassLeavesOnlyWhatItEntered) {
  BurstGate g;
  {
    const BurstGate::Pass in(g);
    EXPECT_FALSE(in);
  }
  g.wait_idle();
  g.open();
  {
    const BurstGate::Pass in(g);
    EXPECT_TRUE(in);
  }
  g.shut();  // returns: the pass left
}

// wait_idle() does not return while a burst is inside, and returns once it left.
TEST(BurstGate, WaitIdleWaitsForTheBurstInside) {
  BurstGate g;
  g.open();
  ASSERT_TRUE(g.enter());
  std::atomic<bool> done{false};
  std::thread ctl([&] {
    g.shut();
    done.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load()) << "shut() returned with a burst inside";
  g.leave();
  ctl.join();
  EXPECT_TRUE(done.load());
  EXPECT_FALSE(g.enter());
}

// What a burst owns: a counter only whoever is inside may update. Atomic
// only so the test itself is well-defined; updates are load-then-store, so
// two owners at once lose increments.
struct Guarded {
  BurstGate gate;
  std::atomic<uint64_t> data{0};
  uint64_t entered = 0;  // the burst thread's increments
};

void burst_loop(Guarded& g, const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    const BurstGate::Pass in(g.gate);
    if (!in) continue;
    for (int k = 0; k < 64; ++k) g.data.store(g.data.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    g.entered += 64;
  }
}

// Close every gate, one fence, wait each out, own every `data` for a while,
// reopen; the bursts' increments and ours must add up exactly.
void contend(size_t ngates, int rounds) {
  if (!asym_fence_enable()) GTEST_SKIP() << "membarrier(2) PRIVATE_EXPEDITED not available";
  std::vector<Guarded> gs(ngates);
  for (auto& g : gs) g.gate.open();
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (auto& g : gs) ts.emplace_back(burst_loop, std::ref(g), std::cref(stop));
  uint64_t ours = 0;
  for (int round = 0; round < rounds; ++round) {
    for (auto& g : gs) g.gate.close();
    BurstGate::fence();
    for (auto& g : gs) g.gate.wait_idle();
    for (auto& g : gs) {
      const uint64_t before = g.data.load(std::memory_order_relaxed);
      for (int i = 0; i < 2000; ++i)
        ASSERT_EQ(g.data.load(std::memory_order_relaxed), before) << "a burst ran while closed, round " << round;
      for (int i = 0; i < 200; ++i) g.data.store(g.data.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    ours += 200;
    for (auto& g : gs) g.gate.open();
    std::this_thread::yield();
  }
  stop.store(true);
  for (auto& t : ts) t.join();
  for (auto& g : gs) {
    EXPECT_EQ(g.data.load(), g.entered + ours);
    EXPECT_GT(g.entered, 0u);
  }
}

TEST(BurstGate, ClosedBurstsStayOutWithMembarrier) { contend(1, 2000); }

// The frontend's quiesce: several queues' gates closed under one fence.
TEST(BurstGate, ManyGatesOneFence) { contend(2, 500); }

TEST(AsymFence, EnableIsIdempotent) {
  const bool a = asym_fence_enable();
  EXPECT_EQ(asym_fence_enable(), a);
}

}  // namespace
}  // namespace vnet::ring
