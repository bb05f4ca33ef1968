// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Driver side of the split virtqueue (virtio 1.x 2.7). Owns: a private shadow
// of every descriptor and avail entry (shared memory is written, never read
// back, except the device-owned used ring and its suppression fields), the
// free list, and the broken flag. Any device violation breaks the ring.
// The free list is FIFO: with buffers completed in order, descriptor i goes
// out again at avail slot i (mod size), so the device reads descriptors in
// sequence and the avail ring keeps its values (we do not rewrite them).
// Memory: the shadows live in caller memory (DriverConfig::shadow,
// bytes_needed(size) bytes); the ring never allocates. Errors: control calls
// return 0 or -errno, device violations are counted and break the ring;
// nothing here throws (every call is noexcept).
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "ring/common.h"
#include "virtio/ring_layout.h"

namespace vnet::ring {

class SplitDriver {
 public:
  // Bytes of DriverConfig::shadow a ring of n entries needs.
  static constexpr size_t bytes_needed(uint32_t n) noexcept;
  int init(const DriverConfig& cfg) noexcept;

  // Add one buffer of n segments (readable first, then writable). With an
  // indirect pool configured and n > 1, one indirect descriptor is used
  // unless use_indirect is false. 0, -ENOSPC (ring full) or -EINVAL.
  inline int add(const Seg* segs, uint16_t n, void* token, bool use_indirect = true) noexcept;
  // add() of a one-descriptor buffer (the common case: every Rx buffer, most
  // Tx frames): no chain walk, no indirect decision.
  inline int add_one(const Seg& s, void* token) noexcept;
  // add_one() of n buffers at once (Rx refill): all or nothing, 0 or
  // -ENOSPC/-EIO. The ring's cursors stay in registers for the batch.
  inline int add_many(const Seg* segs, void* const* tokens, uint16_t n) noexcept;
  // Make everything added so far visible to the device.
  inline void publish() noexcept;
  // After publish(): does the device want a notification? (2.7.10 / 2.7.8)
  inline bool kick_prepare() noexcept;
  // Reap up to max completed buffers. Returns 0 when broken.
  inline uint16_t poll_used(UsedBuf* out, uint16_t max) noexcept;

  // The id the next add() will hand out (valid while free_slots() > 0): lets a
  // caller key per-buffer side storage (e.g. a header slot) before adding.
  uint16_t next_id() const noexcept { return free_head_; }
  uint32_t free_slots() const noexcept { return num_free_; }
  uint32_t in_flight() const noexcept { return static_cast<uint16_t>(avail_idx_ - last_used_); }
  void disable_cb() noexcept;
  bool enable_cb() noexcept;  // true when used buffers are already pending
  bool broken() const noexcept { return broken_; }
  uint32_t size() const noexcept { return size_; }
  const ErrCounters<DrvErr>& errors() const noexcept { return err_; }

  // Teardown, the device stopped: every outstanding token to f, in head
  // order; the queue is then stopped until init() (driver_queue.h).
  template <class F>
  void drain(F&& f) noexcept;

  uint16_t avail_idx() const noexcept { return avail_idx_; }
  uint16_t last_used() const noexcept { return last_used_; }

 private:
  struct Shadow {  // what we wrote into desc[i]
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;  // chain link while in use, free-list link while free
  };
  struct Head {
    void* token;
    uint32_t in_len;  // writable bytes of the buffer
    uint16_t ndesc;   // descriptors taken from the free list
    uint16_t last;    // last descriptor of the chain (to splice back)
    bool busy;
  };

  inline void write_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) noexcept;
  inline void free_head(uint16_t head) noexcept;
  // Put a chain's head at the next avail slot. The entry is written only
  // if it changes: in steady state it holds the same head as a lap ago, and
  // leaving the line alone leaves it in the device's cache.
  inline void place_avail(uint16_t head) noexcept {
    const uint16_t slot = avail_idx_ & mask_;
    if (avail_shadow_[slot] != head) {
      avail_shadow_[slot] = head;
      avail_ring_[slot].set(head);
    }
    ++avail_idx_;
  }
  // poll_used() without IN_ORDER: one used entry per buffer, used_idx as read.
  inline uint16_t poll_plain(UsedBuf* out, uint16_t max, uint16_t used_idx) noexcept;
  inline void reap_one(UsedBuf& out, uint16_t head, uint32_t len) noexcept {
    out = UsedBuf{heads_[head].token, len};
    free_head(head);
    ++last_used_;
  }
  void fail(DrvErr e, uint32_t a, uint32_t b) noexcept;

