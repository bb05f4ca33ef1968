// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Device side of the packed virtqueue (virtio 1.x 2.8), for the backend.
// Invariants: a chain is walked slot by slot with a budget of the ring size;
// every slot after the head must itself be available (else the ring is
// broken: we cannot tell where the chain ends); content errors drop the
// chain but keep the walk going so its id and length are known; used
// entries are staged and written by flush(), id/len before flags and the
// first entry's flags last.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "ring/device_common.h"
#include "virtio/ring_layout.h"

namespace vnet::ring {

template <class Mem>
class PackedDevice {
 public:
  int init(const DeviceConfig& cfg, Mem* mem) {
    const uint32_t n = cfg.size;
    if (n == 0 || n > virtio::PACKED_MAX_SIZE || !cfg.desc || !cfg.avail || !cfg.used || !mem || cfg.avail_base >= n ||
        cfg.used_base >= n)
      return -EINVAL;
    size_ = n;
    indirect_ = cfg.indirect;
    event_idx_ = cfg.event_idx;
    read_only_ = cfg.read_only;
    mem_ = mem;
    desc_ = static_cast<virtio::PackedDesc*>(cfg.desc);
    driver_event_ = static_cast<virtio::PackedEvent*>(cfg.avail);
    device_event_ = static_cast<virtio::PackedEvent*>(cfg.used);
    last_avail_ = cfg.avail_base;
    avail_wrap_ = cfg.avail_wrap;
    used_idx_ = cfg.used_base;
    used_wrap_ = cfg.used_wrap;
    pushed_since_notify_ = 0;
    stage_.n = 0;
    broken_ = false;
    err_ = {};
    return 0;
  }

  [[gnu::always_inline]] Pop pop(Chain& c) {
    if (broken_) return Pop::Broken;
    // acquire: the chain's descriptors are read only after the head flags
    // that make it available.
    const uint16_t hf =
        virtio::from_le(std::atomic_ref<uint16_t>(desc_[last_avail_].flags.raw).load(std::memory_order_acquire));
    if (!is_avail(hf, avail_wrap_)) return Pop::Empty;
    if (!(hf & (virtio::DESC_F_NEXT | virtio::DESC_F_INDIRECT))) {
      // One plain descriptor (the common chain): checked and translated
      // inline when its buffer lies in the last region hit, else pop_one().
      const auto d = virtio::snapshot<virtio::PackedDesc>(&desc_[last_avail_]);
      const uint16_t id = d.id.get();
      if (id < size_ && chain_one(c, *mem_, d.addr.get(), d.len.get(), writable(hf), id, 1)) {
        if (++last_avail_ == size_) {
          last_avail_ = 0;
          avail_wrap_ = !avail_wrap_;
        }
        return Pop::Ok;
      }
      return pop_one(c, d, hf);
    }
    chain_reset(c);
    uint16_t slot = last_avail_;
    bool wrap = avail_wrap_;
    uint32_t count = 0;
    DevErr content = kNoErr;
    uint16_t id;
    for (;;) {
      if (count == size_) {
        fail(DevErr::ChainTooLong, last_avail_, count);
        return Pop::Broken;
      }
      const auto d = virtio::snapshot<virtio::PackedDesc, false>(&desc_[slot]);
      const uint16_t fl = count == 0 ? hf : d.flags.get();
      if (count > 0 && !is_avail(fl, wrap)) {
        fail(DevErr::PackedNotAvail, slot, last_avail_);
        return Pop::Broken;
      }
      ++count;
      if (++slot == size_) {
        slot = 0;
        wrap = !wrap;
      }
      if (content == kNoErr) content = take(c, d, fl);
      if (!(fl & virtio::DESC_F_NEXT)) {
        id = d.id.get();
        break;
      }
    }
    return end_pop(c, content, id, count, slot, wrap);
  }

