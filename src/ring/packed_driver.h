// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Driver side of the packed virtqueue (virtio 1.x 2.8). Owns: buffer ids and
// their private shadows (shared descriptors are written, never read back,
// except the flags/id/len the device writes when it marks a slot used), the
// wrap counters, and the broken flag. The flags of the first buffer added
// since the last publish() are held back and written by publish(), after a
// release, so the whole batch (every chain since) becomes visible at once.
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

class PackedDriver {
 public:
  // Bytes of DriverConfig::shadow a ring of n entries needs.
  static constexpr size_t bytes_needed(uint32_t n) noexcept;
  int init(const DriverConfig& cfg) noexcept;

  inline int add(const Seg* segs, uint16_t n, void* token, bool use_indirect = true) noexcept;
  // add() of a one-descriptor buffer (the common case: every Rx buffer, most
  // Tx frames): no chain walk, no indirect decision.
  inline int add_one(const Seg& s, void* token) noexcept;
  // add_one() of n buffers at once (Rx refill): all or nothing, 0 or
  // -ENOSPC/-EIO. The ring's cursors stay in registers for the batch.
  inline int add_many(const Seg* segs, void* const* tokens, uint16_t n) noexcept;
  // Make every buffer added since the last publish() available at once.
  void publish() noexcept {
    if (!pending_) return;
    pending_ = false;
    // release: every descriptor of the batch (and their indirect tables)
    // is visible before the first one's flags make the batch available.
    std::atomic_ref<uint16_t>(desc_[pending_slot_].flags.raw).store(pending_flags_, std::memory_order_release);
  }
  inline bool kick_prepare() noexcept;
  inline uint16_t poll_used(UsedBuf* out, uint16_t max) noexcept;

  // The id the next add() will hand out (valid while free_slots() > 0): lets a
  // caller key per-buffer side storage (e.g. a header slot) before adding.
  uint16_t next_id() const noexcept { return free_id_; }
  uint32_t free_slots() const noexcept { return num_free_; }
  uint32_t in_flight() const noexcept { return outstanding_; }
  void disable_cb() noexcept;
  bool enable_cb() noexcept;
  bool broken() const noexcept { return broken_; }
  uint32_t size() const noexcept { return size_; }
  const ErrCounters<DrvErr>& errors() const noexcept { return err_; }

  // Teardown, the device stopped: every outstanding token to f, in id
  // order; the queue is then stopped until init() (driver_queue.h).
  template <class F>
  void drain(F&& f) noexcept;

 private:
  struct Buf {
    void* token;
    uint32_t in_len;
    uint16_t ndesc;  // ring slots the chain occupies
    uint16_t next_free;
    bool busy;
  };

  static constexpr uint16_t avail_flags(bool wrap) noexcept {
    return wrap ? virtio::DESC_F_AVAIL : virtio::DESC_F_USED;
  }
  inline bool slot_used(uint16_t flags) const noexcept {
    const bool a = flags & virtio::DESC_F_AVAIL, u = flags & virtio::DESC_F_USED;
    return a == used_wrap_ && u == used_wrap_;
  }
  inline void reap(UsedBuf& out, uint16_t id, uint32_t len) noexcept;
  // poll_used() without IN_ORDER: one used entry per buffer.
  inline uint16_t poll_plain(UsedBuf* out, uint16_t max) noexcept;
  // A chain's head flags (host order): held back if it opens a batch,
  // else stored now; the device reaches it only after the batch's first
  // head, which publish() writes with release.
  inline void set_head_flags(uint16_t slot, uint16_t fl) noexcept {
    if (!pending_) {
      pending_ = true;
      pending_slot_ = slot;
      pending_flags_ = virtio::to_le(fl);
      return;
    }
    std::atomic_ref<uint16_t>(desc_[slot].flags.raw).store(virtio::to_le(fl), std::memory_order_relaxed);
  }
  uint16_t next_mod(uint16_t v) const noexcept { return static_cast<uint16_t>(v + 1u == size_ ? 0 : v + 1u); }
  void fail(DrvErr e, uint32_t a, uint32_t b) noexcept;

  uint32_t size_ = 0;
  bool event_idx_ = false;
  bool in_order_ = false;
  bool stopped_ = false;  // broken or drained: add() and poll_used() refuse until init()
  bool broken_ = false;   // the device broke a rule
  bool cb_enabled_ = false;

  virtio::PackedDesc* desc_ = nullptr;
  virtio::PackedEvent* driver_event_ = nullptr;  // we write
  virtio::PackedEvent* device_event_ = nullptr;  // device writes
  IndirectPool ind_;

