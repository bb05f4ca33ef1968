// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The SIGBUS handler behind fault::guard(): a fixed table of guarded ranges
// read lock-free from the handler; registration is serialised by a mutex
// and publishes a slot's range with its start address last.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "vhost/fault_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "common/c_entry.h"

namespace vnet::vhost::fault {

namespace {

constexpr size_t kSlots = 2048;  // 16 ports with 128 regions each

struct Slot {
  std::atomic<uintptr_t> lo{0};  // 0: free
  std::atomic<uintptr_t> hi{0};
  std::atomic<uintptr_t> page{0};
  std::atomic<Owner*> owner{nullptr};
};

Slot g_slots[kSlots];
std::mutex g_mu;  // registration only; never taken by the handler
bool g_installed = false;
struct sigaction g_prev;

void on_sigbus(int sig, siginfo_t* si, void* uctx) noexcept {
  const auto addr = reinterpret_cast<uintptr_t>(si->si_addr);
  for (Slot& s : g_slots) {
    // acquire: hi, page and owner were written before lo (guard()).
    const uintptr_t lo = s.lo.load(std::memory_order_acquire);
    if (lo == 0 || addr < lo || addr >= s.hi.load(std::memory_order_relaxed)) continue;
    const uintptr_t pg = s.page.load(std::memory_order_relaxed);
    const uintptr_t at = addr & ~(pg - 1);
    // The page is gone from the file: an anonymous page takes its place, so
    // the faulting access completes (with zeros) when the handler returns.
    // (Small pages even over hugetlbfs: a range of whole huge pages may be
    // replaced, and no huge page need be free.)
    void* p = ::mmap(reinterpret_cast<void*>(at), pg, PROT_READ | PROT_WRITE,
                     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) break;  // cannot repair: let the previous handler have it
    if (Owner* o = s.owner.load(std::memory_order_relaxed)) {
      o->faults.fetch_add(1, std::memory_order_relaxed);
      const int fd = o->wake_fd.load(std::memory_order_relaxed);
      const uint64_t one = 1;
      if (fd >= 0) [[maybe_unused]]
        ssize_t r = ::write(fd, &one, sizeof one);
    }
    return;
  }
  // Not ours: the previous disposition, as if we had never been there.
  if (g_prev.sa_flags & SA_SIGINFO) {
    g_prev.sa_sigaction(sig, si, uctx);
  } else if (g_prev.sa_handler == SIG_DFL || g_prev.sa_handler == SIG_IGN) {
    // Re-executing the access raises SIGBUS again, now with the default action.
    ::signal(SIGBUS, SIG_DFL);
  } else {
    g_prev.sa_handler(sig);
  }
}

}  // namespace

int guard(void* base, size_t len, size_t page_size, Owner* owner) noexcept {
  const std::lock_guard<std::mutex> g(g_mu);
  if (!g_installed) {
    struct sigaction sa {};
    sa.sa_sigaction = c_noexcept<on_sigbus>;  // async-signal-safe: no try block, no log
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGBUS, &sa, &g_prev) != 0) return -errno;
    g_installed = true;
  }
  for (Slot& s : g_slots) {
    if (s.lo.load(std::memory_order_relaxed) != 0) continue;
    s.hi.store(reinterpret_cast<uintptr_t>(base) + len, std::memory_order_relaxed);
    s.page.store(page_size ? page_size : 4096, std::memory_order_relaxed);
    s.owner.store(owner, std::memory_order_relaxed);
    // release: the range's end, page size and owner are visible before its start.
    s.lo.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return 0;
  }
  return -ENOSPC;
}

void unguard(void* base) noexcept {
  const std::lock_guard<std::mutex> g(g_mu);
  for (Slot& s : g_slots)
    if (s.lo.load(std::memory_order_relaxed) == reinterpret_cast<uintptr_t>(base)) {
      s.lo.store(0, std::memory_order_release);  // release: the handler stops matching it first
      s.owner.store(nullptr, std::memory_order_relaxed);
    }
}

}  // namespace vnet::vhost::fault
