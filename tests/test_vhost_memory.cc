// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// GuestMemory: regions mapped from memfds, both address spaces translated
// with bounds checks, bad tables (overlaps, past end of file, wrong fd
// counts, non-files) rejected without disturbing the table in place, and
// every mapping and fd released on replace and clear.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "forked.h"
#include "vhost/guest_memory.h"

namespace vnet::vhost {
namespace {

using vhost_user::MemRegion;

constexpr size_t kFile = 1 << 20;

int make_memfd(uint8_t seed) {
  const int fd = ::memfd_create("vnet-vhost-memtest", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::ftruncate(fd, kFile), 0);
  std::vector<uint8_t> buf(kFile);
  for (size_t i = 0; i < kFile; ++i) buf[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 12));
  EXPECT_EQ(::pwrite(fd, buf.data(), kFile, 0), static_cast<ssize_t>(kFile));
  return fd;
}
uint8_t expect_byte(uint8_t seed, size_t file_off) {
  return static_cast<uint8_t>(seed + file_off * 7 + (file_off >> 12));
}

size_t count_maps() {
  std::ifstream f("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(f, line);) n += line.find("vnet-vhost-memtest") != std::string::npos;
  return n;
}
size_t open_fds() {
  size_t n = 0;
  for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) != -1;
  return n;
}

TEST(VhostMemory, TranslatesGuestAndUserAddresses) {
  GuestMemory mem;
  // Offset not page aligned: the mapping starts below it.
  MemRegion r{0x100000, 0x40000, 0x7f0000000000, 0x10800};
  int fd = make_memfd(1);
  ASSERT_EQ(mem.set_table(&r, 1, &fd, 1), 0);
  EXPECT_EQ(fd, -1);  // taken and closed
  EXPECT_EQ(mem.count(), 1u);
  uint8_t* g = mem.guest_to_local(0x100000, 1);
  uint8_t* u = mem.user_to_local(0x7f0000000000, 1);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g, u);
  EXPECT_EQ(*g, expect_byte(1, 0x10800));
  EXPECT_EQ(*mem.guest_to_local(0x100000 + 0x1234, 1), expect_byte(1, 0x10800 + 0x1234));
  // Bounds: the last byte is in, one past is out, a range crossing the end is out.
  EXPECT_NE(mem.guest_to_local(0x100000 + 0x40000 - 1, 1), nullptr);
  EXPECT_EQ(mem.guest_to_local(0x100000 + 0x40000, 1), nullptr);
  EXPECT_EQ(mem.guest_to_local(0x100000 + 0x3ff00, 0x200), nullptr);
  EXPECT_EQ(mem.guest_to_local(0xfffff, 1), nullptr);
  EXPECT_EQ(mem.user_to_local(0x100000, 1), nullptr);  // guest address is not a user address
  // Writes go to the shared file.
  *g = 0xab;
  uint8_t b = 0;
  (void)b;
  mem.clear();
  EXPECT_EQ(mem.count(), 0u);
  EXPECT_EQ(mem.guest_to_local(0x100000, 1), nullptr);
  EXPECT_EQ(count_maps(), 0u);
}

TEST(VhostMemory, BufferSpanningTwoRegionsComesInPieces) {
  GuestMemory mem;
  MemRegion r[2] = {{0x0, 0x10000, 0x500000000, 0}, {0x10000, 0x10000, 0x600000000, 0x20000}};
  int fds[2] = {make_memfd(1), make_memfd(9)};
  ASSERT_EQ(mem.set_table(r, 2, fds, 2), 0);
  ring::RegionTable t = mem.guest_table();
  std::vector<std::pair<uint8_t*, uint32_t>> pieces;
  ASSERT_TRUE(t.translate_pieces(0xff00, 0x200, [&](uint8_t* p, uint32_t l) {
    pieces.emplace_back(p, l);
    return true;
  }));
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].second, 0x100u);
  EXPECT_EQ(pieces[1].second, 0x100u);
  EXPECT_EQ(*pieces[0].first, expect_byte(1, 0xff00));
  EXPECT_EQ(*pieces[1].first, expect_byte(9, 0x20000));
  EXPECT_EQ(t.translate(0xff00, 0x200), nullptr);  // not contiguous
  // A ring may not span regions on the user side either.
  EXPECT_EQ(mem.user_to_local(0x50000ff00, 0x200), nullptr);
}

