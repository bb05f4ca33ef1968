// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Copy engines of the backend's data path, one compile-time interface:
// CpuCopy copies at once; DmaCopy<Api> hands copies at or above a threshold
// to an rte_dmadev virtual channel and tracks them per packet. Invariants:
// a channel (DmaChan), and every ring bound to it, is used only by whoever
// holds its `lock` (a burst of one of those rings, which may also publish
// the others' completions, or the control thread draining); every DMA op carries a
// tag naming the packet record it belongs to; a record's `copies` reaches 0
// only when all its DMA ops completed (or the channel was declared dead).
// Memory: a channel's tag array is one NUMA-local DPDK block allocated at
// probe (nothing throws; failure is -ENOMEM); the engines never allocate.
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
  uint64_t dma_fallbacks = 0;  // packets copied (partly) by CPU because the DMA ring was full
  uint64_t dma_errors = 0;     // packets dropped because a DMA copy reported an error
  uint64_t inflight_hwm = 0;   // most packets in flight at the end of a burst
  uint64_t dma_abandoned = 0;  // mbufs kept out of the pool: a stopped engine may still copy into them
};

inline constexpr uint8_t kAbandoned = 2;  // Pending::err: the copy may still land after the engine stopped

// One packet whose copies may still be running.
struct Pending {
  rte_mbuf* m;       // enqueue: the source, freed at publish; dequeue: the frame to deliver
  uint16_t copies;   // DMA copies not yet completed (guarded by the channel lock)
  uint16_t nused;    // used entries it owns, next in the used-record FIFO
  uint8_t err;       // a DMA copy of it failed (kAbandoned: still running when the engine was stopped)
  uint8_t zero;      // return its buffers with length 0 (already counted as dropped)
  uint8_t cpu_only;  // the DMA ring was full: its remaining copies go to the CPU
};

// One rte_dmadev virtual channel, shared by the rings that name it.
struct DmaChan {
  int16_t dev = -1;
  uint16_t vchan = 0;
  uint16_t mask = 0;         // nb_desc - 1 (nb_desc is a power of two)
  uint16_t next_done = 0;    // ring index of the oldest op not yet completed
  uint16_t next_sub = 0;     // ring index the next op will get
  uint16_t unsubmitted = 0;  // ops enqueued since the last rte_dma_submit
  bool dead = false;         // stopped after a drain timed out: all copies go to the CPU
  bool fence_next = false;   // the next op must not overtake the earlier ones
  std::atomic<uint8_t> lock{0};
  Pending** tag = nullptr;  // nb_desc entries: the record each op belongs to
  Vring* rings[32] = {};    // the rings bound to this channel
  uint8_t nrings = 0;

  bool try_lock() noexcept {
    // acquire: the previous holder's record and tag updates are visible.
    return lock.load(std::memory_order_relaxed) == 0 && lock.exchange(1, std::memory_order_acquire) == 0;
  }
  void unlock() noexcept {
    // release: our record and tag updates are visible to the next holder.
    lock.store(0, std::memory_order_release);
  }
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

// Collect completions of a channel into the records they belong to.
// The caller holds the channel lock.
template <class Api>
void dma_poll(DmaChan& ch) {
  constexpr uint16_t kBatch = 64;
  if (ch.next_done == ch.next_sub) return;  // nothing outstanding: leave the device alone
  for (;;) {
    uint16_t last = 0;
    bool err = false;
    uint16_t n = Api::completed(ch.dev, ch.vchan, kBatch, &last, &err);
    for (uint16_t k = 0; k < n; ++k) --ch.tag[(ch.next_done + k) & ch.mask]->copies;
    ch.next_done = static_cast<uint16_t>(ch.next_done + n);
    if (err) {
      // The op at next_done failed: take statuses one by one from it on.
      rte_dma_status_code st[kBatch];
      const uint16_t m = Api::completed_status(ch.dev, ch.vchan, kBatch, &last, st);
      for (uint16_t k = 0; k < m; ++k) {
        Pending* p = ch.tag[(ch.next_done + k) & ch.mask];
        --p->copies;
        if (st[k] != RTE_DMA_STATUS_SUCCESSFUL) p->err = 1;
      }
      ch.next_done = static_cast<uint16_t>(ch.next_done + m);
      n = static_cast<uint16_t>(n + m);
    }
    if (n < kBatch) return;
  }
}

// After a drain timed out: stop the device so no late copy can land, and
// fail every op still outstanding. The caller holds the channel lock.
template <class Api>
void dma_kill(DmaChan& ch) {
  Api::stop(ch.dev);
  for (uint16_t i = ch.next_done; i != ch.next_sub; ++i) {
    Pending* p = ch.tag[i & ch.mask];
    --p->copies;
    p->err = kAbandoned;
  }
  ch.next_done = ch.next_sub;
  ch.unsubmitted = 0;
  ch.dead = true;
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
// device (a full ring sends the rest of that packet to the CPU).
template <class Api = RteDmaApi>
struct DmaCopy {
  static constexpr bool kAsync = true;
  using DmaApi = Api;
  CopyStats& st;
  DmaChan& ch;
  uint32_t threshold;

  void copy(void* dst, const void* src, uint32_t len, Pending* p) {
    if (len >= threshold && !p->cpu_only && !ch.dead) {
      const uint64_t fl = ch.fence_next ? RTE_DMA_OP_FLAG_FENCE : 0;
      const int idx = Api::copy(ch.dev, ch.vchan, src, dst, len, fl);
      if (idx >= 0) {
        ch.fence_next = false;
        ch.tag[idx & ch.mask] = p;
        ch.next_sub = static_cast<uint16_t>(idx + 1);
        ++ch.unsubmitted;
        ++p->copies;
        ++st.dma_copies;
        st.dma_bytes += len;
        return;
      }
      p->cpu_only = 1;  // -ENOSPC: this packet finishes on the CPU
      ++st.dma_fallbacks;
    }
    cpu_copy(dst, src, len);
    ++st.cpu_copies;
    st.cpu_bytes += len;
  }
  void submit() {
    if (ch.unsubmitted == 0) return;
    Api::submit(ch.dev, ch.vchan);
    ch.unsubmitted = 0;
  }
  void poll() { dma_poll<Api>(ch); }
};

}  // namespace vnet::vhost
