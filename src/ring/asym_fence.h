// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Asymmetric fences for the burst gates (the frontend's BurstGate, the
// backend's enter()/quiesce()): the side that runs every burst pays a
// compiler barrier, the control side that stops the bursts makes every
// running thread of the process execute a full barrier (membarrier(2),
// MEMBARRIER_CMD_PRIVATE_EXPEDITED). Without it, both sides use a full fence.
#pragma once

#include <atomic>

namespace vnet::ring {

namespace detail {
inline std::atomic<bool> asym_on{false};  // only ever goes false -> true
}

// Control path, before a port's first burst: register with membarrier(2);
// true when the fast side may use a compiler barrier. Idempotent.
bool asym_fence_enable() noexcept;

// Burst side: orders our flag store before the load of the control flag.
inline void asym_fence_fast() noexcept {
  if (detail::asym_on.load(std::memory_order_relaxed))
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the control side's membarrier fences this thread
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Control side: orders its flag store before the loads of the burst flags,
// for every thread, whichever fence each burst used.
void asym_fence_slow() noexcept;

}  // namespace vnet::ring
