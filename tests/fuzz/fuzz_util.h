// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Shared by the ring fuzzers and their seed generator: the input reader and
// writer, the wire format of each target's input (so seeds and harnesses
// agree), the guest-address relocation that lets fuzz bytes land inside the
// arena, and the checks that turn a broken invariant into a libFuzzer crash.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ring/common.h"
#include "ring/device_common.h"
#include "support/ring_pair.h"
#include "virtio/ring_layout.h"

// libFuzzer's entry points, which every target defines (Initialize optional).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace vnet::fuzz {

// An invariant the ring promised and broke: report and crash (libFuzzer saves
// the input). Not assert(): it must fire in every build type.
#define VNET_FUZZ_CHECK(cond, ...)                                                             \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "vnet fuzz: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                       \
      std::fprintf(stderr, "\n");                                                              \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

// The rings log every peer violation; a fuzzer produces millions of them.
inline void quiet_logs() {
  static const bool once = [] {
    ring::set_log_sink([](int, const char*) {});
    return true;
  }();
  (void)once;
}

// Consumes the input front to back; reads past the end yield zeros.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : p_(d), n_(n) {}
  bool empty() const { return n_ == 0; }
  size_t left() const { return n_; }
  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
  uint32_t u32() { return u16() | uint32_t{u16()} << 16; }
  uint64_t u64() { return u32() | uint64_t{u32()} << 32; }
  // Copy up to `max` bytes into dst; the rest of dst is left as it was.
  size_t copy(void* dst, size_t max) {
    const size_t k = max < n_ ? max : n_;
    if (k) std::memcpy(dst, p_, k);
    p_ += k;
    n_ -= k;
    return k;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// The seed generator's side of Reader.
struct Writer {
  std::vector<uint8_t> b;
  void u8(uint8_t v) { b.push_back(v); }
  void u16(uint16_t v) { u8(static_cast<uint8_t>(v)), u8(static_cast<uint8_t>(v >> 8)); }
  void u32(uint32_t v) { u16(static_cast<uint16_t>(v)), u16(static_cast<uint16_t>(v >> 16)); }
  void u64(uint64_t v) { u32(static_cast<uint32_t>(v)), u32(static_cast<uint32_t>(v >> 32)); }
  void bytes(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
};

// ---- guest addresses --------------------------------------------------------
// Every descriptor address in a device-fuzz input (ring descriptors and each
// 16-byte slot of the data area, which may serve as an indirect table) is
// rewritten by its top two bits, so inputs stay meaningful although the arena
// lands at a different address on every run:
//   00  arena base + low 32 bits mod (arena size + 64): inside, or just past the end
//   01  data area + low 16 bits mod its size: where the input wrote indirect tables
//   10  straddling an edge: base - 4 KiB + low 13 bits (bit 13 set: end - 4 KiB + ...)
//   11  arbitrary: the other 62 bits, with bits 0-1 moved up to 62-63
inline constexpr uint64_t kAddrArena = 0;
inline constexpr uint64_t kAddrData = 1ull << 62;
inline constexpr uint64_t kAddrEdge = 2ull << 62;
inline constexpr uint64_t kAddrRaw = 3ull << 62;

// How the arena is described to the device (bits 4-5 of the feature byte).
// Guest addresses always cover [base, base + size); only the local side moves.
enum class MemMode : uint8_t {
  One,      // one identity region
  Three,    // three adjacent identity regions: buffers come out in pieces
  Swapped,  // two halves, each mapped onto the other's local memory
  One2,     // as One
};

class GuestMap {
 public:
  GuestMap(ring::Arena& a, MemMode m) : a_(a), m_(m) {
    const uint64_t g = reinterpret_cast<uint64_t>(a.base());
    const uint64_t s = a.size();
    ring::RegionTable& t = a.mem();
    t.clear();
    int rc = 0;
    switch (m) {
      case MemMode::Three: {
        const uint64_t c1 = s / 4 + 8, c2 = s / 2 + 24;  // deliberately unaligned cuts
        rc |= t.add({g, c1, a.base()});
        rc |= t.add({g + c1, c2 - c1, a.base() + c1});
        rc |= t.add({g + c2, s - c2, a.base() + c2});
        break;
      }
      case MemMode::Swapped:
        half_ = s / 2;  // size is a multiple of 4096
        rc |= t.add({g, half_, a.base() + half_});
        rc |= t.add({g + half_, half_, a.base()});
        break;
      default:
        rc |= t.add({g, s, a.base()});
    }
    VNET_FUZZ_CHECK(rc == 0, "region setup");
  }

  // The guest address the device translates to `local`.
  uint64_t guest_of(const uint8_t* local) const {
    const uint64_t l = reinterpret_cast<uint64_t>(local);
    if (m_ != MemMode::Swapped) return l;
    const uint64_t b = reinterpret_cast<uint64_t>(a_.base());
    return l < b + half_ ? l + half_ : l - half_;
  }

  uint64_t reloc(uint64_t a, const uint8_t* data, size_t data_bytes) const {
    const uint64_t base = reinterpret_cast<uint64_t>(a_.base());
    const uint64_t size = a_.size();
    switch (a >> 62) {
      case 0:
        return base + (a & 0xffffffffu) % (size + 64);
      case 1:
        return guest_of(data + (a & 0xffff) % data_bytes);
      case 2:
        return (a & 0x2000 ? base + size : base) - 0x1000 + (a & 0x1fff);
      default:
        return (a & ~(3ull << 62)) | (a & 3) << 62;
    }
  }

 private:
  ring::Arena& a_;
  MemMode m_;
  uint64_t half_ = 0;
};

// Read (and for device-writable pieces, write back unchanged) every byte of a
// segment: ASan reports any byte that is not ours. Contents stay as they were
// so the harness's invariants about the ring hold after the touch.
inline void touch(uint8_t* p, uint32_t len, bool write) {
  static uint8_t scratch[1 << 16];
  while (len > 0) {
    const uint32_t k = len < sizeof scratch ? len : sizeof scratch;
    std::memcpy(scratch, p, k);
    if (write) {
      asm volatile("" ::: "memory");  // keep the copy-back a real store
      std::memcpy(p, scratch, k);
    }
    p += k;
    len -= k;
  }
}

// ---- device-fuzz input (fuzz_split_device, fuzz_packed_device) ------------
//   DevHeader (10 bytes, below)
//   ring body: split: descriptor table, then avail flags/idx/ring[n]/used_event
//              (avail idx is then overwritten from the header);
//              packed: descriptor table, then the driver event suppression
//   data area: the rest (indirect tables and buffer bytes)
inline constexpr uint8_t kDevIndirect = 1u << 0;
inline constexpr uint8_t kDevEventIdx = 1u << 1;
inline constexpr uint8_t kDevInOrder = 1u << 2;
inline constexpr uint8_t kDevAvailPending = 1u << 3;  // split: call avail_pending() before popping
inline constexpr uint8_t kDevMemShift = 4;            // bits 4-5: MemMode
inline constexpr uint8_t kDevAvailWrap0 = 1u << 6;    // packed: start with avail wrap counter 0
inline constexpr uint8_t kDevRewind = 1u << 7;        // pop a few, restore(), then run

inline constexpr uint8_t kDevBatchUsed = 1u << 6;  // (batch byte) in_order: one used entry per round
inline constexpr uint8_t kDevKicks = 1u << 7;      // (batch byte) disable_kicks() before, enable_kicks() after

inline constexpr uint16_t kDevIdxRaw = 0x8000;    // (avail_idx) split: idx = base + v, else base + v % (n + 2)
inline constexpr uint16_t kDevUsedOwn = 0x8000;   // (used) used_base = v & 0x3fff (packed: % n)...
inline constexpr uint16_t kDevUsedWrap = 0x4000;  // ...with this wrap counter; else used = avail

struct DevHeader {
  uint8_t size_sel = 0;     // split: n = 1 << (v % 9); packed: n = v + 1
  uint8_t feat = 0;         // kDev* bits
  uint16_t avail_base = 0;  // first index the device processes (packed: % n)
  uint16_t avail_idx = 0;   // split: what avail->idx holds, relative to avail_base
  uint16_t used = 0;        // kDevUsedOwn / kDevUsedWrap
  uint8_t batch = 0;        // low 6 bits + 1: chains per flush; kDevBatchUsed, kDevKicks
  uint8_t rewind = 0;       // kDevRewind: v % 8 + 1 chains popped and given back
  static constexpr size_t kBytes = 10;

  static DevHeader read(Reader& r) {
    DevHeader h;
    h.size_sel = r.u8();
    h.feat = r.u8();
    h.avail_base = r.u16();
    h.avail_idx = r.u16();
    h.used = r.u16();
    h.batch = r.u8();
    h.rewind = r.u8();
    return h;
  }
  void write(Writer& w) const {
    w.u8(size_sel), w.u8(feat), w.u16(avail_base), w.u16(avail_idx), w.u16(used), w.u8(batch), w.u8(rewind);
  }
};

// Ring geometry of a device-fuzz run, computed identically by the harness and
// the seed generator.
template <class Drv>
struct DevGeometry {
  using L = ring::LayoutOf<Drv>;
  static constexpr size_t kDataMin = 4096;
  uint32_t n;
  size_t ring_bytes, body_bytes, data_off, arena_bytes, data_bytes;
  explicit DevGeometry(uint8_t size_sel) {
    n = L::packed ? size_sel + 1u : 1u << (size_sel % 9);
    ring_bytes = L::bytes(n);
    if constexpr (L::packed) {
      body_bytes = virtio::PackedLayout::make(n).driver_event_off + sizeof(virtio::PackedEvent);
    } else {
      const auto l = virtio::SplitLayout::make(n);
      body_bytes = l.avail_off + sizeof(virtio::SplitAvailHdr) + 2u * n + 2u;
    }
    data_off = virtio::align_up(ring_bytes, 64);
    // A multiple of 4096, so the region ends exactly where the allocation
    // does and one byte past it is an ASan redzone.
    arena_bytes = virtio::align_up(data_off + kDataMin, 4096);
    data_bytes = arena_bytes - data_off;
  }
};

// ---- driver-fuzz input (fuzz_driver_used) -----------------------------------
//   byte 0: bit 0 layout (0 split, 1 packed); bit 1 indirect; bit 2 event_idx; bit 3 in_order
//   byte 1: size (split: 1 << (v % 9); packed: v + 1)
//   then operations, one opcode byte (mod kDrvOpCount) and its operands each:
enum DrvOp : uint8_t {
  kOpAdd,       // spec, len: one buffer (see DrvAddSpec)
  kOpDevice,    // count, len: the real device serves count % 64 + 1 chains
  kOpForge,     // k, len16: write a used entry naming outstanding buffer #k
  kOpForgeRaw,  // slot, id8 [id32], len32 [, flags16 packed]: arbitrary used entry
  kOpSetIdx,    // sel, v16: split used->idx / packed forge cursor
  kOpPoll,      // max: poll_used(max % 41) and check what comes back
  kOpMisc,      // which: publish / kick_prepare / enable_cb / disable_cb
  kOpBulkAdd,   // count: count % 64 single writable buffers, then publish
  kDrvOpCount
};
// kOpAdd spec byte: bits 0-1 segments - 1; bits 2-3 writable ones (at the
// end); bit 4 use indirect; bit 6 writable first (invalid: must be -EINVAL).
inline constexpr uint8_t kAddIndirect = 1u << 4;
inline constexpr uint8_t kAddBadOrder = 1u << 6;

// One non-blocking recvmsg: bytes into buf; the SCM_RIGHTS fds that rode on
// them are closed and counted in *nfds (*truncated: some were cut off).
// Returns what recvmsg did (<= 0: nothing there).
inline ssize_t recv_drop_fds(int sock, void* buf, size_t len, size_t* nfds, bool* truncated) {
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 16)];
  iovec iov{buf, len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  const ssize_t n = ::recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  *truncated = n > 0 && (mh.msg_flags & MSG_CTRUNC);
  for (cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&mh) : nullptr; c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int f;
      std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
      ::close(f);
      ++*nfds;
    }
  }
  return n;
}

// One descriptor written where a guest driver would put it (harnesses and seeds).
inline void put_split(uint8_t* at, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
  virtio::SplitDesc d;
  d.addr.set(addr);
  d.len.set(len);
  d.flags.set(flags);
  d.next.set(next);
  std::memcpy(at, &d, sizeof d);
}
inline void put_packed(uint8_t* at, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags) {
  virtio::PackedDesc d;
  d.addr.set(addr);
  d.len.set(len);
  d.id.set(id);
  d.flags.set(flags);
  std::memcpy(at, &d, sizeof d);
}

}  // namespace vnet::fuzz
