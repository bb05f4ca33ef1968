// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The burst gate: how a control thread stops the data path of one queue and
// waits until no burst is inside it (the frontend's Rx/Tx queues, the
// backend's vrings). Dekker's handshake over two flags with an asymmetric
// fence (asym_fence.h): a burst pays two plain stores, a load and a compiler
// barrier, nothing per packet; closing pays one process-wide barrier.
// Invariant: a burst touches the queue only between enter() == true and
// leave(); the control path changes it only between close() + fence() +
// wait_idle() and open(). One control thread at a time (its own lock).
#pragma once

#include <atomic>
#include <cstdint>

#include "ring/asym_fence.h"

namespace vnet::ring {

class BurstGate {
 public:
  // ---- data path ----------------------------------------------------------
  // true: the burst is inside and may use the queue; pair with leave().
  // false: the gate is closed, the burst is not inside (no leave()).
  // enter() always stores busy; a caller that often meets a closed gate can
  // test is_open() first and leave busy's line alone (the backend does).
  bool enter() noexcept {
    busy_.store(1, std::memory_order_relaxed);
    // asymmetric fence: busy=1 is ordered before reading open (pairs with
    // fence()'s asym_fence_slow()).
    asym_fence_fast();
    // acquire: what the control path set up before open() is visible.
    if (open_.load(std::memory_order_acquire)) return true;
    // release: nothing of the queue was touched; lets wait_idle() go on.
    busy_.store(0, std::memory_order_release);
    return false;
  }
  void leave() noexcept {
    // release: the burst's queue and counter writes are visible to the
    // control thread that waits for busy == 0.
    busy_.store(0, std::memory_order_release);
  }

  // enter() and leave() in a scope: `const BurstGate::Pass in(g); if (!in) return 0;`
  class Pass {
   public:
    explicit Pass(BurstGate& g) noexcept : g_(g), in_(g.enter()) {}
    ~Pass() {
      if (in_) g_.leave();
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    explicit operator bool() const noexcept { return in_; }

   private:
    BurstGate& g_;
    const bool in_;
  };

  // ---- control path -------------------------------------------------------
  // Stop new bursts: close every gate concerned, then fence() once, then
  // wait_idle() on each. shut() is the three for one gate.
  void close() noexcept { open_.store(0, std::memory_order_relaxed); }
  static void fence() noexcept {
    // asymmetric fence, every thread: the closing stores are ordered before
    // reading any busy flag (pairs with enter()'s asym_fence_fast()).
    asym_fence_slow();
  }
  void wait_idle() const noexcept {
    // acquire: once busy reads 0, the last burst's writes are visible here.
    while (busy_.load(std::memory_order_acquire)) relax();
  }
  void shut() noexcept {
    close();
    fence();
    wait_idle();
  }
  // Let bursts in again.
  void open() noexcept {
    // release: everything a burst reads (the queue set up) is written first.
    open_.store(1, std::memory_order_release);
  }
  bool is_open() const noexcept {
    // acquire: as enter(), for a reader that goes on to look at the queue.
    return open_.load(std::memory_order_acquire);
  }

 private:
  static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
  }

  std::atomic<uint8_t> open_{0};  // bursts may enter (the control path's flag)
  std::atomic<uint8_t> busy_{0};  // a burst is inside (the data path's flag)
};

}  // namespace vnet::ring
