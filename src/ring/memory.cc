// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// RegionTable control path: adding and removing regions with overlap checks.
#include "ring/memory.h"

#include <cerrno>

namespace vnet::ring {

int RegionTable::add(const Region& r) noexcept {
  if (r.size == 0 || r.local == nullptr) return -EINVAL;
  if (r.guest + r.size < r.guest) return -EINVAL;  // wraps the address space
  if (n_ == kMax) return -ENOSPC;
  for (size_t i = 0; i < n_; ++i) {
    const Region& o = r_[i];
    if (r.guest < o.guest + o.size && o.guest < r.guest + r.size) return -EEXIST;
  }
  r_[n_++] = r;
  return 0;
}

int RegionTable::remove(uint64_t guest, uint64_t size) noexcept {
  for (size_t i = 0; i < n_; ++i) {
    if (r_[i].guest == guest && r_[i].size == size) {
      r_[i] = r_[n_ - 1];
      --n_;
      r_[n_] = Region{};  // past the end: size 0 (the cache's slot when the table empties)
      last_ = 0;
      return 0;
    }
  }
  return -ENOENT;
}

}  // namespace vnet::ring