  // Four chains at once, a busy ring's common case: the slots
  // [last_avail_, last_avail_ + 4) fill one 64-byte line of the table (the
  // first is a multiple of 4, the last inside the ring) and each holds an
  // available plain descriptor (no NEXT, no INDIRECT) with an id in range
  // and a non-empty buffer inside the region the table hit last. Then c[0..3]
  // are filled as four pop()s would fill them, chain i began at
  // Cursor{before.idx + i, before.wrap} (before: save() ahead of the call),
  // and true is returned. Otherwise false: nothing consumed, nothing counted
  // (pop() then takes the chains one at a time and judges each).
  [[gnu::always_inline]] bool pop4(Chain* c) {
    const uint16_t at = last_avail_;
    if (broken_ || (at & 3) != 0 || at + 4u > size_) return false;
    virtio::PackedDesc* d = &desc_[at];
    const uint16_t want = avail_wrap_ ? virtio::DESC_F_AVAIL : virtio::DESC_F_USED;  // is_avail(), as one compare
    constexpr uint16_t kMask =
        virtio::DESC_F_AVAIL | virtio::DESC_F_USED | virtio::DESC_F_NEXT | virtio::DESC_F_INDIRECT;
    uint16_t fl[4];
    for (int i = 0; i < 4; ++i) {
      fl[i] = virtio::from_le(std::atomic_ref<uint16_t>(d[i].flags.raw).load(std::memory_order_relaxed));
      if ((fl[i] & kMask) != want) return false;
    }
    // acquire: the four descriptors are read only after the flags that made them available.
    std::atomic_thread_fence(std::memory_order_acquire);
    virtio::PackedDesc s[4];
    uint8_t* p[4];
    for (int i = 0; i < 4; ++i) {
      s[i] = virtio::snapshot<virtio::PackedDesc>(&d[i]);
      p[i] = mem_->translate_last(s[i].addr.get(), s[i].len.get());
      if (s[i].id.get() >= size_ || !p[i] || s[i].len.get() == 0) return false;
    }
    for (int i = 0; i < 4; ++i) chain_set_one(c[i], p[i], s[i].len.get(), writable(fl[i]), s[i].id.get(), 1);
    if (at + 4u == size_) {
      last_avail_ = 0;
      avail_wrap_ = !avail_wrap_;
    } else {
      last_avail_ = static_cast<uint16_t>(at + 4);
    }
    return true;
  }

  Cursor save() const { return Cursor{last_avail_, avail_wrap_}; }
  void restore(Cursor c) {
    last_avail_ = c.idx;
    avail_wrap_ = c.wrap;
  }

  // Stage the used entry of the chain pop() reported as buffer id `head`
  // over `ndesc` ring slots; flush() writes it (2.8.8).
  void push_used(uint16_t head, uint16_t ndesc, uint32_t len) { stage_used(head, len, ndesc); }
  void push_used(const Chain& c, uint32_t len) { stage_used(c.head, len, c.ndesc); }
  // IN_ORDER: one used descriptor for a batch of buffers ending with `last`
  // that together occupied `nslots` ring slots (2.8.20).
  void push_used_batch(const Chain& last, uint32_t len, uint16_t nslots) { stage_used(last.head, len, nslots); }
  // Write the staged used entries: each one's id and length before its
  // flags, and the first entry's flags last, so the driver (which reads used
  // slots in order) sees the whole batch at once, and the descriptor lines
  // move to the driver once a burst rather than once an entry.
  void flush() {
    const uint16_t n = stage_.n;
    if (n == 0) return;
    stage_.n = 0;
    const UsedStage::Entry* e = stage_.e;
    uint32_t slot = used_idx_;
    bool wrap = used_wrap_;
    virtio::PackedDesc& first = desc_[slot];
    const uint16_t first_flags = used_flags(wrap);
    first.id.set(e[0].id);
    first.len.set(e[0].len);
    uint32_t moved = e[0].step;
    step(slot, wrap, e[0].step);
    for (uint16_t i = 1; i < n; ++i) {
      virtio::PackedDesc& d = desc_[slot];
      d.id.set(e[i].id);
      d.len.set(e[i].len);
      // release: this entry's id and len are visible before its flags.
      std::atomic_ref<uint16_t>(d.flags.raw).store(used_flags(wrap), std::memory_order_release);
      moved += e[i].step;
      step(slot, wrap, e[i].step);
    }
    // release: the later entries are visible before the first entry's
    // flags, which hand the batch over.
    std::atomic_ref<uint16_t>(first.flags.raw).store(first_flags, std::memory_order_release);
    used_idx_ = static_cast<uint16_t>(slot);
    used_wrap_ = wrap;
    pushed_since_notify_ = static_cast<uint16_t>(pushed_since_notify_ + moved);
  }

