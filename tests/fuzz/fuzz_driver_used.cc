// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// libFuzzer target: the driver side (split and packed) against a hostile
// device. The input is a script (format in fuzz_util.h): the driver adds
// buffers (chains, indirect, readable/writable), the real device may serve
// some honestly, and the input forges what a device writes (split: used ring
// entries and used->idx; packed: id/len/flags of descriptor slots) before
// poll_used runs. Checked:
//  - every token poll_used returns was outstanding and comes back once; with
//    IN_ORDER, oldest first; its length fits the buffer's writable part;
//  - a new buffer never reuses the id of an outstanding one;
//  - once broken, poll_used returns 0; while not, in_flight() matches;
//  - drain() hands back exactly the tokens still outstanding, then the queue
//    holds nothing and refuses work until init().
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <vector>

#include "fuzz_util.h"

namespace vnet::fuzz {
namespace {

constexpr size_t kPoolBytes = 16384;
constexpr uint16_t kMaxPoll = 40;

template <class Drv>
class DriverHarness {
  using L = ring::LayoutOf<Drv>;
  static constexpr bool kPacked = L::packed;

 public:
  DriverHarness(Reader& in, uint8_t cfg) : in_(in) {
    const uint8_t sel = in.u8();
    n_ = kPacked ? sel + 1u : 1u << (sel % 9);
    in_order_ = cfg & 8;
    const ring::Features f{static_cast<bool>(cfg & 2), static_cast<bool>(cfg & 4), in_order_};
    VNET_FUZZ_CHECK(qp_.init(n_, f, kPoolBytes + 4096, 4) == 0, "pair init");
    pool_ = qp_.arena->alloc(kPoolBytes, 64);
    VNET_FUZZ_CHECK(pool_ != nullptr, "pool");
    if constexpr (kPacked) {
      desc_ = reinterpret_cast<virtio::PackedDesc*>(qp_.ring);
    } else {
      const auto l = virtio::SplitLayout::make(n_);
      avail_ring_ = reinterpret_cast<virtio::le16*>(qp_.ring + l.avail_off + sizeof(virtio::SplitAvailHdr));
      used_ = reinterpret_cast<virtio::SplitUsedHdr*>(qp_.ring + l.used_off);
      used_ring_ = reinterpret_cast<virtio::SplitUsedElem*>(used_ + 1);
    }
  }

  void run() {
    for (int ops = 0; ops < 4096 && !in_.empty(); ++ops) {
      switch (in_.u8() % kDrvOpCount) {
        case kOpAdd:
          op_add();
          break;
        case kOpDevice:
          op_device();
          break;
        case kOpForge:
          op_forge();
          break;
        case kOpForgeRaw:
          op_forge_raw();
          break;
        case kOpSetIdx:
          op_set_idx();
          break;
        case kOpPoll:
          poll(in_.u8() % (kMaxPoll + 1));
          break;
        case kOpMisc:
          op_misc();
          break;
        case kOpBulkAdd:
          op_bulk_add();
          break;
      }
    }
    while (poll(kMaxPoll) != 0) {
    }
    check_drain();
  }

 private:
  struct Buf {
    uintptr_t serial;  // the token
    uint16_t id;       // split: head descriptor; packed: buffer id
    uint16_t slots;    // descriptors / ring slots it took
    uint32_t in_len;
  };