TEST(VhostMemory, RejectsBadTablesAndKeepsTheOldOne) {
  GuestMemory mem;
  MemRegion good{0x100000, 0x1000, 0x1000000, 0};
  int fd = make_memfd(3);
  ASSERT_EQ(mem.set_table(&good, 1, &fd, 1), 0);
  const size_t fds_before = open_fds();

  auto attempt = [&](std::vector<MemRegion> rs, int nfds_delta = 0) {
    std::vector<int> fds;
    for (size_t i = 0; i < rs.size(); ++i) fds.push_back(make_memfd(5));
    const size_t nfds = static_cast<size_t>(static_cast<long>(fds.size()) + nfds_delta);
    const int rc = mem.set_table(rs.data(), static_cast<uint32_t>(rs.size()), fds.data(), nfds);
    for (int f : fds)
      if (f >= 0) ::close(f);  // only the ones set_table was not given
    return rc;
  };
  EXPECT_EQ(attempt({{0, 0x1000, 0, kFile - 0x800}}), -EINVAL);                       // past end of file
  EXPECT_EQ(attempt({{0, 0, 0, 0}}), -EINVAL);                                        // empty
  EXPECT_EQ(attempt({{~0ull - 0x10, 0x1000, 0, 0}}), -EINVAL);                        // wraps
  EXPECT_EQ(attempt({{0, 0x2000, 0x0, 0}, {0x1000, 0x1000, 0x10000, 0}}), -EEXIST);   // guest overlap
  EXPECT_EQ(attempt({{0, 0x1000, 0x0, 0}, {0x1000, 0x1000, 0x800, 0}}), -EEXIST);     // user overlap
  EXPECT_EQ(attempt({{0, 0x1000, 0, 0}, {0x1000, 0x1000, 0x1000, 0}}, -1), -EINVAL);  // one fd short
  std::vector<MemRegion> nine;
  for (uint64_t i = 0; i < 9; ++i) nine.push_back({i << 20, 0x1000, i << 20, 0});
  EXPECT_EQ(attempt(nine), -EINVAL);  // more than VHOST_MEMORY_BASELINE_NREGIONS
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ::close(p[1]);
  EXPECT_EQ(mem.set_table(&good, 1, &p[0], 1), -EINVAL);  // not a file
  EXPECT_EQ(p[0], -1);

  EXPECT_EQ(open_fds(), fds_before);  // nothing leaked
  EXPECT_EQ(count_maps(), 1u);        // only the good table is mapped
  EXPECT_EQ(*mem.guest_to_local(0x100000, 1), expect_byte(3, 0));
}

TEST(VhostMemory, ReplaceAddRemoveUnmap) {
  GuestMemory mem;
  MemRegion a{0x0, 0x1000, 0x10000, 0};
  int fd = make_memfd(1);
  ASSERT_EQ(mem.set_table(&a, 1, &fd, 1), 0);
  MemRegion b{0x100000, 0x2000, 0x20000, 0x1000};
  fd = make_memfd(2);
  ASSERT_EQ(mem.set_table(&b, 1, &fd, 1), 0);  // replaces a
  EXPECT_EQ(count_maps(), 1u);
  EXPECT_EQ(mem.guest_to_local(0x0, 1), nullptr);
  EXPECT_EQ(*mem.guest_to_local(0x100000, 1), expect_byte(2, 0x1000));

  MemRegion c{0x200000, 0x1000, 0x40000, 0};
  ASSERT_EQ(mem.add_region(c, make_memfd(4)), 0);
  EXPECT_EQ(mem.count(), 2u);
  EXPECT_EQ(*mem.user_to_local(0x40000, 1), expect_byte(4, 0));
  EXPECT_EQ(mem.add_region({0x200800, 0x1000, 0x90000, 0}, make_memfd(4)), -EEXIST);  // overlaps c
  EXPECT_EQ(mem.add_region({0x300000, 0x1000, 0x20800, 0}, make_memfd(4)), -EEXIST);  // user overlaps b
  EXPECT_EQ(mem.count(), 2u);
  EXPECT_EQ(mem.remove_region({0x200000, 0x800, 0, 0}), -ENOENT);  // size must match
  EXPECT_EQ(mem.remove_region(c), 0);
  EXPECT_EQ(mem.guest_to_local(0x200000, 1), nullptr);
  EXPECT_EQ(mem.user_to_local(0x40000, 1), nullptr);
  EXPECT_EQ(count_maps(), 1u);
  for (uint64_t i = 0; mem.count() < GuestMemory::kMaxSlots; ++i)
    ASSERT_EQ(mem.add_region({0x1000000 + (i << 16), 0x1000, 0x1000000 + (i << 16), 0}, make_memfd(1)), 0);
  const size_t fds_before = open_fds();
  EXPECT_EQ(mem.add_region({0x9000000, 0x1000, 0x9000000, 0}, make_memfd(1)), -ENOSPC);
  EXPECT_EQ(open_fds(), fds_before);  // the fd of the refused region was closed
  mem.clear();
  EXPECT_EQ(count_maps(), 0u);
}

