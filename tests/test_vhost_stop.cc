// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// A backend port closed right after it was created (no frontend ever came)
// must close at once: its control thread may be anywhere between its stop
// check and its wake-up wait when close() posts the stop. Many create/close
// rounds under a watchdog; a lost wake-up hangs close() and the watchdog
// fails the test with the round it hung in.
#include <gtest/gtest.h>
#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/eal_once.h"

namespace {

// Two lcores on two CPUs: EAL then puts its control threads on the main
// lcore's CPU, as a user's testpmd does, so the backend's thread and close()
// take turns on one CPU.
bool eal_up() { return vnet::test::eal_once("stop", "0-1"); }

TEST(VhostStop, CloseRightAfterCreateNeverHangs) {
  ASSERT_TRUE(eal_up());
  char dir[] = "/tmp/vnet-stop-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string args = std::string("iface=") + dir + "/s.sock";
  constexpr int kRounds = 400;
  std::atomic<int> round{0};
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    // Each round takes well under a millisecond when nothing is lost.
    for (int i = 0; i < 600 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done.load()) {
      std::fprintf(stderr, "FAILED: closing a backend port hung in round %d of %d (lost stop wake-up)\n", round.load(),
                   kRounds);
      std::_Exit(1);
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    round.store(i);
    ASSERT_EQ(rte_vdev_init("net_vnet_vhost_stop", args.c_str()), 0) << "round " << i;
    // Close at every point of the thread's first steps: 0 to ~200 us after it started.
    if (const int us = (i * 7) % 211; us != 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
    ASSERT_EQ(rte_vdev_uninit("net_vnet_vhost_stop"), 0) << "round " << i;
  }
  done.store(true);
  watchdog.join();
  ::rmdir(dir);
}

}  // namespace