  // The end of a batch: flush(), then should_notify().
  bool drain() {
    flush();
    return should_notify();
  }

  bool should_notify() {
    const uint16_t moved = pushed_since_notify_;
    if (moved == 0) return false;
    pushed_since_notify_ = 0;
    // full fence: the used flags stores are ordered before reading the
    // driver's event suppression structure (2.8.10).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const uint16_t fl =
        virtio::from_le(std::atomic_ref<uint16_t>(driver_event_->flags.raw).load(std::memory_order_relaxed));
    if (fl != virtio::EVENT_F_DESC) return fl != virtio::EVENT_F_DISABLE;
    if (!event_idx_) return true;
    const uint16_t ow =
        virtio::from_le(std::atomic_ref<uint16_t>(driver_event_->off_wrap.raw).load(std::memory_order_relaxed));
    return virtio::packed_need_event(ow, used_idx_, used_wrap_, moved, size_);
  }

  void disable_kicks() {
    // relaxed: a hint (2.8.10); the driver may still notify.
    std::atomic_ref<uint16_t>(device_event_->flags.raw)
        .store(virtio::to_le(virtio::EVENT_F_DISABLE), std::memory_order_relaxed);
  }
  bool enable_kicks() {
    if (event_idx_)
      std::atomic_ref<uint16_t>(device_event_->off_wrap.raw)
          .store(virtio::to_le(static_cast<uint16_t>(last_avail_ | (avail_wrap_ ? virtio::EVENT_WRAP_BIT : 0))),
                 std::memory_order_relaxed);
    // release: off_wrap is visible before the flags that tell the driver to use it.
    std::atomic_ref<uint16_t>(device_event_->flags.raw)
        .store(virtio::to_le(event_idx_ ? virtio::EVENT_F_DESC : virtio::EVENT_F_ENABLE), std::memory_order_release);
    // full fence: the enable is ordered before re-reading the next slot.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return is_avail(
        virtio::from_le(std::atomic_ref<uint16_t>(desc_[last_avail_].flags.raw).load(std::memory_order_relaxed)),
        avail_wrap_);
  }

  // vhost-user GET_VRING_BASE for packed rings: index | wrap << 15.
  uint16_t last_avail() const {
    return static_cast<uint16_t>(last_avail_ | (avail_wrap_ ? virtio::PACKED_WRAP_BIT : 0));
  }
  uint16_t used_idx() const {  // with the staged entries
    uint32_t slot = used_idx_;
    bool wrap = used_wrap_;
    for (uint16_t i = 0; i < stage_.n; ++i) step(slot, wrap, stage_.e[i].step);
    return static_cast<uint16_t>(slot | (wrap ? virtio::PACKED_WRAP_BIT : 0));
  }
  bool broken() const { return broken_; }
  uint32_t size() const { return size_; }
  const ErrCounters<DevErr>& errors() const { return err_; }

 private:
  bool writable(uint16_t fl) const { return (fl & virtio::DESC_F_WRITE) && !read_only_; }
  static bool is_avail(uint16_t fl, bool wrap) {
    return static_cast<bool>(fl & virtio::DESC_F_AVAIL) == wrap && static_cast<bool>(fl & virtio::DESC_F_USED) != wrap;
  }

  // pop() of one plain descriptor `d` (head flags `hf`) that the inline path
  // left to the general one.
  [[gnu::noinline]] Pop pop_one(Chain& c, const virtio::PackedDesc& d, uint16_t hf) {
    chain_reset(c);
    const DevErr content = chain_append(c, *mem_, d.addr.get(), d.len.get(), writable(hf));
    const bool last = last_avail_ + 1u == size_;
    return end_pop(c, content, d.id.get(), 1, last ? 0 : static_cast<uint16_t>(last_avail_ + 1),
                   last ? !avail_wrap_ : avail_wrap_);
  }