  uint32_t size_ = 0;
  uint16_t mask_ = 0;
  bool event_idx_ = false;
  bool in_order_ = false;
  bool stopped_ = false;  // broken or drained: add() and poll_used() refuse until init()
  bool broken_ = false;   // the device broke a rule
  bool cb_enabled_ = false;

  virtio::SplitDesc* desc_ = nullptr;
  virtio::SplitAvailHdr* avail_ = nullptr;
  virtio::le16* avail_ring_ = nullptr;
  virtio::le16* used_event_ = nullptr;
  virtio::SplitUsedHdr* used_ = nullptr;
  virtio::SplitUsedElem* used_ring_ = nullptr;
  virtio::le16* avail_event_ = nullptr;
  IndirectPool ind_;

  // In DriverConfig::shadow, one array after the other.
  Shadow* shadow_ = nullptr;
  Head* heads_ = nullptr;
  uint16_t* avail_shadow_ = nullptr;  // head placed at each avail slot
  uint16_t free_head_ = 0;
  uint16_t free_tail_ = 0;  // valid while num_free_ > 0
  uint32_t num_free_ = 0;
  uint16_t avail_idx_ = 0;  // next avail slot (private copy of avail->idx)
  uint16_t published_ = 0;  // avail idx the device can see
  uint16_t kicked_ = 0;     // avail idx at the last kick decision
  uint16_t last_used_ = 0;
  uint16_t batch_left_ = 0;  // IN_ORDER: buffers left in the batch being reaped
  uint32_t batch_len_ = 0;   // length reported for the batch's last buffer
  ErrCounters<DrvErr> err_;
};

static_assert(DriverLayout<SplitDriver>);

// ---------------------------------------------------------------- inline --

constexpr size_t SplitDriver::bytes_needed(uint32_t n) noexcept {
  static_assert(alignof(Shadow) <= kShadowAlign && alignof(Head) <= kShadowAlign);
  static_assert(sizeof(Shadow) % alignof(Head) == 0);
  return size_t{n} * (sizeof(Shadow) + sizeof(Head) + sizeof(uint16_t));
}

inline void SplitDriver::write_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) noexcept {
  shadow_[i] = Shadow{addr, len, flags, next};
  virtio::SplitDesc& d = desc_[i];
  d.addr.set(addr);
  d.len.set(len);
  d.flags.set(flags);
  d.next.set(next);
}

inline int SplitDriver::add_one(const Seg& s, void* token) noexcept {
  if (stopped_) return -EIO;
  if (num_free_ == 0) return -ENOSPC;
  const uint16_t head = free_head_;
  free_head_ = shadow_[head].next;
  write_desc(head, s.addr, s.len, s.write ? virtio::DESC_F_WRITE : 0, free_head_);
  --num_free_;
  heads_[head] = Head{token, s.write ? s.len : 0, 1, head, true};
  place_avail(head);
  return 0;
}

inline int SplitDriver::add_many(const Seg* segs, void* const* tokens, uint16_t n) noexcept {
  if (stopped_) return -EIO;
  if (n > num_free_) return -ENOSPC;  // one descriptor each
  for (uint16_t i = 0; i < n; ++i) {
    const Seg& s = segs[i];
    const uint16_t head = free_head_;
    free_head_ = shadow_[head].next;
    write_desc(head, s.addr, s.len, s.write ? virtio::DESC_F_WRITE : 0, free_head_);
    heads_[head] = Head{tokens[i], s.write ? s.len : 0, 1, head, true};
    place_avail(head);
  }
  num_free_ -= n;
  return 0;
}