  int add_checked(const ring::Seg* segs, uint16_t nseg, bool use_indirect, bool expect_einval) {
    uint32_t in_len = 0;
    for (uint16_t k = 0; k < nseg; ++k) in_len += segs[k].write ? segs[k].len : 0;
    const uint32_t free0 = drv().free_slots();
    const uintptr_t serial = next_serial_++;
    const int rc = drv().add(segs, nseg, reinterpret_cast<void*>(serial), use_indirect);
    const bool broken = drv().broken();
    VNET_FUZZ_CHECK(broken == (rc == -EIO), "broken ring %d but add returned %d", broken, rc);
    if (expect_einval && !broken)  // (a full ring may say -ENOSPC first)
      VNET_FUZZ_CHECK(rc == -EINVAL || rc == -ENOSPC, "writable-before-readable chain: add returned %d", rc);
    if (rc != 0) {
      VNET_FUZZ_CHECK(rc == -ENOSPC || rc == -EINVAL || rc == -EIO, "add returned %d", rc);
      VNET_FUZZ_CHECK(drv().free_slots() == free0, "failed add changed free slots");
      return rc;
    }
    const uint32_t took = free0 - drv().free_slots();
    VNET_FUZZ_CHECK(took == 1 || took == nseg, "add of %u segments took %u slots", nseg, took);
    uint16_t id;
    if constexpr (kPacked) {
      id = desc_[avail_slot_].id.get();  // the driver just wrote it; never read back by the driver
      avail_slot_ = static_cast<uint16_t>((avail_slot_ + took) % n_);
    } else {
      id = avail_ring_[static_cast<uint16_t>(drv().avail_idx() - 1) & (n_ - 1)].get();
    }
    VNET_FUZZ_CHECK(id < n_, "new buffer id %u in ring %u", id, n_);
    for (const Buf& b : out_) VNET_FUZZ_CHECK(b.id != id, "id %u handed out while still outstanding", id);
    out_.push_back(Buf{serial, id, static_cast<uint16_t>(took), in_len});
    return 0;
  }

  uint64_t pool_addr(uint32_t off) const { return ring::Arena::iova(pool_ + off % (kPoolBytes - 2048)); }

  void op_add() {
    const uint8_t spec = in_.u8(), lenb = in_.u8();
    const uint16_t nseg = 1 + (spec & 3);
    const uint16_t nw = std::min<uint16_t>((spec >> 2) & 3, nseg);
    const bool bad = (spec & kAddBadOrder) && nw > 0 && nw < nseg;
    ring::Seg segs[4];
    for (uint16_t k = 0; k < nseg; ++k) {
      const bool write = bad ? k < nw : k >= nseg - nw;
      segs[k] = ring::Seg{pool_addr(lenb * 61u + k * 1024u), 1u + lenb + 64u * k, write};
    }
    add_checked(segs, nseg, spec & kAddIndirect, bad);
  }

  void op_bulk_add() {
    const uint32_t count = in_.u8() % 64;
    for (uint32_t i = 0; i < count; ++i) {
      const ring::Seg s{pool_addr(i * 64u), 64, true};
      if (add_checked(&s, 1, false, false) != 0) break;
    }
    drv().publish();
  }

  // The real device, behaving: pops what the driver published and returns it.
  void op_device() {
    const uint32_t count = in_.u8() % 64u + 1;
    const uint8_t lenb = in_.u8();
    const bool batch = in_order_ && (lenb & 0x80);
    static ring::Chain c, last;
    uint32_t got = 0, slots = 0, last_len = 0;
    while (got < count) {
      const ring::Pop r = dev().pop(c);
      if (r == ring::Pop::Empty || r == ring::Pop::Broken) break;
      const uint32_t len = r == ring::Pop::Ok && c.in_len ? lenb % (c.in_len + 1) : 0;
      ++got;
      slots += c.ndesc;
      if (batch) {
        last.head = c.head;
        last.ndesc = c.ndesc;
        last_len = len;
      } else {
        dev().push_used(c, len);
      }
    }
    if (batch && got) dev().push_used_batch(last, last_len, static_cast<uint16_t>(kPacked ? slots : got));
    dev().flush();
    (void)dev().should_notify();
  }

  // A used entry naming outstanding buffer #k (in add order). With IN_ORDER
  // it completes the batch of the k + 1 oldest buffers.
  void op_forge() {
    const uint8_t k8 = in_.u8();
    const uint16_t v = in_.u16();
    if (out_.empty()) return;
    const size_t k = k8 % out_.size();
    const Buf& b = out_[k];
    const uint32_t len = v & 0x8000 ? v & 0x7fffu : (b.in_len ? v % (b.in_len + 1) : 0);
    if constexpr (kPacked) {
      uint32_t adv = b.slots;
      if (in_order_) {
        adv = 0;
        for (size_t i = 0; i <= k; ++i) adv += out_[i].slots;
      }
      write_packed(fslot_, b.id, len, used_flags(fwrap_));
      advance(fslot_, fwrap_, adv);
    } else {
      const uint16_t u = load_used_idx();
      used_ring_[u & (n_ - 1)].id.set(b.id);
      used_ring_[u & (n_ - 1)].len.set(len);
      store_used_idx(static_cast<uint16_t>(u + (in_order_ ? k + 1 : 1)));
    }
  }

