// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The burst gates' handshake (ring/asym_fence.h) under contention: a burst
// thread enters and leaves as fast as it can while the control thread
// pauses it, checks that no burst is or gets inside, and resumes it.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ring/asym_fence.h"

namespace vnet::ring {
namespace {

struct Gate {
  std::atomic<uint8_t> pause{0};
  std::atomic<uint8_t> busy{0};
  // Owned by whoever is inside: a burst, or the paused control path. Atomic
  // only so the test itself is well-defined; updates are load-then-store,
  // so two owners at once lose increments.
  std::atomic<uint64_t> data{0};
};

void burst_loop(Gate& g, const std::atomic<bool>& stop, uint64_t* entered) {
  while (!stop.load(std::memory_order_relaxed)) {
    g.busy.store(1, std::memory_order_relaxed);
    asym_fence_fast();
    if (g.pause.load(std::memory_order_acquire) == 0) {
      for (int k = 0; k < 64; ++k) g.data.store(g.data.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      *entered += 64;
    }
    g.busy.store(0, std::memory_order_release);
  }
}

// Pause, wait out the burst, own `data` for a while, resume; the burst's
// increments and ours must add up exactly.
void run(bool asym) {
  if (asym && !asym_fence_enable()) GTEST_SKIP() << "membarrier(2) PRIVATE_EXPEDITED not available";
  Gate g;
  std::atomic<bool> stop{false};
  uint64_t entered = 0;
  std::thread t(burst_loop, std::ref(g), std::cref(stop), &entered);
  uint64_t ours = 0;
  for (int round = 0; round < 2000; ++round) {
    g.pause.store(1, std::memory_order_relaxed);
    asym_fence_slow();
    while (g.busy.load(std::memory_order_acquire)) std::this_thread::yield();
    const uint64_t before = g.data.load(std::memory_order_relaxed);
    for (int i = 0; i < 2000; ++i)
      ASSERT_EQ(g.data.load(std::memory_order_relaxed), before) << "a burst ran while paused, round " << round;
    for (int i = 0; i < 200; ++i) g.data.store(g.data.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    ours += 200;
    g.pause.store(0, std::memory_order_release);
    std::this_thread::yield();
  }
  stop.store(true);
  t.join();
  EXPECT_EQ(g.data.load(), entered + ours);
  EXPECT_GT(entered, 0u);
}

TEST(AsymFence, PausedBurstsStayOutWithMembarrier) { run(true); }

TEST(AsymFence, EnableIsIdempotent) {
  const bool a = asym_fence_enable();
  EXPECT_EQ(asym_fence_enable(), a);
}

}  // namespace
}  // namespace vnet::ring
