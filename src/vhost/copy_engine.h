// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Copy engines of the backend's data path, one compile-time interface:
// CpuCopy copies at once; DmaCopy<Api> hands copies at or above a threshold
// to an rte_dmadev virtual channel. Invariants: a channel (DmaChan), and
// every ring bound to it, is used only by whoever holds its `lock` (a burst
// of one of those rings, which may also publish the others' completions, or
// the control thread draining); a packet's DMA ops are consecutive on its
// channel (one burst builds it whole), so a packet's record (AsyncQueue)
// need only know the channel's op count after its last one: it is done when
// the completed count reaches that (or the channel was declared dead). Memory:
// channels live in the port; the engines never allocate.
#pragma once

#include <rte_cycles.h>
#include <rte_dmadev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace vnet::vhost {

struct Vring;

// CPU copy: 16..64 bytes (small frames) as two overlapping fixed-size
// moves, inline; anything else through libc memcpy, which picks the widest
// vector moves the CPU has at run time (rte_memcpy is fixed at our -march:
// SSE, twice the instructions at 1518 B).
[[gnu::noinline]] inline void cpu_copy_big(void* dst, const void* src, uint32_t len) { std::memcpy(dst, src, len); }
[[gnu::always_inline]] inline void cpu_copy(void* dst, const void* src, uint32_t len) {
  if (len - 16 > 48) {  // unsigned: outside 16..64
    cpu_copy_big(dst, src, len);
    return;
  }
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  if (len <= 32) {
    __builtin_memcpy(d, s, 16);
    __builtin_memcpy(d + len - 16, s + len - 16, 16);
  } else {
    __builtin_memcpy(d, s, 32);
    __builtin_memcpy(d + len - 32, s + len - 32, 32);
  }
}

// Per ring, written by the data path only (and by the control thread while
// the ring is quiesced).
struct CopyStats {
  uint64_t cpu_copies = 0;
  uint64_t cpu_bytes = 0;
  uint64_t dma_copies = 0;
  uint64_t dma_bytes = 0;
  uint64_t dma_fallbacks = 0;  // copies done by the CPU because the DMA ring was full
  uint64_t dma_errors = 0;     // packets dropped because a DMA copy reported an error
  uint64_t inflight_hwm = 0;   // most packets in flight at the end of a burst
  uint64_t dma_abandoned = 0;  // mbufs kept out of the pool: a stopped engine may still copy into them
};

// The loops' handle on a packet being built (sink.h: open()). No sink
// keeps one: an async packet's record is written whole when it is complete.
struct Pending;

// One rte_dmadev virtual channel, shared by the rings that name it. Ops are
// counted, not tagged: a dmadev completes them in the order they were
// enqueued, so a record whose copies were the channel's ops before `end` is
// done once `done` reaches `end` (32-bit counters: a record waits in its
// ring at most until the next burst of a ring on the channel, never for
// 2^31 ops).
struct DmaChan {
  int16_t dev = -1;
  uint16_t vchan = 0;
  uint32_t sub = 0;    // ops the device accepted
  uint32_t rung = 0;   // of those, ops rte_dma_submit was called for
  uint32_t done = 0;   // ops the device reported complete
  uint64_t fence = 0;  // RTE_DMA_OP_FLAG_FENCE: the next op must not overtake the earlier ones
  bool dead = false;   // stopped after a drain timed out: all copies go to the CPU
  std::atomic<uint8_t> lock{0};
  Vring* rings[32] = {};  // the rings bound to this channel
  uint8_t nrings = 0;

  bool try_lock() noexcept {
    // acquire: the previous holder's record and counter updates are visible.
    return lock.load(std::memory_order_relaxed) == 0 && lock.exchange(1, std::memory_order_acquire) == 0;
  }
  void unlock() noexcept {
    // release: our record and counter updates are visible to the next holder.
    lock.store(0, std::memory_order_release);
  }
  // Have all ops before `end` completed?
  bool reached(uint32_t end) const { return static_cast<int32_t>(done - end) >= 0; }
};

// The dmadev calls the DMA engine makes; tests substitute a fake.
struct RteDmaApi {
  static int copy(int16_t dev, uint16_t vchan, const void* src, void* dst, uint32_t len, uint64_t flags) {
    // The channel's device is SVA-capable (checked at probe): it takes
    // process virtual addresses, which also reach the frontend's memory.
    return rte_dma_copy(dev, vchan, reinterpret_cast<rte_iova_t>(src), reinterpret_cast<rte_iova_t>(dst), len, flags);
  }
  static void submit(int16_t dev, uint16_t vchan) { rte_dma_submit(dev, vchan); }
  static uint16_t completed(int16_t dev, uint16_t vchan, uint16_t n, uint16_t* last, bool* err) {
    return rte_dma_completed(dev, vchan, n, last, err);
  }
  static uint16_t completed_status(int16_t dev, uint16_t vchan, uint16_t n, uint16_t* last, rte_dma_status_code* st) {
    return rte_dma_completed_status(dev, vchan, n, last, st);
  }
  static void stop(int16_t dev) { rte_dma_stop(dev); }
};

