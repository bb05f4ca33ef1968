// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The frontend's Tx virtio-net header write (put_tx_hdr in src/net/rxtx.h):
// the header ends up exactly as asked, num_buffers 0 (5.1.6.2.1) even when
// the device left 1 there on Rx; a header already right is not written at
// all (checked on a read-only page); a 10-byte header never touches the
// frame bytes after it. No EAL: the function is header code.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "net/rxtx.h"

namespace vnet::net {
namespace {

struct Page {
  size_t n = static_cast<size_t>(::sysconf(_SC_PAGESIZE));  // before p: p's initialiser uses it
  uint8_t* p;
  Page() : p(static_cast<uint8_t*>(::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))) {}
  ~Page() { ::munmap(p, n); }
  void read_only() { ASSERT_EQ(::mprotect(p, n, PROT_READ), 0); }
};

virtio::NetHdr csum_hdr() {
  virtio::NetHdr h{};
  h.flags = virtio::NET_HDR_F_NEEDS_CSUM;
  h.csum_start.set(34);
  h.csum_offset.set(16);
  return h;
}

TEST(TxHdr, RxLeftoversAreClearedAndNumBuffersIsZero) {
  Page pg;
  std::memset(pg.p, 0xa5, 12);  // what a device (or an earlier frame) left
  put_tx_hdr(pg.p, 12, virtio::NetHdr{});
  for (int i = 0; i < 12; ++i) EXPECT_EQ(pg.p[i], 0) << i;
  // Only num_buffers differs (an Rx buffer forwarded as it came in).
  std::memset(pg.p, 0, 12);
  pg.p[10] = 1;
  put_tx_hdr(pg.p, 12, virtio::NetHdr{});
  EXPECT_EQ(pg.p[10], 0);
  EXPECT_EQ(pg.p[11], 0);
}

TEST(TxHdr, OffloadFieldsAreWritten) {
  Page pg;
  pg.p[10] = 3;
  const virtio::NetHdr want = csum_hdr();
  put_tx_hdr(pg.p, 12, want);
  EXPECT_EQ(std::memcmp(pg.p, &want, sizeof want), 0);
  EXPECT_EQ(pg.p[10], 0);
  EXPECT_EQ(pg.p[11], 0);
}

TEST(TxHdr, TenByteHeaderLeavesTheFrameAlone) {
  Page pg;
  std::memset(pg.p, 0x5a, 16);
  put_tx_hdr(pg.p, 10, virtio::NetHdr{});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pg.p[i], 0) << i;
  EXPECT_EQ(pg.p[10], 0x5a);
  EXPECT_EQ(pg.p[11], 0x5a);
}

TEST(TxHdr, AHeaderAlreadyRightIsNotWritten) {
  for (const uint16_t hdr : {10, 12}) {
    Page pg;
    const virtio::NetHdr want = csum_hdr();
    std::memcpy(pg.p, &want, sizeof want);
    pg.p[10] = hdr == 12 ? 0 : 0x77;  // 10-byte form: frame data, not ours to check
    pg.read_only();                   // a store would fault
    put_tx_hdr(pg.p, hdr, want);
    EXPECT_EQ(std::memcmp(pg.p, &want, sizeof want), 0);
  }
}

}  // namespace
}  // namespace vnet::net
