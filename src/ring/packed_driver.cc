// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// PackedDriver control path: ring placement, reset, notification toggles and
// the broken-ring error path.
#include "ring/packed_driver.h"

#include <cstring>
#include <new>

namespace vnet::ring {

int PackedDriver::init(const DriverConfig& cfg) noexcept {
  const uint32_t n = cfg.size;
  if (n == 0 || n > virtio::PACKED_MAX_SIZE || cfg.ring.va == nullptr) return -EINVAL;
  if (cfg.indirect && (cfg.indirect_pool.va == nullptr || cfg.indirect_pool.per_head < 2)) return -EINVAL;
  auto* state = static_cast<uint8_t*>(cfg.shadow.va);
  if (state == nullptr || cfg.shadow.bytes < bytes_needed(n) || reinterpret_cast<uintptr_t>(state) % kShadowAlign != 0)
    return -EINVAL;
  const auto lay = virtio::PackedLayout::make(n);
  auto* base = static_cast<uint8_t*>(cfg.ring.va);
  std::memset(base, 0, lay.total);
  size_ = n;
  event_idx_ = cfg.event_idx;
  in_order_ = cfg.in_order;
  stopped_ = false;
  broken_ = false;
  cb_enabled_ = false;
  desc_ = reinterpret_cast<virtio::PackedDesc*>(base + lay.desc_off);
  driver_event_ = reinterpret_cast<virtio::PackedEvent*>(base + lay.driver_event_off);
  device_event_ = reinterpret_cast<virtio::PackedEvent*>(base + lay.device_event_off);
  ind_ = cfg.indirect ? cfg.indirect_pool : IndirectPool{};

  bufs_ = reinterpret_cast<Buf*>(state);
  order_ = reinterpret_cast<uint16_t*>(state + size_t{n} * sizeof(Buf));
  for (uint32_t i = 0; i < n; ++i) {
    new (&bufs_[i]) Buf{nullptr, 0, 0, static_cast<uint16_t>(i + 1), false};
    order_[i] = 0;
  }
  order_head_ = order_tail_ = 0;
  free_id_ = 0;
  num_free_ = n;
  outstanding_ = 0;
  next_avail_ = 0;
  avail_wrap_ = true;
  last_used_ = 0;
  used_wrap_ = true;
  added_since_kick_ = 0;
  pending_ = false;
  batch_left_ = 0;
  batch_len_ = 0;
  err_ = {};
  disable_cb();
  return 0;
}

void PackedDriver::disable_cb() noexcept {
  cb_enabled_ = false;
  // relaxed: suppression is a hint (2.8.10); the device may still interrupt.
  std::atomic_ref<uint16_t>(driver_event_->flags.raw)
      .store(virtio::to_le(virtio::EVENT_F_DISABLE), std::memory_order_relaxed);
}

bool PackedDriver::enable_cb() noexcept {
  cb_enabled_ = true;
  if (event_idx_) {
    std::atomic_ref<uint16_t>(driver_event_->off_wrap.raw)
        .store(virtio::to_le(static_cast<uint16_t>(last_used_ | (used_wrap_ ? virtio::EVENT_WRAP_BIT : 0))),
               std::memory_order_relaxed);
  }
  // release: off_wrap is visible before the flags that tell the device to use it.
  std::atomic_ref<uint16_t>(driver_event_->flags.raw)
      .store(virtio::to_le(event_idx_ ? virtio::EVENT_F_DESC : virtio::EVENT_F_ENABLE), std::memory_order_release);
  // full fence: the enable is ordered before re-reading the next used slot.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t fl =
      virtio::from_le(std::atomic_ref<uint16_t>(desc_[last_used_].flags.raw).load(std::memory_order_relaxed));
  return slot_used(fl);
}

void PackedDriver::fail(DrvErr e, uint32_t a, uint32_t b) noexcept {
  stopped_ = true;
  broken_ = true;
  const uint64_t c = ++err_[e];
  log_error("packed driver", to_string(e), c,
            "values %u %u (last_used %u wrap %d, outstanding %u); queue marked broken", a, b, last_used_, used_wrap_,
            outstanding_);
}

}  // namespace vnet::ring