  // In DriverConfig::shadow, one array after the other.
  Buf* bufs_ = nullptr;
  uint16_t* order_ = nullptr;                 // IN_ORDER: ids in the order they were made available
  uint16_t order_head_ = 0, order_tail_ = 0;  // indexes into order_ (mod size)
  uint16_t free_id_ = 0;
  uint32_t num_free_ = 0;     // free ring slots
  uint32_t outstanding_ = 0;  // buffers in flight
  uint16_t next_avail_ = 0;
  bool avail_wrap_ = true;
  uint16_t last_used_ = 0;
  bool used_wrap_ = true;
  uint16_t added_since_kick_ = 0;
  bool pending_ = false;  // a batch's first head flags wait for publish()
  uint16_t pending_slot_ = 0;
  uint16_t pending_flags_ = 0;  // little-endian, as stored
  uint16_t batch_left_ = 0;     // IN_ORDER: buffers left in the batch being reaped
  uint32_t batch_len_ = 0;
  ErrCounters<DrvErr> err_;
};

static_assert(DriverLayout<PackedDriver>);

// ---------------------------------------------------------------- inline --

constexpr size_t PackedDriver::bytes_needed(uint32_t n) noexcept {
  static_assert(alignof(Buf) <= kShadowAlign);
  return size_t{n} * (sizeof(Buf) + sizeof(uint16_t));  // the order array too, used or not
}

inline int PackedDriver::add_one(const Seg& s, void* token) noexcept {
  if (stopped_) return -EIO;
  if (num_free_ == 0) return -ENOSPC;  // (outstanding_ < size_ follows: each buffer holds a slot)
  const uint16_t id = free_id_;
  Buf& b = bufs_[id];
  free_id_ = b.next_free;
  const uint16_t head = next_avail_;
  virtio::PackedDesc& d = desc_[head];
  d.addr.set(s.addr);
  d.len.set(s.len);
  d.id.set(id);
  const uint16_t fl = (s.write ? virtio::DESC_F_WRITE : 0) | avail_flags(avail_wrap_);
  if (++next_avail_ == size_) {
    next_avail_ = 0;
    avail_wrap_ = !avail_wrap_;
  }
  b = Buf{token, s.write ? s.len : 0, 1, 0, true};
  --num_free_;
  ++outstanding_;
  ++added_since_kick_;
  if (in_order_) {
    order_[order_tail_] = id;
    order_tail_ = next_mod(order_tail_);
  }
  set_head_flags(head, fl);
  return 0;
}

inline int PackedDriver::add_many(const Seg* segs, void* const* tokens, uint16_t n) noexcept {
  if (stopped_) return -EIO;
  if (n > num_free_) return -ENOSPC;  // one slot each
  if (n == 0) return 0;
  uint16_t slot = next_avail_, id = free_id_;
  bool wrap = avail_wrap_;
  for (uint16_t i = 0; i < n; ++i) {
    const Seg& s = segs[i];
    Buf& b = bufs_[id];
    const uint16_t next = b.next_free;
    virtio::PackedDesc& d = desc_[slot];
    d.addr.set(s.addr);
    d.len.set(s.len);
    d.id.set(id);
    b = Buf{tokens[i], s.write ? s.len : 0, 1, 0, true};
    if (in_order_) {
      order_[order_tail_] = id;
      order_tail_ = next_mod(order_tail_);
    }
    set_head_flags(slot, (s.write ? virtio::DESC_F_WRITE : 0) | avail_flags(wrap));
    if (++slot == size_) {
      slot = 0;
      wrap = !wrap;
    }
    id = next;
  }
  next_avail_ = slot;
  avail_wrap_ = wrap;
  free_id_ = id;
  num_free_ -= n;
  outstanding_ += n;
  added_since_kick_ = static_cast<uint16_t>(added_since_kick_ + n);
  return 0;
}

