// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// GuestMemory: mapping regions from the frontend's fds with every size,
// offset and overlap checked before the first byte is touched.
#include "vhost/guest_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "common/log.h"

namespace vnet::vhost {

int GuestMemory::map_one(const vhost_user::MemRegion& r, int fd, uint64_t have, Mapping& out) noexcept {
  if (fd < 0) return -EBADF;
  if (r.size == 0 || r.guest_addr + r.size < r.guest_addr || r.user_addr + r.size < r.user_addr ||
      r.mmap_offset + r.size < r.mmap_offset) {
    VNET_VHOST_LOG(ERR,
                   "memory region guest 0x%" PRIx64 " size 0x%" PRIx64 " user 0x%" PRIx64 " offset 0x%" PRIx64
                   ": empty or wraps",
                   r.guest_addr, r.size, r.user_addr, r.mmap_offset);
    return -EINVAL;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return -errno;
  if (!S_ISREG(st.st_mode)) {
    VNET_VHOST_LOG(ERR, "memory region fd is not a regular file (mode 0%o)", st.st_mode);
    return -EINVAL;
  }
  // Touching a page past the end of the file would be SIGBUS: the whole
  // region must lie inside the file as it is now.
  if (r.mmap_offset + r.size > static_cast<uint64_t>(st.st_size)) {
    VNET_VHOST_LOG(ERR, "memory region offset 0x%" PRIx64 " + size 0x%" PRIx64 " past end of file (0x%" PRIx64 ")",
                   r.mmap_offset, r.size, static_cast<uint64_t>(st.st_size));
    return -EINVAL;
  }
  // hugetlbfs wants offset and length aligned to its page size (st_blksize).
  uint64_t align = st.st_blksize > 0 ? static_cast<uint64_t>(st.st_blksize) : 4096;
  if (align & (align - 1)) align = 4096;
  const uint64_t start = r.mmap_offset & ~(align - 1);
  const uint64_t len = (r.mmap_offset + r.size - start + align - 1) & ~(align - 1);
  if (len > SIZE_MAX) return -EINVAL;
  if (len > limit_ || have + len > limit_) {
    VNET_VHOST_LOG(ERR,
                   "memory region of 0x%" PRIx64 " bytes would map 0x%" PRIx64
                   " bytes in all, over the limit "
                   "of 0x%" PRIx64 " (devarg max_mem_mb)",
                   r.size, have + len, limit_);
    return -E2BIG;
  }
  // PROT_NONE first: with mlockall(MCL_FUTURE) in force (testpmd does that),
  // mmap populates and locks every accessible page of a new mapping; an
  // inaccessible one is left alone, and mprotect does not populate a shared
  // mapping. munlock then drops the lock flag, so the pages the backend does
  // touch are not pinned either.
  void* p =
      ::mmap(nullptr, static_cast<size_t>(len), PROT_NONE, MAP_SHARED | MAP_NORESERVE, fd, static_cast<off_t>(start));
  if (p == MAP_FAILED || ::mprotect(p, static_cast<size_t>(len), PROT_READ | PROT_WRITE) != 0) {
    const int e = errno;
    if (p != MAP_FAILED) ::munmap(p, static_cast<size_t>(len));
    VNET_VHOST_LOG(ERR, "mmap of memory region (0x%" PRIx64 " bytes at 0x%" PRIx64 ") failed: %s", len, start,
                   std::strerror(e));
    return -e;
  }
  ::munlock(p, static_cast<size_t>(len));
  if (const int rc = fault::guard(p, static_cast<size_t>(len), static_cast<size_t>(align), &owner_); rc != 0) {
    VNET_VHOST_LOG(ERR, "memory region cannot be fault-guarded (%s)", std::strerror(-rc));
    ::munmap(p, static_cast<size_t>(len));
    return rc;
  }
  out.base = p;
  out.len = static_cast<size_t>(len);
  out.r = r;
  out.local = static_cast<uint8_t*>(p) + (r.mmap_offset - start);
  out.refs = 1;
  return 0;
}

uint64_t GuestMemory::mapped_bytes() const noexcept {
  uint64_t sum = 0;
  for (size_t i = 0; i < n_; ++i) sum += maps_[i].len;
  return sum;
}

// A mapping the frontend no longer names. With copies abandoned in a DMA
// engine (stopped after a drain timeout; hardware need not abort them), the
// range is not given back: an inaccessible anonymous reservation takes the
// guest pages' place, so a late copy lands nowhere (it faults), never in the
// next frontend's memory. The reservation costs address space only.
void GuestMemory::retire(Mapping& m) noexcept {
  if (m.base && quarantine_) {
    fault::unguard(m.base);
    if (::mmap(m.base, m.len, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) !=
        MAP_FAILED) {
      VNET_VHOST_LOG(WARNING, "guest memory region (0x%zx bytes) quarantined: DMA copies were abandoned in flight",
                     m.len);
      m = Mapping{};
      return;
    }
  }
  unmap(m);
}

void GuestMemory::unmap(Mapping& m) noexcept {
  if (m.base) {
    fault::unguard(m.base);
    ::munmap(m.base, m.len);
  }
  m = Mapping{};
}

// Build both translation tables from a set of mappings; rejects overlaps.
int GuestMemory::index(const Mapping* maps, size_t n, ring::RegionTable& guest, ring::RegionTable& user) noexcept {
  guest.clear();
  user.clear();
  for (size_t i = 0; i < n; ++i) {
    const auto& m = maps[i];
    int rc = guest.add(ring::Region{m.r.guest_addr, m.r.size, m.local});
    if (rc == 0) rc = user.add(ring::Region{m.r.user_addr, m.r.size, m.local});
    if (rc != 0) {
      VNET_VHOST_LOG(ERR, "memory region %zu (guest 0x%" PRIx64 " user 0x%" PRIx64 " size 0x%" PRIx64 ") %s", i,
                     m.r.guest_addr, m.r.user_addr, m.r.size, rc == -EEXIST ? "overlaps another" : "rejected");
      return rc;
    }
  }
  return 0;
}

int GuestMemory::set_table(const vhost_user::MemRegion* regions, uint32_t n, int* fds, size_t nfds) noexcept {
  int rc = 0;
  if (n == 0 || n > vhost_user::kMaxRegions || nfds != n) {
    VNET_VHOST_LOG(ERR, "memory table with %u regions and %zu fds", n, nfds);
    rc = -EINVAL;
  }
  std::array<Mapping, kMaxSlots> fresh{};
  size_t k = 0;
  uint64_t have = 0;  // the new table replaces the old one: only its own bytes count
  for (; rc == 0 && k < n; ++k) {
    rc = map_one(regions[k], fds[k], have, fresh[k]);
    have += fresh[k].len;
  }
  vhost_user::close_fds(fds, nfds);  // a mapping keeps the file alive
  ring::RegionTable g, u;
  if (rc == 0) rc = index(fresh.data(), n, g, u);
  if (rc != 0) {
    for (auto& m : fresh) unmap(m);
    return rc;
  }
  clear();
  maps_ = fresh;
  n_ = n;
  guest_ = g;
  user_ = u;
  return 0;
}

int GuestMemory::add_region(const vhost_user::MemRegion& r, int fd) noexcept {
  for (size_t i = 0; i < n_; ++i) {
    Mapping& m = maps_[i];
    if (m.r.guest_addr == r.guest_addr && m.r.size == r.size && m.r.user_addr == r.user_addr &&
        m.r.mmap_offset == r.mmap_offset) {
      ++m.refs;  // the same region again, from another vhost device of this frontend
      if (fd >= 0) ::close(fd);
      return 0;
    }
  }
  if (n_ == kMaxSlots) {
    VNET_VHOST_LOG(ERR, "ADD_MEM_REG: all %u slots in use", kMaxSlots);
    if (fd >= 0) ::close(fd);
    return -ENOSPC;
  }
  Mapping m;
  int rc = map_one(r, fd, mapped_bytes(), m);
  if (fd >= 0) ::close(fd);
  if (rc != 0) return rc;
  rc = guest_.add(ring::Region{r.guest_addr, r.size, m.local});
  if (rc == 0) {
    rc = user_.add(ring::Region{r.user_addr, r.size, m.local});
    if (rc != 0) guest_.remove(r.guest_addr, r.size);
  }
  if (rc != 0) {
    VNET_VHOST_LOG(ERR, "ADD_MEM_REG guest 0x%" PRIx64 " user 0x%" PRIx64 " size 0x%" PRIx64 " overlaps a region",
                   r.guest_addr, r.user_addr, r.size);
    unmap(m);
    return rc;
  }
  maps_[n_++] = m;
  return 0;
}

int GuestMemory::remove_region(const vhost_user::MemRegion& r) noexcept {
  for (size_t i = 0; i < n_; ++i) {
    Mapping& m = maps_[i];
    if (m.r.guest_addr != r.guest_addr || m.r.size != r.size) continue;
    if (m.refs > 1) {  // another vhost device still added it
      --m.refs;
      return 0;
    }
    guest_.remove(m.r.guest_addr, m.r.size);
    user_.remove(m.r.user_addr, m.r.size);
    retire(m);
    maps_[i] = maps_[n_ - 1];
    maps_[n_ - 1] = Mapping{};
    --n_;
    return 0;
  }
  VNET_VHOST_LOG(ERR, "REM_MEM_REG guest 0x%" PRIx64 " size 0x%" PRIx64 ": no such region", r.guest_addr, r.size);
  return -ENOENT;
}

void GuestMemory::clear() noexcept {
  for (size_t i = 0; i < n_; ++i) retire(maps_[i]);
  n_ = 0;
  guest_.clear();
  user_.clear();
}

}  // namespace vnet::vhost