// QEMU with queues=N on one vhost-user connection has N vhost devices, each
// sending ADD_MEM_REG (and later REM_MEM_REG) for the same regions: the
// repeats are references to the one mapping, not overlaps (the first
// vm.pci.vnet.packed.mq4 run closed the connection on the second ADD).
TEST(VhostMemory, SameRegionAddedByEachVhostDevice) {
  GuestMemory mem;
  const MemRegion r{0x0, 0x40000, 0x7f0000000000, 0};
  const size_t fds_before = open_fds();
  for (int dev = 0; dev < 4; ++dev) ASSERT_EQ(mem.add_region(r, make_memfd(5)), 0) << "vhost device " << dev;
  EXPECT_EQ(mem.count(), 1u);
  EXPECT_EQ(count_maps(), 1u);
  EXPECT_EQ(open_fds(), fds_before);  // the repeats' fds were closed
  // Same guest address, another user address: still an overlap.
  EXPECT_EQ(mem.add_region({0x0, 0x40000, 0x7f0000100000, 0}, make_memfd(5)), -EEXIST);
  for (int dev = 0; dev < 3; ++dev) {
    ASSERT_EQ(mem.remove_region(r), 0);
    EXPECT_EQ(*mem.guest_to_local(0x1000, 1), expect_byte(5, 0x1000)) << "still mapped for the others";
  }
  ASSERT_EQ(mem.remove_region(r), 0);  // the last reference
  EXPECT_EQ(mem.guest_to_local(0x1000, 1), nullptr);
  EXPECT_EQ(count_maps(), 0u);
  EXPECT_EQ(mem.remove_region(r), -ENOENT);
}

// The cap on mapped guest memory (devarg max_mem_mb): checked before mapping.
TEST(VhostMemory, LimitRefusesTablesOverIt) {
  GuestMemory mem;
  mem.set_limit(kFile / 2);
  MemRegion r{0, kFile, 0x7f0000000000, 0};
  int fd = make_memfd(1);
  EXPECT_EQ(mem.set_table(&r, 1, &fd, 1), -E2BIG);
  EXPECT_EQ(mem.count(), 0u);
  EXPECT_EQ(count_maps(), 0u);
  mem.set_limit(kFile);
  fd = make_memfd(1);
  EXPECT_EQ(mem.set_table(&r, 1, &fd, 1), 0);
  MemRegion r2{kFile, kFile, 0x7f0000000000 + kFile, 0};
  EXPECT_EQ(mem.add_region(r2, make_memfd(2)), -E2BIG);  // the sum counts
  EXPECT_EQ(mem.count(), 1u);
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// testpmd runs mlockall(MCL_FUTURE): a mapping must still not populate (or
// lock) pages the guest never touched. In a child: mlockall is for good.
TEST(VhostMemory, SparseRegionStaysUnpopulatedUnderMlockall) {
  EXPECT_CHILD_OK(vnet::test::run_forked([] {
    auto failed = [](const char* what) {
      std::printf("FAILED: %s: %s\n", what, std::strerror(errno));
      return 1;
    };
    if (::mlockall(MCL_CURRENT | MCL_FUTURE) != 0) return failed("mlockall");
    const long before = rss_kib();
    const int fd = ::memfd_create("vnet-vhost-memtest", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, 1L << 30) != 0) return failed("a 1 GiB memfd");
    int f = fd;
    GuestMemory mem;
    MemRegion r{0, 1ull << 30, 0x7f0000000000, 0};
    if (mem.set_table(&r, 1, &f, 1) != 0) return failed("set_table of a 1 GiB region");
    mem.guest_to_local(0x1000, 8)[0] = 1;  // a page the guest did give us
    const long grown = rss_kib() - before;
    std::printf("RSS grew by %ld KiB for a 1 GiB region%s\n", grown, grown < 64 * 1024 ? "" : " -> FAILED: populated");
    return grown < 64 * 1024 ? 0 : 1;
  }));
}

// The frontend shrinks its file under a live mapping: the access that would
// have been SIGBUS reads zeros, and the fault is reported to the owner.
TEST(VhostMemory, ShrunkFileFaultsAreCaughtAndReported) {
  GuestMemory mem;
  MemRegion r{0x100000, kFile, 0x7f0000000000, 0};
  const int fd = make_memfd(9);
  const int keep = ::dup(fd);
  int f = fd;
  ASSERT_EQ(mem.set_table(&r, 1, &f, 1), 0);
  volatile uint8_t* g = mem.guest_to_local(0x100000 + 0x3000, 1);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(*g, expect_byte(9, 0x3000));
  ASSERT_EQ(::ftruncate(keep, 0), 0);
  EXPECT_EQ(*g, 0);  // SIGBUS caught: an anonymous page took the lost one's place
  *g = 5;
  EXPECT_EQ(*g, 5);
  EXPECT_EQ(mem.owner().faults.load(), 1u);
  mem.clear();
  EXPECT_EQ(count_maps(), 0u);
  ::close(keep);
}

}  // namespace
}  // namespace vnet::vhost
