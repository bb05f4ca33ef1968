// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Device side of the split virtqueue (virtio 1.x 2.7), for the backend.
// Invariants: every descriptor is copied out of guest memory once and then
// validated; a chain walk is bounded by its table size; indirect inside
// indirect is rejected; avail idx may run at most `size` ahead; a violation
// that leaves the ring ambiguous marks it broken (never an assert); used
// entries are staged and written, then covered by used->idx, in flush().
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "ring/device_common.h"
#include "virtio/ring_layout.h"

namespace vnet::ring {

template <class Mem>
class SplitDevice {
 public:
  int init(const DeviceConfig& cfg, Mem* mem) {
    const uint32_t n = cfg.size;
    if (n == 0 || n > virtio::SPLIT_MAX_SIZE || (n & (n - 1)) != 0 || !cfg.desc || !cfg.avail || !cfg.used || !mem)
      return -EINVAL;
    size_ = n;
    mask_ = static_cast<uint16_t>(n - 1);
    indirect_ = cfg.indirect;
    event_idx_ = cfg.event_idx;
    read_only_ = cfg.read_only;
    mem_ = mem;
    desc_ = static_cast<const virtio::SplitDesc*>(cfg.desc);
    avail_ = static_cast<virtio::SplitAvailHdr*>(cfg.avail);
    avail_ring_ = reinterpret_cast<const virtio::le16*>(avail_ + 1);
    used_event_ = reinterpret_cast<virtio::le16*>(avail_ + 1) + n;
    used_ = static_cast<virtio::SplitUsedHdr*>(cfg.used);
    used_ring_ = reinterpret_cast<virtio::SplitUsedElem*>(used_ + 1);
    avail_event_ = reinterpret_cast<virtio::le16*>(used_ring_ + n);
    last_avail_ = avail_seen_ = cfg.avail_base;
    used_idx_ = published_ = signalled_ = cfg.used_base;
    stage_.n = 0;
    broken_ = false;
    err_ = {};
    return 0;
  }

  // Take the next available chain. Pop::Dropped chains must still be
  // returned with push_used(c, 0) so the driver gets its buffer back.
  [[gnu::always_inline]] Pop pop(Chain& c) {
    if (broken_) return Pop::Broken;
    if (avail_seen_ == last_avail_) {
      // acquire: avail ring entries and descriptors are read only after the
      // avail->idx that publishes them.
      avail_seen_ = virtio::from_le(std::atomic_ref<uint16_t>(avail_->idx.raw).load(std::memory_order_acquire));
      if (static_cast<uint16_t>(avail_seen_ - last_avail_) > size_) {
        fail(DevErr::AvailIdxJump, avail_seen_, last_avail_);
        return Pop::Broken;
      }
      if (avail_seen_ == last_avail_) return Pop::Empty;
    }
    const uint16_t head = avail_ring_[last_avail_ & mask_].get();
    if (head >= size_) {
      fail(DevErr::HeadOutOfRange, head, last_avail_);
      return Pop::Broken;
    }
    ++last_avail_;
    // Drivers that hand descriptors out in ring order (ours, DPDK's) put
    // chain k's head at table index k: start loading a later one's line
    // now. Only published slots are touched, so no line is taken from the
    // driver while it writes; a wrong guess costs one prefetch.
    if (static_cast<uint16_t>(avail_seen_ - last_avail_) > kAhead)
      __builtin_prefetch(&desc_[static_cast<uint16_t>(last_avail_ + kAhead) & mask_]);
    // One plain descriptor (the common chain): checked and translated
    // inline when its buffer lies in the last region hit, else walk().
    const auto d = virtio::snapshot<virtio::SplitDesc>(&desc_[head]);
    const uint16_t fl = d.flags.get();
    if (!(fl & (virtio::DESC_F_NEXT | virtio::DESC_F_INDIRECT)) &&
        chain_one(c, *mem_, d.addr.get(), d.len.get(), writable(fl), head, 1))
      return Pop::Ok;
    return pop_walk(c, head, d);
  }