  void op_forge_raw() {
    const uint16_t slot = static_cast<uint16_t>(in_.u8() % n_);
    const uint8_t id8 = in_.u8();
    const uint32_t id = id8 == 0xff ? in_.u32() : id8;
    const uint32_t len = in_.u32();
    if constexpr (kPacked) {
      write_packed(slot, static_cast<uint16_t>(id), len, in_.u16());
    } else {
      used_ring_[slot].id.set(id);
      used_ring_[slot].len.set(len);
    }
  }

  void op_set_idx() {
    const uint8_t sel = in_.u8();
    const uint16_t v = in_.u16();
    if constexpr (kPacked) {
      if (sel & 1) {
        fslot_ = static_cast<uint16_t>(v % n_);
        fwrap_ = sel & 2;
      } else {  // where the driver will look next
        fslot_ = used_slot_;
        fwrap_ = used_wrap_;
      }
    } else {
      store_used_idx(sel & 1 ? v : static_cast<uint16_t>(drv().last_used() + v % (n_ + 2)));
    }
  }

  void op_misc() {
    switch (in_.u8() % 4) {
      case 0:
        drv().publish();
        break;
      case 1:
        (void)drv().kick_prepare();
        break;
      case 2:
        (void)drv().enable_cb();
        break;
      case 3:
        drv().disable_cb();
        break;
    }
  }

  uint16_t poll(uint16_t max) {
    ring::UsedBuf out[kMaxPoll];
    const bool was_broken = drv().broken();
    const uint16_t got = drv().poll_used(out, max);
    VNET_FUZZ_CHECK(got <= max, "poll_used returned %u for max %u", got, max);
    if (was_broken) VNET_FUZZ_CHECK(got == 0, "broken ring returned %u buffers", got);
    for (uint16_t i = 0; i < got; ++i) {
      const uintptr_t serial = reinterpret_cast<uintptr_t>(out[i].token);
      const auto it = std::find_if(out_.begin(), out_.end(), [&](const Buf& b) { return b.serial == serial; });
      VNET_FUZZ_CHECK(it != out_.end(), "token %zu returned but not outstanding (serial < %zu)",
                      static_cast<size_t>(serial), static_cast<size_t>(next_serial_));
      if (in_order_)
        VNET_FUZZ_CHECK(it == out_.begin(), "IN_ORDER returned token %zu before %zu", static_cast<size_t>(serial),
                        static_cast<size_t>(out_.front().serial));
      VNET_FUZZ_CHECK(out[i].len <= it->in_len, "token %zu: len %u > writable %u", static_cast<size_t>(serial),
                      out[i].len, it->in_len);
      if constexpr (kPacked) advance(used_slot_, used_wrap_, it->slots);
      out_.erase(it);
    }
    if (drv().broken()) {
      VNET_FUZZ_CHECK(drv().poll_used(out, kMaxPoll) == 0, "broken ring returned buffers");
    } else {
      VNET_FUZZ_CHECK(drv().in_flight() == out_.size(), "in_flight %u, outstanding %zu", drv().in_flight(),
                      out_.size());
    }
    VNET_FUZZ_CHECK(drv().free_slots() <= n_, "free slots %u of %u", drv().free_slots(), n_);
    return got;
  }