// A packet record's flags (AsyncQueue::fl).
inline constexpr uint8_t kLost = 1;       // its buffers go back with length 0; the frame is dropped (counted)
inline constexpr uint8_t kAbandoned = 2;  // a copy may still land after the engine stopped
inline constexpr uint8_t kOwnOps = 4;     // some of its copies went to the channel
inline constexpr uint8_t kCounted = 8;    // enqueue: counted as sent when staged

// Mark lost the record that owns the channel's op `seq` (a copy failed), or
// with `all_after` (`kAbandoned`) every record with copies at or after it,
// on any ring of the channel (vring.cc). Rare paths: an error status, a
// dead engine.
void fail_ops(DmaChan& ch, uint32_t seq, uint8_t why, bool all_after);
// A dead channel's rings copy everything on the CPU from now on (their
// thresholds become UINT32_MAX).
void kill_thresholds(DmaChan& ch);

// Collect completions of a channel: one rte_dma_completed call per burst
// of up to kBatch, the counter moves, no record is touched. The caller
// holds the channel lock.
template <class Api>
void dma_poll(DmaChan& ch) {
  constexpr uint16_t kBatch = 64;
  if (ch.done == ch.sub) return;  // nothing outstanding: leave the device alone
  for (;;) {
    uint16_t last = 0;
    bool err = false;
    uint16_t n = Api::completed(ch.dev, ch.vchan, kBatch, &last, &err);
    ch.done += n;
    if (err) [[unlikely]] {
      // The op at `done` failed: take statuses one by one from it on.
      rte_dma_status_code st[kBatch];
      const uint16_t m = Api::completed_status(ch.dev, ch.vchan, kBatch, &last, st);
      for (uint16_t k = 0; k < m; ++k)
        if (st[k] != RTE_DMA_STATUS_SUCCESSFUL) fail_ops(ch, ch.done + k, kLost, false);
      ch.done += m;
      n = static_cast<uint16_t>(n + m);
    }
    if (n < kBatch || ch.done == ch.sub) return;
  }
}

// After a drain timed out: stop the device so no late copy can land, and
// fail every op still outstanding. The caller holds the channel lock.
template <class Api>
void dma_kill(DmaChan& ch) {
  Api::stop(ch.dev);
  if (ch.done != ch.sub) fail_ops(ch, ch.done, kAbandoned, true);
  ch.done = ch.rung = ch.sub;
  ch.dead = true;
  kill_thresholds(ch);
}

// Synchronous engine: every copy done now by the CPU.
struct CpuCopy {
  static constexpr bool kAsync = false;
  CopyStats& st;
  [[gnu::always_inline]] void copy(void* dst, const void* src, uint32_t len, Pending*) {
    cpu_copy(dst, src, len);
    ++st.cpu_copies;
    st.cpu_bytes += len;
  }
};

// Asynchronous engine over one channel: copies >= threshold go to the
// device; one the device refuses (ring full) is done by the CPU. Nothing
// per copy but the op itself and the channel's counter: which packet a
// copy belongs to follows from the counter (AsyncQueue::end).
template <class Api = RteDmaApi>
struct DmaCopy {
  static constexpr bool kAsync = true;
  using DmaApi = Api;
  CopyStats& st;
  DmaChan& ch;
  uint32_t threshold;  // UINT32_MAX on a dead channel

  [[gnu::always_inline]] void copy(void* dst, const void* src, uint32_t len, Pending*) {
    if (len >= threshold) {
      if (Api::copy(ch.dev, ch.vchan, src, dst, len, ch.fence) >= 0) [[likely]] {
        ch.fence = 0;
        ++ch.sub;
        ++st.dma_copies;
        st.dma_bytes += len;
        return;
      }
      ++st.dma_fallbacks;  // -ENOSPC: this one on the CPU
    }
    cpu_copy(dst, src, len);
    ++st.cpu_copies;
    st.cpu_bytes += len;
  }
  // One doorbell for the burst's ops.
  void submit() {
    if (ch.rung == ch.sub) return;
    Api::submit(ch.dev, ch.vchan);
    ch.rung = ch.sub;
  }
  void poll() { dma_poll<Api>(ch); }
};

}  // namespace vnet::vhost