inline int SplitDriver::add(const Seg* segs, uint16_t n, void* token, bool use_indirect) noexcept {
  if (n == 1) return add_one(segs[0], token);
  if (stopped_) return -EIO;
  if (n == 0 || n > size_) return -EINVAL;  // 2.7.5.3.1: no chain longer than the queue
  const bool indirect = use_indirect && n > 1 && ind_.per_head >= n;
  const uint32_t need = indirect ? 1 : n;
  if (num_free_ < need) return -ENOSPC;

  const int64_t in_len = writable_len(segs, n);
  if (in_len < 0) return -EINVAL;

  const uint16_t head = free_head_;
  uint16_t last = head;
  if (indirect) {
    auto* table = reinterpret_cast<virtio::SplitDesc*>(static_cast<uint8_t*>(ind_.va) +
                                                       size_t{head} * ind_.per_head * virtio::DESC_SIZE);
    for (uint16_t k = 0; k < n; ++k) {
      uint16_t fl = (segs[k].write ? virtio::DESC_F_WRITE : 0) | (k + 1 < n ? virtio::DESC_F_NEXT : 0);
      table[k].addr.set(segs[k].addr);
      table[k].len.set(segs[k].len);
      table[k].flags.set(fl);
      table[k].next.set(static_cast<uint16_t>(k + 1));
    }
    const uint64_t tiova = ind_.iova + uint64_t{head} * ind_.per_head * virtio::DESC_SIZE;
    free_head_ = shadow_[head].next;
    write_desc(head, tiova, uint32_t{n} * virtio::DESC_SIZE, virtio::DESC_F_INDIRECT, free_head_);
  } else {
    uint16_t i = head;
    for (uint16_t k = 0; k < n; ++k) {
      const uint16_t next = shadow_[i].next;
      const uint16_t fl = (segs[k].write ? virtio::DESC_F_WRITE : 0) | (k + 1 < n ? virtio::DESC_F_NEXT : 0);
      write_desc(i, segs[k].addr, segs[k].len, fl, next);
      last = i;
      i = next;
    }
    free_head_ = i;
  }
  num_free_ -= need;
  heads_[head] = Head{token, static_cast<uint32_t>(in_len), static_cast<uint16_t>(need), last, true};
  place_avail(head);
  return 0;
}

inline void SplitDriver::publish() noexcept {
  if (published_ == avail_idx_) return;
  // release: descriptors and avail ring entries are visible before avail->idx.
  std::atomic_ref<uint16_t>(avail_->idx.raw).store(virtio::to_le(avail_idx_), std::memory_order_release);
  published_ = avail_idx_;
}

inline bool SplitDriver::kick_prepare() noexcept {
  const uint16_t old = kicked_, now = published_;
  if (old == now) return false;
  kicked_ = now;
  // full fence: the avail->idx store is ordered before reading the device's
  // suppression (avail_event / used->flags), 2.7.10.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (event_idx_) {
    const uint16_t ev = virtio::from_le(std::atomic_ref<uint16_t>(avail_event_->raw).load(std::memory_order_relaxed));
    return virtio::need_event(ev, now, old);
  }
  const uint16_t fl = virtio::from_le(std::atomic_ref<uint16_t>(used_->flags.raw).load(std::memory_order_relaxed));
  return !(fl & virtio::USED_F_NO_NOTIFY);
}

inline void SplitDriver::free_head(uint16_t head) noexcept {
  Head& h = heads_[head];
  h.busy = false;
  // FIFO: the chain goes to the tail, so descriptors go out in the order
  // they came back (in order, that is ring order; see the file comment).
  if (num_free_ == 0)
    free_head_ = head;
  else
    shadow_[free_tail_].next = head;
  free_tail_ = h.last;
  num_free_ += h.ndesc;
}