  void check_drain() {
    std::vector<uintptr_t> drained, want;
    drv().drain([&](void* t) { drained.push_back(reinterpret_cast<uintptr_t>(t)); });
    for (const Buf& b : out_) want.push_back(b.serial);
    std::sort(drained.begin(), drained.end());
    std::sort(want.begin(), want.end());
    VNET_FUZZ_CHECK(std::adjacent_find(drained.begin(), drained.end()) == drained.end(),
                    "drain handed back a token twice");
    if (drained != want) {
      for (uintptr_t s : want)
        if (!std::binary_search(drained.begin(), drained.end(), s))
          std::fprintf(stderr, "vnet fuzz: token %zu outstanding but not drained\n", static_cast<size_t>(s));
      for (uintptr_t s : drained)
        if (!std::binary_search(want.begin(), want.end(), s))
          std::fprintf(stderr, "vnet fuzz: token %zu drained but not outstanding\n", static_cast<size_t>(s));
    }
    VNET_FUZZ_CHECK(drained == want, "drain: %zu tokens back, %zu outstanding (broken %d)", drained.size(), want.size(),
                    drv().broken());
    // ring/driver_queue.h: descriptors released, the queue stopped until init().
    VNET_FUZZ_CHECK(drv().in_flight() == 0 && drv().free_slots() == n_, "after drain: in_flight %u, free %u of %u",
                    drv().in_flight(), drv().free_slots(), n_);
    size_t again = 0;
    drv().drain([&](void*) { ++again; });
    VNET_FUZZ_CHECK(again == 0, "a second drain handed back %zu tokens", again);
    ring::UsedBuf out[kMaxPoll];
    VNET_FUZZ_CHECK(drv().poll_used(out, kMaxPoll) == 0, "drained ring returned buffers");
    const ring::Seg s{pool_addr(0), 8, true};
    VNET_FUZZ_CHECK(drv().add(&s, 1, reinterpret_cast<void*>(next_serial_)) == -EIO, "drained ring took a buffer");
  }

  // ---- device-owned shared memory, written the way a device would ----------
  static uint16_t used_flags(bool wrap) { return wrap ? virtio::DESC_F_AVAIL | virtio::DESC_F_USED : 0; }
  void write_packed(uint16_t slot, uint16_t id, uint32_t len, uint16_t flags) {
    desc_[slot].id.set(id);
    desc_[slot].len.set(len);
    std::atomic_ref<uint16_t>(desc_[slot].flags.raw).store(virtio::to_le(flags), std::memory_order_release);
  }
  void advance(uint16_t& slot, bool& wrap, uint32_t by) const {
    uint32_t s = slot + by % n_;
    if (by >= n_) wrap = wrap != ((by / n_) & 1);
    if (s >= n_) {
      s -= n_;
      wrap = !wrap;
    }
    slot = static_cast<uint16_t>(s);
  }
  uint16_t load_used_idx() const {
    return virtio::from_le(std::atomic_ref<uint16_t>(used_->idx.raw).load(std::memory_order_relaxed));
  }
  void store_used_idx(uint16_t v) {
    std::atomic_ref<uint16_t>(used_->idx.raw).store(virtio::to_le(v), std::memory_order_release);
  }

  Drv& drv() { return qp_.drv; }
  typename L::Device& dev() { return qp_.dev; }

  Reader& in_;
  ring::QueuePair<Drv> qp_;
  uint32_t n_ = 0;
  bool in_order_ = false;
  uint8_t* pool_ = nullptr;
  std::vector<Buf> out_;  // outstanding buffers, in add order
  uintptr_t next_serial_ = 1;
  // split
  virtio::le16* avail_ring_ = nullptr;
  virtio::SplitUsedHdr* used_ = nullptr;
  virtio::SplitUsedElem* used_ring_ = nullptr;
  // packed
  virtio::PackedDesc* desc_ = nullptr;
  uint16_t avail_slot_ = 0;  // mirrors the driver's next avail slot
  uint16_t used_slot_ = 0;   // mirrors the driver's next used slot...
  bool used_wrap_ = true;    // ...and its wrap counter
  uint16_t fslot_ = 0;       // where op_forge writes next
  bool fwrap_ = true;
};

}  // namespace
}  // namespace vnet::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnet;
  fuzz::quiet_logs();
  fuzz::Reader in(data, size);
  const uint8_t cfg = in.u8();
  if (cfg & 1) {
    fuzz::DriverHarness<ring::PackedDriver>(in, cfg).run();
  } else {
    fuzz::DriverHarness<ring::SplitDriver>(in, cfg).run();
  }
  return 0;
}