  // Number of chains the driver has made available and we have not popped.
  uint16_t avail_pending() {
    if (broken_) return 0;
    // acquire: as in pop(), entries are read only after the idx covering them.
    const uint16_t seen = virtio::from_le(std::atomic_ref<uint16_t>(avail_->idx.raw).load(std::memory_order_acquire));
    const uint16_t n = seen - last_avail_;
    if (n > size_) {  // never cache an index pop() has not validated
      fail(DevErr::AvailIdxJump, seen, last_avail_);
      return 0;
    }
    avail_seen_ = seen;
    return n;
  }

  Cursor save() const { return Cursor{last_avail_, true}; }
  void restore(Cursor c) { last_avail_ = c.idx; }

  // Stage a used entry for the chain pop() reported as `head` (a split
  // chain is one avail entry, whatever `ndesc` says); flush() writes it.
  void push_used(uint16_t head, uint16_t /*ndesc*/, uint32_t len) { stage(head, len, 1); }
  void push_used(const Chain& c, uint32_t len) { stage(c.head, len, 1); }
  // IN_ORDER: one entry for `nbufs` buffers ending with `last` (2.7.9).
  void push_used_batch(const Chain& last, uint32_t len, uint16_t nbufs) { stage(last.head, len, nbufs); }
  // Write the staged used entries, then used->idx over them: the used ring's
  // lines are written once a burst, not under the driver while it reads
  // the entries before them.
  void flush() {
    uint16_t idx = used_idx_;
    for (uint16_t i = 0; i < stage_.n; ++i) {
      virtio::SplitUsedElem& e = used_ring_[idx & mask_];
      e.id.set(stage_.e[i].id);
      e.len.set(stage_.e[i].len);
      idx = static_cast<uint16_t>(idx + stage_.e[i].step);
    }
    used_idx_ = idx;
    stage_.n = 0;
    if (published_ == used_idx_) return;
    // release: used entries are visible before used->idx covers them.
    std::atomic_ref<uint16_t>(used_->idx.raw).store(virtio::to_le(used_idx_), std::memory_order_release);
    published_ = used_idx_;
  }

  // The end of a batch: flush(), then should_notify().
  bool drain() {
    flush();
    return should_notify();
  }

  // After flush(): does the driver want an interrupt? (2.7.7 / 2.7.10)
  bool should_notify() {
    const uint16_t old = signalled_, now = published_;
    if (old == now) return false;
    signalled_ = now;
    // full fence: the used->idx store is ordered before reading the driver's
    // suppression (used_event / avail->flags).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (event_idx_) {
      const uint16_t ev = virtio::from_le(std::atomic_ref<uint16_t>(used_event_->raw).load(std::memory_order_relaxed));
      return virtio::need_event(ev, now, old);
    }
    const uint16_t fl = virtio::from_le(std::atomic_ref<uint16_t>(avail_->flags.raw).load(std::memory_order_relaxed));
    return !(fl & virtio::AVAIL_F_NO_INTERRUPT);
  }

  // Ask the driver not to kick us (we poll) / to kick again.
  void disable_kicks() {
    // relaxed: a hint (2.7.10); the driver may still notify.
    std::atomic_ref<uint16_t>(used_->flags.raw)
        .store(virtio::to_le(virtio::USED_F_NO_NOTIFY), std::memory_order_relaxed);
    if (event_idx_)
      std::atomic_ref<uint16_t>(avail_event_->raw)
          .store(virtio::to_le(static_cast<uint16_t>(last_avail_ - virtio::EVENT_IDX_FAR)), std::memory_order_relaxed);
  }
  bool enable_kicks() {  // true when chains are already pending
    std::atomic_ref<uint16_t>(used_->flags.raw).store(0, std::memory_order_relaxed);
    if (event_idx_)
      std::atomic_ref<uint16_t>(avail_event_->raw).store(virtio::to_le(last_avail_), std::memory_order_relaxed);
    // full fence: the enable is ordered before re-reading avail->idx.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return virtio::from_le(std::atomic_ref<uint16_t>(avail_->idx.raw).load(std::memory_order_relaxed)) != last_avail_;
  }

  uint16_t last_avail() const { return last_avail_; }
  uint16_t used_idx() const {  // with the staged entries
    uint16_t idx = used_idx_;
    for (uint16_t i = 0; i < stage_.n; ++i) idx = static_cast<uint16_t>(idx + stage_.e[i].step);
    return idx;
  }
  bool broken() const { return broken_; }
  uint32_t size() const { return size_; }
  const ErrCounters<DevErr>& errors() const { return err_; }

