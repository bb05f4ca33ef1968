// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The frontend's memory as the backend sees it: every region of
// SET_MEM_TABLE / ADD_MEM_REG mmap'ed from its fd, indexed twice — by guest
// address (descriptor buffers; GPA for QEMU, VA for virtio-user) and by the
// frontend's user address (ring addresses of SET_VRING_ADDR). Invariants:
// regions never overlap on either side, every mapping lies inside its file,
// a replaced or removed region is unmapped only after the caller stopped
// every ring that could use it (the caller quiesces; this class does not lock).
// Mappings are made without populating or locking a page (whatever mlockall
// the application did), their total is capped, and each is fault-guarded: a
// page the frontend takes away later reads as zeros and reports to owner().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "ring/memory.h"
#include "vhost/fault_guard.h"
#include "vhost_user/protocol.h"

namespace vnet::vhost {

class GuestMemory {
 public:
  static constexpr uint32_t kMaxSlots = ring::RegionTable::kMax;  // GET_MAX_MEM_SLOTS

  static constexpr uint64_t kDefaultLimit = uint64_t{64} << 30;  // devarg max_mem_mb

  GuestMemory() = default;
  ~GuestMemory() { clear(); }
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // SET_MEM_TABLE: replace the whole table. Always takes ownership of the
  // fds (they are closed, mapped or not). On error the old table stays.
  int set_table(const vhost_user::MemRegion* regions, uint32_t n, int* fds, size_t nfds) noexcept;
  // ADD_MEM_REG: one more region; takes ownership of fd. A region equal to
  // one already mapped (QEMU sends each region once per vhost device, i.e.
  // per queue pair on one connection) only counts one more reference.
  int add_region(const vhost_user::MemRegion& r, int fd) noexcept;
  // REM_MEM_REG: the region with this guest address and size; unmapped when
  // its last reference goes.
  int remove_region(const vhost_user::MemRegion& r) noexcept;
  // Unmap everything.
  void clear() noexcept;

  size_t count() const noexcept { return n_; }
  // Most bytes of guest memory mapped at once (checked before mapping).
  void set_limit(uint64_t bytes) noexcept { limit_ = bytes; }
  uint64_t mapped_bytes() const noexcept;
  // From now on, regions are quarantined instead of unmapped (a DMA engine
  // may still write them: copies were abandoned in flight).
  void set_quarantine() noexcept { quarantine_ = true; }
  // Where faults in our mappings are reported (a frontend shrank its memory).
  fault::Owner& owner() noexcept { return owner_; }
  // Frontend user address -> local pointer, whole range inside one region.
  uint8_t* user_to_local(uint64_t uaddr, uint64_t len) noexcept { return user_.translate(uaddr, len); }
  // Guest address -> local pointer (contiguous).
  uint8_t* guest_to_local(uint64_t gaddr, uint64_t len) noexcept { return guest_.translate(gaddr, len); }
  // The guest-address table; rings take a private copy of it.
  const ring::RegionTable& guest_table() const noexcept { return guest_; }

 private:
  struct Mapping {
    void* base = nullptr;  // what mmap returned
    size_t len = 0;        // what was mapped
    vhost_user::MemRegion r{};
    uint8_t* local = nullptr;  // first byte of the region
    uint32_t refs = 0;         // ADD_MEM_REGs of this very region not yet removed
  };
  // have: bytes already mapped that count against the limit.
  int map_one(const vhost_user::MemRegion& r, int fd, uint64_t have, Mapping& out) noexcept;
  static void unmap(Mapping& m) noexcept;
  void retire(Mapping& m) noexcept;
  static int index(const Mapping* maps, size_t n, ring::RegionTable& guest, ring::RegionTable& user) noexcept;

  std::array<Mapping, kMaxSlots> maps_{};
  size_t n_ = 0;
  ring::RegionTable guest_;
  ring::RegionTable user_;
  uint64_t limit_ = kDefaultLimit;
  bool quarantine_ = false;
  fault::Owner owner_;
};

}  // namespace vnet::vhost