inline uint16_t SplitDriver::poll_plain(UsedBuf* out, uint16_t max, uint16_t used_idx) noexcept {
  // The cursors live in locals for the loop: stores through `out`, heads_
  // and shadow_ could alias the members, which would be reloaded and stored
  // again every buffer. Written back before any fail() (its log reads them).
  uint16_t last = last_used_, fhead = free_head_, ftail = free_tail_;
  uint32_t nfree = num_free_;
  const auto commit = [&] {
    last_used_ = last;
    free_head_ = fhead;
    free_tail_ = ftail;
    num_free_ = nfree;
  };
  uint16_t got = 0;
  for (; got < max && last != used_idx; ++got) {
    const auto e = virtio::snapshot<virtio::SplitUsedElem>(&used_ring_[last & mask_]);  // read once
    const uint32_t id = e.id.get();
    Head& h = heads_[id < size_ ? id : 0];
    // Same checks, in the same order, as the in-order loop in poll_used().
    const uint32_t len = h.in_len == 0 ? 0 : e.len.get();  // (see poll_used: nothing writable, no length)
    DrvErr err = DrvErr::Count;
    if (id >= size_)
      err = DrvErr::UsedIdOutOfRange;
    else if (!h.busy)
      err = DrvErr::UsedIdNotHead;
    else if (len > h.in_len)
      err = DrvErr::UsedLenTooLong;
    if (err != DrvErr::Count) [[unlikely]] {
      commit();
      fail(err, id, err == DrvErr::UsedIdOutOfRange ? e.len.get() : len);
      return got;
    }
    out[got] = UsedBuf{h.token, len};
    h.busy = false;
    // FIFO, as free_head(): the chain goes to the tail of the free list.
    if (nfree == 0)
      fhead = static_cast<uint16_t>(id);
    else
      shadow_[ftail].next = static_cast<uint16_t>(id);
    ftail = h.last;
    nfree += h.ndesc;
    ++last;
  }
  commit();
  return got;
}

inline uint16_t SplitDriver::poll_used(UsedBuf* out, uint16_t max) noexcept {
  if (stopped_) return 0;
  // acquire: used ring entries are read only after seeing used->idx cover them.
  const uint16_t used_idx = virtio::from_le(std::atomic_ref<uint16_t>(used_->idx.raw).load(std::memory_order_acquire));
  const uint16_t pending = used_idx - last_used_;
  if (pending == 0) return 0;
  if (pending > static_cast<uint16_t>(published_ - last_used_)) {  // only what the device was shown
    fail(DrvErr::UsedIdxJump, used_idx, last_used_);
    return 0;
  }
  uint16_t got = 0;
  if (!in_order_) got = poll_plain(out, max, used_idx);
  while (in_order_ && got < max && last_used_ != used_idx) {
    if (batch_left_ != 0) {  // inside a batch: its slots hold no entries
      reap_one(out[got++], avail_shadow_[last_used_ & mask_], --batch_left_ == 0 ? batch_len_ : 0);
      continue;
    }
    const auto e = virtio::snapshot<virtio::SplitUsedElem>(&used_ring_[last_used_ & mask_]);  // read once
    const uint32_t id = e.id.get();
    if (id >= size_) {
      fail(DrvErr::UsedIdOutOfRange, id, e.len.get());
      break;
    }
    // A buffer with nothing device-writable has no meaningful length (2.7.8:
    // devices have historically set it wrongly): report 0.
    const uint32_t len = heads_[id].in_len == 0 ? 0 : e.len.get();
    // IN_ORDER (2.7.9): an entry may name the last buffer of a batch that
    // starts at the oldest outstanding buffer; used->idx then skips the batch.
    const uint16_t window = used_idx - last_used_;
    uint16_t batch = 0;
    while (batch < window && avail_shadow_[(last_used_ + batch) & mask_] != id) ++batch;
    if (batch == window || !heads_[id].busy) {
      fail(DrvErr::UsedIdNotHead, id, len);
      break;
    }
    if (len > heads_[id].in_len) {
      fail(DrvErr::UsedLenTooLong, id, len);
      break;
    }
    batch_left_ = batch;  // buffers after this one in the batch
    batch_len_ = len;
    // Buffers completed inside a batch have no entry of their own: length 0.
    reap_one(out[got++], avail_shadow_[last_used_ & mask_], batch == 0 ? len : 0);
  }
  if (cb_enabled_ && event_idx_) {
    // relaxed: a hint for the device, ordered by the device's own fence.
    std::atomic_ref<uint16_t>(used_event_->raw).store(virtio::to_le(last_used_), std::memory_order_relaxed);
  }
  return got;
}

template <class F>
void SplitDriver::drain(F&& f) noexcept {
  // last_used_ counts buffers reaped, not a position in avail order (out-of-
  // order completion), so walk the heads themselves.
  for (uint32_t h = 0; h < size_; ++h)
    if (heads_[h].busy) {
      f(heads_[h].token);
      free_head(static_cast<uint16_t>(h));
    }
  avail_idx_ = published_;  // withdraw what was added but never published
  kicked_ = published_;
  last_used_ = avail_idx_;
  batch_left_ = 0;
  stopped_ = true;
}

}  // namespace vnet::ring
