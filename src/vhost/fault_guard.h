// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Survives a frontend that shrinks or punches holes in the memory it shares:
// a process-wide SIGBUS handler that recognises a fault inside a guarded
// mapping, maps an anonymous page over the faulting page and reports the
// owner broken. Invariant: the handler only reads the slot table (lock-free)
// and uses async-signal-safe calls; faults elsewhere go to the previous handler.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace vnet::vhost::fault {

// What a guarded mapping reports to when it faults: `faults` counts the
// faults, `wake_fd` (an eventfd, or -1) is written once per fault.
struct Owner {
  std::atomic<uint64_t> faults{0};
  std::atomic<int> wake_fd{-1};
};

// Guard [base, base + len) (page_size: the mapping's page size, a power of
// two; hugetlbfs mappings are replaced a huge page at a time). Installs the
// handler on first use. 0, or -ENOSPC when every slot is taken.
int guard(void* base, size_t len, size_t page_size, Owner* owner) noexcept;
// Stop guarding the mapping that starts at base (before it is unmapped).
void unguard(void* base) noexcept;

}  // namespace vnet::vhost::fault