 private:
  bool writable(uint16_t fl) const { return (fl & virtio::DESC_F_WRITE) && !read_only_; }
  // The general pop of the chain at `head`, whose descriptor pop() read as `first`.
  [[gnu::noinline]] Pop pop_walk(Chain& c, uint16_t head, virtio::SplitDesc first) {
    chain_reset(c);
    c.head = head;
    c.ndesc = 1;
    const DevErr e = walk(c, first);
    if (e == kNoErr) return Pop::Ok;
    drop(c, e);
    return Pop::Dropped;
  }

  // Validate and append the chain starting with descriptor `first` (a copy).
  DevErr walk(Chain& c, virtio::SplitDesc first) {
    const virtio::SplitDesc* table = desc_;
    uint32_t tsize = size_;
    uint32_t budget = size_;  // 2.7.5.3.1: no chain is longer than the queue
    bool in_indirect = false;
    uint16_t idx = 0;
    for (bool head = true;; head = false) {
      if (budget-- == 0) return DevErr::ChainTooLong;
      const auto d = head ? first : virtio::snapshot<virtio::SplitDesc>(&table[idx]);
      const uint16_t fl = d.flags.get();
      if (fl & virtio::DESC_F_INDIRECT) {
        if (in_indirect) return DevErr::NestedIndirect;
        if (!indirect_) return DevErr::IndirectNotNegotiated;
        if (fl & virtio::DESC_F_NEXT) return DevErr::IndirectAndNext;
        const uint32_t len = d.len.get();
        if (len == 0 || len % sizeof(virtio::SplitDesc) != 0) return DevErr::IndirectBadLen;
        if (len / sizeof(virtio::SplitDesc) > size_) return DevErr::ChainTooLong;
        const uint8_t* t = mem_->translate(d.addr.get(), len);
        if (!t) return DevErr::BadAddress;
        table = reinterpret_cast<const virtio::SplitDesc*>(t);
        tsize = budget = len / sizeof(virtio::SplitDesc);
        in_indirect = true;
        idx = 0;
        continue;
      }
      const DevErr e = chain_append(c, *mem_, d.addr.get(), d.len.get(), writable(fl));
      if (e != kNoErr) return e;
      if (!(fl & virtio::DESC_F_NEXT)) return kNoErr;
      idx = d.next.get();
      if (idx >= tsize) return DevErr::NextOutOfRange;
    }
  }

  void drop(Chain& c, DevErr e) {
    const uint16_t head = c.head;
    chain_reset(c);
    c.err = e;
    const uint64_t n = ++err_[e];
    log_error("split device", to_string(e), n, "chain at head %u dropped", head);
  }
  void stage(uint16_t id, uint32_t len, uint16_t nbufs) {
    if (stage_.n == UsedStage::kMax) flush();
    stage_.e[stage_.n++] = UsedStage::Entry{id, nbufs, len};
  }

  void fail(DevErr e, uint32_t a, uint32_t b) {
    broken_ = true;
    const uint64_t n = ++err_[e];
    log_error("split device", to_string(e), n, "values %u %u; queue marked broken", a, b);
  }

  static constexpr uint16_t kAhead = 8;  // chains ahead whose descriptor pop() prefetches
  uint32_t size_ = 0;
  uint16_t mask_ = 0;
  bool indirect_ = false;
  bool event_idx_ = false;
  bool read_only_ = false;
  bool broken_ = false;
  Mem* mem_ = nullptr;
  const virtio::SplitDesc* desc_ = nullptr;
  virtio::SplitAvailHdr* avail_ = nullptr;
  const virtio::le16* avail_ring_ = nullptr;
  virtio::le16* used_event_ = nullptr;
  virtio::SplitUsedHdr* used_ = nullptr;
  virtio::SplitUsedElem* used_ring_ = nullptr;
  virtio::le16* avail_event_ = nullptr;
  uint16_t last_avail_ = 0;
  uint16_t avail_seen_ = 0;  // last avail->idx read
  uint16_t used_idx_ = 0;    // next used slot after the last flush()
  uint16_t published_ = 0;   // used->idx the driver can see
  uint16_t signalled_ = 0;   // used idx at the last notify decision
  UsedStage stage_;
  ErrCounters<DevErr> err_;
};

}  // namespace vnet::ring
