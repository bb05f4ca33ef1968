// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// SplitDriver control path: ring placement, reset, notification toggles and
// the broken-ring error path.
#include "ring/split_driver.h"

#include <cstring>
#include <new>

namespace vnet::ring {

int SplitDriver::init(const DriverConfig& cfg) noexcept {
  const uint32_t n = cfg.size;
  if (n == 0 || n > virtio::SPLIT_MAX_SIZE || (n & (n - 1)) != 0 || cfg.ring.va == nullptr) return -EINVAL;
  if (cfg.indirect && (cfg.indirect_pool.va == nullptr || cfg.indirect_pool.per_head < 2)) return -EINVAL;
  if (cfg.used_align == 0 || (cfg.used_align & (cfg.used_align - 1)) != 0) return -EINVAL;
  auto* state = static_cast<uint8_t*>(cfg.shadow.va);
  if (state == nullptr || cfg.shadow.bytes < bytes_needed(n) || reinterpret_cast<uintptr_t>(state) % kShadowAlign != 0)
    return -EINVAL;
  const auto lay = virtio::SplitLayout::make(n, cfg.used_align);
  auto* base = static_cast<uint8_t*>(cfg.ring.va);
  std::memset(base, 0, lay.total);
  size_ = n;
  mask_ = static_cast<uint16_t>(n - 1);
  event_idx_ = cfg.event_idx;
  in_order_ = cfg.in_order;
  stopped_ = false;
  broken_ = false;
  cb_enabled_ = false;
  desc_ = reinterpret_cast<virtio::SplitDesc*>(base + lay.desc_off);
  avail_ = reinterpret_cast<virtio::SplitAvailHdr*>(base + lay.avail_off);
  avail_ring_ = reinterpret_cast<virtio::le16*>(base + lay.avail_off + sizeof(virtio::SplitAvailHdr));
  used_event_ = avail_ring_ + n;
  used_ = reinterpret_cast<virtio::SplitUsedHdr*>(base + lay.used_off);
  used_ring_ = reinterpret_cast<virtio::SplitUsedElem*>(base + lay.used_off + sizeof(virtio::SplitUsedHdr));
  avail_event_ = reinterpret_cast<virtio::le16*>(used_ring_ + n);
  ind_ = cfg.indirect ? cfg.indirect_pool : IndirectPool{};

  shadow_ = reinterpret_cast<Shadow*>(state);
  heads_ = reinterpret_cast<Head*>(state + size_t{n} * sizeof(Shadow));
  avail_shadow_ = reinterpret_cast<uint16_t*>(state + size_t{n} * (sizeof(Shadow) + sizeof(Head)));
  for (uint32_t i = 0; i < n; ++i) {
    new (&shadow_[i]) Shadow{0, 0, 0, static_cast<uint16_t>(i + 1 < n ? i + 1 : 0)};
    new (&heads_[i]) Head{};
    avail_shadow_[i] = 0;
  }
  free_head_ = 0;
  free_tail_ = static_cast<uint16_t>(n - 1);
  num_free_ = n;
  avail_idx_ = published_ = kicked_ = last_used_ = 0;
  batch_left_ = 0;
  batch_len_ = 0;
  err_ = {};
  disable_cb();  // a poll-mode driver starts with interrupts suppressed
  return 0;
}

void SplitDriver::disable_cb() noexcept {
  cb_enabled_ = false;
  // relaxed: suppression is a hint (2.7.7); the device may still interrupt.
  std::atomic_ref<uint16_t>(avail_->flags.raw)
      .store(virtio::to_le(virtio::AVAIL_F_NO_INTERRUPT), std::memory_order_relaxed);
  if (event_idx_) {  // an event index a full lap behind: never crossed in practice
    std::atomic_ref<uint16_t>(used_event_->raw)
        .store(virtio::to_le(static_cast<uint16_t>(last_used_ - virtio::EVENT_IDX_FAR)), std::memory_order_relaxed);
  }
}

bool SplitDriver::enable_cb() noexcept {
  cb_enabled_ = true;
  std::atomic_ref<uint16_t>(avail_->flags.raw).store(0, std::memory_order_relaxed);
  if (event_idx_) {
    std::atomic_ref<uint16_t>(used_event_->raw).store(virtio::to_le(last_used_), std::memory_order_relaxed);
  }
  // full fence: the enable above is ordered before re-reading used->idx, so a
  // buffer used before the device saw the enable is not missed.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t used_idx = virtio::from_le(std::atomic_ref<uint16_t>(used_->idx.raw).load(std::memory_order_relaxed));
  return used_idx != last_used_;
}

void SplitDriver::fail(DrvErr e, uint32_t a, uint32_t b) noexcept {
  stopped_ = true;
  broken_ = true;
  const uint64_t c = ++err_[e];
  log_error("split driver", to_string(e), c, "values %u %u (last_used %u, avail %u); queue marked broken", a, b,
            last_used_, avail_idx_);
}

}  // namespace vnet::ring