inline int PackedDriver::add(const Seg* segs, uint16_t n, void* token, bool use_indirect) noexcept {
  if (n == 1) return add_one(segs[0], token);
  if (stopped_) return -EIO;
  if (n == 0 || n > size_) return -EINVAL;  // 2.7.5.3.1: no chain longer than the queue
  const bool indirect = use_indirect && n > 1 && ind_.per_head >= n;
  const uint32_t need = indirect ? 1 : n;
  if (num_free_ < need || outstanding_ == size_) return -ENOSPC;

  const int64_t in_len = writable_len(segs, n);
  if (in_len < 0) return -EINVAL;

  const uint16_t id = free_id_;
  free_id_ = bufs_[id].next_free;
  const uint16_t head = next_avail_;
  const bool head_wrap = avail_wrap_;
  uint16_t head_flags;
  if (indirect) {
    auto* table = reinterpret_cast<virtio::PackedDesc*>(static_cast<uint8_t*>(ind_.va) +
                                                        size_t{id} * ind_.per_head * virtio::DESC_SIZE);
    for (uint16_t k = 0; k < n; ++k) {  // 2.8.19: table entries are used in sequence
      table[k].addr.set(segs[k].addr);
      table[k].len.set(segs[k].len);
      table[k].id.set(0);
      table[k].flags.set(segs[k].write ? virtio::DESC_F_WRITE : 0);
    }
    desc_[head].addr.set(ind_.iova + uint64_t{id} * ind_.per_head * virtio::DESC_SIZE);
    desc_[head].len.set(uint32_t{n} * virtio::DESC_SIZE);
    desc_[head].id.set(id);
    head_flags = virtio::DESC_F_INDIRECT | avail_flags(head_wrap);
    if (++next_avail_ == size_) {
      next_avail_ = 0;
      avail_wrap_ = !avail_wrap_;
    }
  } else {
    head_flags = 0;
    for (uint16_t k = 0; k < n; ++k) {
      const uint16_t fl =
          (segs[k].write ? virtio::DESC_F_WRITE : 0) | (k + 1 < n ? virtio::DESC_F_NEXT : 0) | avail_flags(avail_wrap_);
      virtio::PackedDesc& d = desc_[next_avail_];
      d.addr.set(segs[k].addr);
      d.len.set(segs[k].len);
      d.id.set(id);
      if (k == 0) {
        head_flags = fl;
      } else {
        d.flags.set(fl);  // not visible yet: the head's flags are still stale
      }
      if (++next_avail_ == size_) {
        next_avail_ = 0;
        avail_wrap_ = !avail_wrap_;
      }
    }
  }
  set_head_flags(head, head_flags);

  bufs_[id] = Buf{token, static_cast<uint32_t>(in_len), static_cast<uint16_t>(need), 0, true};
  num_free_ -= need;
  ++outstanding_;
  added_since_kick_ = static_cast<uint16_t>(added_since_kick_ + need);
  if (in_order_) {
    order_[order_tail_] = id;
    order_tail_ = next_mod(order_tail_);
  }
  return 0;
}

inline bool PackedDriver::kick_prepare() noexcept {
  if (added_since_kick_ == 0) return false;
  const uint16_t added = added_since_kick_;
  added_since_kick_ = 0;
  // full fence: the head flags stores are ordered before reading the
  // device's event suppression structure (2.8.10).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t fl =
      virtio::from_le(std::atomic_ref<uint16_t>(device_event_->flags.raw).load(std::memory_order_relaxed));
  if (fl != virtio::EVENT_F_DESC) return fl != virtio::EVENT_F_DISABLE;
  if (!event_idx_) return true;  // DESC mode needs EVENT_IDX; treat it as enabled
  const uint16_t ow =
      virtio::from_le(std::atomic_ref<uint16_t>(device_event_->off_wrap.raw).load(std::memory_order_relaxed));
  return virtio::packed_need_event(ow, next_avail_, avail_wrap_, added, size_);
}

inline void PackedDriver::reap(UsedBuf& out, uint16_t id, uint32_t len) noexcept {
  Buf& b = bufs_[id];
  out = UsedBuf{b.token, len};
  b.busy = false;
  b.next_free = free_id_;
  free_id_ = id;
  num_free_ += b.ndesc;
  --outstanding_;
  last_used_ = static_cast<uint16_t>(last_used_ + b.ndesc);
  if (last_used_ >= size_) {
    last_used_ = static_cast<uint16_t>(last_used_ - size_);
    used_wrap_ = !used_wrap_;
  }
  if (in_order_) order_head_ = next_mod(order_head_);
}

inline uint16_t PackedDriver::poll_plain(UsedBuf* out, uint16_t max) noexcept {
  // The cursors live in locals for the loop: stores through `out` and
  // bufs_ could alias the members, which would be reloaded and stored
  // again every buffer. Written back before any fail() (its log reads them).
  uint16_t slot = last_used_, free_id = free_id_;
  bool wrap = used_wrap_;
  uint32_t nfree = num_free_, outstanding = outstanding_;
  const auto used_mask = static_cast<uint16_t>(virtio::DESC_F_AVAIL | virtio::DESC_F_USED);
  uint16_t want = wrap ? used_mask : 0;  // both bits equal the used wrap counter: used (2.8.1)
  const auto commit = [&] {
    last_used_ = slot;
    used_wrap_ = wrap;
    free_id_ = free_id;
    num_free_ = nfree;
    outstanding_ = outstanding;
  };
  uint16_t got = 0;
  for (; got < max; ++got) {
    virtio::PackedDesc& d = desc_[slot];
    // acquire: id and len are read only after the flags that mark the slot used.
    const uint16_t fl = virtio::from_le(std::atomic_ref<uint16_t>(d.flags.raw).load(std::memory_order_acquire));
    if ((fl & used_mask) != want) break;
    const auto e = virtio::snapshot<virtio::PackedDesc, false>(&d);  // id and len read once
    const uint16_t id = e.id.get();
    const uint32_t raw_len = e.len.get();
    DrvErr err = DrvErr::Count;
    Buf& b = bufs_[id < size_ ? id : 0];
    // Same checks, in the same order, as the general loop in poll_used().
    const uint32_t len = b.in_len == 0 ? 0 : raw_len;  // (see poll_used: nothing writable, no length)
    if (outstanding == 0)
      err = DrvErr::UsedIdxJump;
    else if (id >= size_)
      err = DrvErr::UsedIdOutOfRange;
    else if (!b.busy)
      err = DrvErr::UsedIdNotHead;
    else if (len > b.in_len)
      err = DrvErr::UsedLenTooLong;
    if (err != DrvErr::Count) [[unlikely]] {
      commit();
      fail(err, id, err == DrvErr::UsedLenTooLong ? len : raw_len);
      return got;
    }
    out[got] = UsedBuf{b.token, len};
    b.busy = false;
    b.next_free = free_id;
    free_id = id;
    nfree += b.ndesc;
    --outstanding;
    slot = static_cast<uint16_t>(slot + b.ndesc);
    if (slot >= size_) {
      slot = static_cast<uint16_t>(slot - size_);
      wrap = !wrap;
      want = wrap ? used_mask : 0;
    }
  }
  commit();
  return got;
}