  // The end of a pop that walked `count` slots up to `slot`/`wrap`: check
  // the buffer id, consume the slots, report the chain's fate.
  Pop end_pop(Chain& c, DevErr content, uint16_t id, uint32_t count, uint16_t slot, bool wrap) {
    if (id >= size_) {
      fail(DevErr::PackedIdOutOfRange, id, last_avail_);
      return Pop::Broken;
    }
    last_avail_ = slot;
    avail_wrap_ = wrap;
    c.head = id;
    c.ndesc = static_cast<uint16_t>(count);
    if (content == kNoErr) return Pop::Ok;
    chain_reset(c);
    c.err = content;
    const uint64_t n = ++err_[content];
    log_error("packed device", to_string(content), n, "chain id %u dropped", id);
    return Pop::Dropped;
  }

  // Validate and append one ring descriptor (possibly an indirect table).
  DevErr take(Chain& c, const virtio::PackedDesc& d, uint16_t fl) {
    if (!(fl & virtio::DESC_F_INDIRECT)) return chain_append(c, *mem_, d.addr.get(), d.len.get(), writable(fl));
    if (!indirect_) return DevErr::IndirectNotNegotiated;
    if (fl & virtio::DESC_F_NEXT) return DevErr::IndirectAndNext;
    if (c.nseg != 0 || c.seen_write || c.out_len != 0) return DevErr::IndirectAndNext;  // 2.8.19: indirect stands alone
    const uint32_t len = d.len.get();
    if (len == 0 || len % sizeof(virtio::PackedDesc) != 0) return DevErr::IndirectBadLen;
    const uint32_t n = len / sizeof(virtio::PackedDesc);
    if (n > size_) return DevErr::ChainTooLong;
    const uint8_t* t = mem_->translate(d.addr.get(), len);
    if (!t) return DevErr::BadAddress;
    for (uint32_t i = 0; i < n; ++i) {
      const auto e = virtio::snapshot<virtio::PackedDesc, false>(t + size_t{i} * sizeof(virtio::PackedDesc));
      const uint16_t efl = e.flags.get();
      if (efl & virtio::DESC_F_INDIRECT) return DevErr::NestedIndirect;
      const DevErr r = chain_append(c, *mem_, e.addr.get(), e.len.get(), writable(efl));
      if (r != kNoErr) return r;
    }
    return kNoErr;
  }

  void stage_used(uint16_t id, uint32_t len, uint16_t nslots) {
    if (stage_.n == UsedStage::kMax) flush();
    stage_.e[stage_.n++] = UsedStage::Entry{id, nslots, len};
  }
  // A ring position `n` slots on; a caller's batch may exceed one lap: stay inside the table.
  void step(uint32_t& slot, bool& wrap, uint32_t n) const {
    slot += n;
    while (slot >= size_) {
      slot -= size_;
      wrap = !wrap;
    }
  }
  // The used flags (as stored) of a slot written on lap `wrap`: both bits equal to it (2.8.1).
  static uint16_t used_flags(bool wrap) {
    return wrap ? virtio::to_le(static_cast<uint16_t>(virtio::DESC_F_AVAIL | virtio::DESC_F_USED)) : 0;
  }

  void fail(DevErr e, uint32_t a, uint32_t b) {
    broken_ = true;
    const uint64_t n = ++err_[e];
    log_error("packed device", to_string(e), n, "values %u %u; queue marked broken", a, b);
  }

  uint32_t size_ = 0;
  bool indirect_ = false;
  bool event_idx_ = false;
  bool read_only_ = false;
  bool broken_ = false;
  Mem* mem_ = nullptr;
  virtio::PackedDesc* desc_ = nullptr;
  virtio::PackedEvent* driver_event_ = nullptr;  // driver writes
  virtio::PackedEvent* device_event_ = nullptr;  // we write
  uint16_t last_avail_ = 0;
  bool avail_wrap_ = true;
  uint16_t used_idx_ = 0;  // next used slot after the last flush()
  bool used_wrap_ = true;
  uint16_t pushed_since_notify_ = 0;
  UsedStage stage_;  // staged since the last flush(), in push order
  ErrCounters<DevErr> err_;
};

}  // namespace vnet::ring
