// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// membarrier(2) registration and the control side's process-wide barrier.
// Once registered, every later asym_fence_slow() issues the barrier, so a
// burst that saw asym_on == true is always covered.
#include "ring/asym_fence.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

namespace vnet::ring {
namespace {

long membarrier(int cmd) { return ::syscall(__NR_membarrier, cmd, 0u, 0); }

bool do_register() {
  const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

std::once_flag g_once;
bool g_registered = false;

}  // namespace

bool asym_fence_enable() noexcept {
  std::call_once(g_once, [] {
    g_registered = do_register();
    // release: registration is complete before any burst may rely on it.
    if (g_registered) detail::asym_on.store(true, std::memory_order_release);
  });
  return g_registered;
}

void asym_fence_slow() noexcept {
  // full fence: our own flag store is ordered before our loads.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (asym_fence_enable()) {
    // Every running thread of the process executes a full barrier before
    // this returns; a thread not running passed one when it was switched out.
    // (It fails only for a process that did not register, which we did.)
    [[maybe_unused]] const long rc = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
  }
}

}  // namespace vnet::ring