inline uint16_t PackedDriver::poll_used(UsedBuf* out, uint16_t max) noexcept {
  if (stopped_) return 0;
  uint16_t got = 0;
  if (!in_order_) got = poll_plain(out, max);
  while (in_order_ && got < max) {
    if (in_order_ && batch_left_ != 0) {  // inside a batch: no descriptors were written
      --batch_left_;
      reap(out[got++], order_[order_head_], batch_left_ == 0 ? batch_len_ : 0);
      continue;
    }
    virtio::PackedDesc& d = desc_[last_used_];
    // acquire: id and len are read only after the flags that mark the slot used.
    const uint16_t fl = virtio::from_le(std::atomic_ref<uint16_t>(d.flags.raw).load(std::memory_order_acquire));
    if (!slot_used(fl)) break;
    const auto e = virtio::snapshot<virtio::PackedDesc, false>(&d);  // id and len read once
    const uint16_t id = e.id.get();
    const uint32_t raw_len = e.len.get();
    if (outstanding_ == 0) {
      fail(DrvErr::UsedIdxJump, id, raw_len);
      break;
    }
    if (id >= size_) {
      fail(DrvErr::UsedIdOutOfRange, id, raw_len);
      break;
    }
    if (!bufs_[id].busy) {
      fail(DrvErr::UsedIdNotHead, id, raw_len);
      break;
    }
    // A buffer with nothing device-writable has no meaningful length; some
    // devices (DPDK's vhost on packed Tx) report the readable length there.
    const uint32_t len = bufs_[id].in_len == 0 ? 0 : raw_len;
    if (len > bufs_[id].in_len) {
      fail(DrvErr::UsedLenTooLong, id, len);
      break;
    }
    // IN_ORDER (2.8.20): one used descriptor may stand for a batch ending at
    // `id`; the slots of the earlier buffers are skipped.
    uint16_t batch = 0;
    uint16_t k = order_head_;
    while (order_[k] != id) {
      if (++batch == outstanding_) break;
      k = next_mod(k);
    }
    if (batch == outstanding_) {
      fail(DrvErr::UsedIdNotHead, id, len);
      break;
    }
    batch_left_ = batch;
    batch_len_ = len;
    reap(out[got++], order_[order_head_], batch == 0 ? len : 0);
  }
  if (cb_enabled_ && event_idx_ && got) {
    // relaxed: a hint for the device, ordered by the device's own fence.
    std::atomic_ref<uint16_t>(driver_event_->off_wrap.raw)
        .store(virtio::to_le(static_cast<uint16_t>(last_used_ | (used_wrap_ ? virtio::EVENT_WRAP_BIT : 0))),
               std::memory_order_relaxed);
  }
  return got;
}

template <class F>
void PackedDriver::drain(F&& f) noexcept {
  for (uint32_t id = 0; id < size_; ++id) {
    if (!bufs_[id].busy) continue;
    Buf& b = bufs_[id];
    f(b.token);
    b.busy = false;  // back on the free list, its ring slots counted free
    b.next_free = free_id_;
    free_id_ = static_cast<uint16_t>(id);
    num_free_ += b.ndesc;
    --outstanding_;
  }
  pending_ = false;  // withdraw what was added but never published
  added_since_kick_ = 0;
  last_used_ = next_avail_;
  used_wrap_ = avail_wrap_;
  order_head_ = order_tail_;
  batch_left_ = 0;
  stopped_ = true;
}

}  // namespace vnet::ring
