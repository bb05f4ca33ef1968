// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Randomized driver-versus-device simulation, per layout and feature set:
// random chains (direct/indirect, readable/writable), random bursts, random
// out-of-order (or batched in-order) completion. Checks that every buffer
// comes back exactly once, with the length the device wrote and the bytes it
// wrote; the device checks the bytes the driver wrote. Seed printed on failure.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "ring_test_util.h"

namespace vnet::ring::test {
namespace {

uint64_t sim_ops() {
  if (const char* e = std::getenv("VNET_SIM_OPS")) return std::strtoull(e, nullptr, 10);
  return 1'000'000;
}

uint8_t pattern(uint64_t seed, uint32_t i) { return static_cast<uint8_t>((seed * 2654435761u) >> 7 ^ i * 31u); }

struct SimParam {
  bool packed;
  uint32_t size;
  Features f;
};

std::string name_of(const ::testing::TestParamInfo<SimParam>& p) {
  std::string s = p.param.packed ? "packed" : "split";
  s += std::to_string(p.param.size);
  if (p.param.f.indirect) s += "_indirect";
  if (p.param.f.event_idx) s += "_eventidx";
  if (p.param.f.in_order) s += "_inorder";
  return s;
}

template <class Drv>
void run_sim(const SimParam& prm, uint64_t seed, uint64_t ops) {
  SCOPED_TRACE(::testing::Message() << "seed=" << seed << " (rerun with VNET_SIM_SEED=" << seed << ")");
  constexpr uint32_t kSeg = 64, kMaxSegs = 6;
  const uint32_t n = prm.size;
  const uint32_t slots = n;  // one buffer record per possible outstanding buffer
  QueuePair<Drv> p;
  const size_t pool_bytes = size_t{slots} * kMaxSegs * kSeg;
  ASSERT_EQ(p.init(n, prm.f, pool_bytes + 4096, kMaxSegs), 0);
  Pool pool;
  pool.init(*p.arena, slots * kMaxSegs, kSeg);

  struct Rec {
    bool out = false;     // outstanding at the driver
    uint64_t serial = 0;  // content seed of the readable part
    uint16_t nr = 0, nw = 0;
    uint32_t rlen[kMaxSegs], wlen[kMaxSegs];
    uint32_t in_len = 0;
    uint32_t dev_len = 0;  // what the device reported
    uint64_t dev_seed = 0;
    bool dev_done = false;
  };
  std::vector<Rec> rec(slots);
  std::vector<uint32_t> free_recs(slots);
  for (uint32_t i = 0; i < slots; ++i) free_recs[i] = slots - 1 - i;

  std::mt19937_64 rng(seed);
  auto rnd = [&](uint32_t lo, uint32_t hi) { return static_cast<uint32_t>(lo + rng() % (hi - lo + 1)); };

  std::vector<Chain> held(n);  // chains popped by the device, not yet used
  std::vector<uint32_t> held_rec(n);
  uint32_t nheld = 0;
  uint64_t serial = 0, completed = 0, outstanding = 0, op = 0;
  std::vector<UsedBuf> out(n);

  auto device_take = [&](Chain& c) -> uint32_t {  // returns record index
    // Which record: the pool slot of the first piece.
    const int32_t s = pool.slot_of(c.segs[0].ptr);
    EXPECT_GE(s, 0);
    const uint32_t r = static_cast<uint32_t>(s) / kMaxSegs;
    Rec& R = rec[r];
    EXPECT_TRUE(R.out);
    EXPECT_FALSE(R.dev_done);
    uint32_t want_out = 0;
    for (uint16_t k = 0; k < R.nr; ++k) want_out += R.rlen[k];
    EXPECT_EQ(c.out_len, want_out);
    EXPECT_EQ(c.in_len, R.in_len);
    uint32_t off = 0;
    for (uint16_t k = 0; k < c.nout; ++k)
      for (uint32_t i = 0; i < c.segs[k].len; ++i, ++off)
        if (c.segs[k].ptr[i] != pattern(R.serial, off)) {
          ADD_FAILURE() << "readable byte " << off << " corrupted";
          return r;
        }
    R.dev_len = R.in_len ? rnd(0, R.in_len) : 0;
    R.dev_seed = rng();
    uint32_t left = R.dev_len;
    off = 0;
    for (uint16_t k = c.nout; k < c.nseg && left; ++k) {
      const uint32_t l = std::min(left, c.segs[k].len);
      for (uint32_t i = 0; i < l; ++i) c.segs[k].ptr[i] = pattern(R.dev_seed, off++);
      left -= l;
    }
    R.dev_done = true;
    return r;
  };

  while (op < ops) {
    // Driver: add a burst.
    const uint32_t burst = rnd(0, std::min<uint32_t>(n, 32));
    for (uint32_t b = 0; b < burst && !free_recs.empty(); ++b, ++op) {
      const uint32_t r = free_recs.back();
      Rec& R = rec[r];
      R.nr = static_cast<uint16_t>(rnd(0, 3));
      R.nw = static_cast<uint16_t>(rnd(R.nr == 0 ? 1 : 0, 3));
      while (uint32_t{R.nr} + R.nw > n) {  // no chain longer than the queue (2.7.5.3.1)
        if (R.nw > (R.nr == 0 ? 1 : 0))
          --R.nw;
        else
          --R.nr;
      }
      Seg segs[kMaxSegs];
      R.serial = ++serial;
      R.in_len = 0;
      uint32_t off = 0;
      for (uint16_t k = 0; k < R.nr; ++k) {
        R.rlen[k] = rnd(1, kSeg);
        uint8_t* b8 = pool.at(r * kMaxSegs + k);
        for (uint32_t i = 0; i < R.rlen[k]; ++i) b8[i] = pattern(R.serial, off++);
        segs[k] = Seg{pool.iova(r * kMaxSegs + k), R.rlen[k], false};
      }
      for (uint16_t k = 0; k < R.nw; ++k) {
        R.wlen[k] = rnd(0, kSeg);
        segs[R.nr + k] = Seg{pool.iova(r * kMaxSegs + R.nr + k), R.wlen[k], true};
        R.in_len += R.wlen[k];
      }
      // a zero-length first writable piece would not identify the record
      if (R.nr == 0 && R.wlen[0] == 0) {
        R.wlen[0] = 1;
        segs[0].len = 1;
        R.in_len += 1;
      }
      const int rc = p.drv.add(segs, static_cast<uint16_t>(R.nr + R.nw), tok(r), rng() & 1);
      if (rc == -ENOSPC) break;
      ASSERT_EQ(rc, 0);
      R.out = true;
      R.dev_done = false;
      free_recs.pop_back();
      ++outstanding;
    }
    p.drv.publish();
    (void)p.drv.kick_prepare();

    // Device: pop some, complete some (random order unless IN_ORDER).
    const uint32_t pops = rnd(0, n);
    for (uint32_t k = 0; k < pops && nheld < n; ++k) {
      const Pop r = p.dev.pop(held[nheld]);
      ASSERT_NE(r, Pop::Broken);
      ASSERT_NE(r, Pop::Dropped);
      if (r == Pop::Empty) break;
      held_rec[nheld] = device_take(held[nheld]);
      ++nheld;
      if (::testing::Test::HasFailure()) return;
    }
    const uint32_t dones = rnd(0, nheld);
    if (prm.f.in_order) {
      // Complete the oldest `dones`, sometimes as one batch entry.
      if (dones > 0) {
        if (rng() & 1) {
          uint32_t slots_used = 0;
          for (uint32_t k = 0; k < dones; ++k) slots_used += held[k].ndesc;
          // Buffers inside a batch report length 0: only the last one is checked.
          for (uint32_t k = 0; k + 1 < dones; ++k) rec[held_rec[k]].dev_len = 0;
          p.dev.push_used_batch(held[dones - 1], rec[held_rec[dones - 1]].dev_len,
                                static_cast<uint16_t>(prm.packed ? slots_used : dones));
        } else {
          for (uint32_t k = 0; k < dones; ++k) p.dev.push_used(held[k], rec[held_rec[k]].dev_len);
        }
        for (uint32_t k = dones; k < nheld; ++k) {
          held[k - dones] = held[k];
          held_rec[k - dones] = held_rec[k];
        }
        nheld -= dones;
      }
    } else {
      for (uint32_t k = 0; k < dones; ++k) {
        const uint32_t i = rnd(0, nheld - 1);
        p.dev.push_used(held[i], rec[held_rec[i]].dev_len);
        held[i] = held[nheld - 1];
        held_rec[i] = held_rec[nheld - 1];
        --nheld;
      }
    }
    p.dev.flush();
    (void)p.dev.should_notify();

    // Driver: reap some.
    const uint16_t got = p.drv.poll_used(out.data(), static_cast<uint16_t>(rnd(0, std::min<uint32_t>(n, 65535))));
    ASSERT_FALSE(p.drv.broken());
    for (uint16_t i = 0; i < got; ++i) {
      const uintptr_t r = untok(out[i].token);
      ASSERT_LT(r, slots);
      Rec& R = rec[r];
      ASSERT_TRUE(R.out) << "buffer returned twice";
      ASSERT_TRUE(R.dev_done) << "buffer returned before the device used it";
      ASSERT_EQ(out[i].len, R.dev_len);
      uint32_t left = R.dev_len, off = 0;
      for (uint16_t k = 0; k < R.nw && left; ++k) {
        const uint8_t* b8 = pool.at(static_cast<uint32_t>(r) * kMaxSegs + R.nr + k);
        const uint32_t l = std::min(left, R.wlen[k]);
        for (uint32_t j = 0; j < l; ++j, ++off) ASSERT_EQ(b8[j], pattern(R.dev_seed, off)) << "written byte " << off;
        left -= l;
      }
      R.out = false;
      free_recs.push_back(static_cast<uint32_t>(r));
      --outstanding;
      ++completed;
    }
  }
  // Finish: the device completes everything, the driver reaps it all.
  for (uint32_t k = 0; k < nheld; ++k) p.dev.push_used(held[k], rec[held_rec[k]].dev_len);
  nheld = 0;
  p.dev.flush();
  Chain c;
  for (;;) {
    const Pop r = p.dev.pop(c);
    if (r == Pop::Empty) break;
    ASSERT_EQ(r, Pop::Ok);
    device_take(c);
    p.dev.push_used(c, rec[pool.slot_of(c.segs[0].ptr) / kMaxSegs].dev_len);
  }
  p.dev.flush();
  while (outstanding) {
    const uint16_t got = p.drv.poll_used(out.data(), static_cast<uint16_t>(std::min<uint32_t>(n, 65535)));
    ASSERT_GT(got, 0) << outstanding << " buffers never came back";
    for (uint16_t i = 0; i < got; ++i) {
      Rec& R = rec[untok(out[i].token)];
      ASSERT_TRUE(R.out);
      ASSERT_EQ(out[i].len, R.dev_len);
      R.out = false;
      --outstanding;
      ++completed;
    }
  }
  EXPECT_EQ(p.drv.free_slots(), n);
  EXPECT_EQ(p.drv.errors().total(), 0u);
  EXPECT_EQ(p.dev.errors().total(), 0u);
  ::testing::Test::RecordProperty("operations", std::to_string(op));
  std::printf("[ sim ] %s: %llu buffers added and returned\n", LayoutOf<Drv>::packed ? "packed" : "split",
              static_cast<unsigned long long>(completed));
}

class RingSim : public ::testing::TestWithParam<SimParam> {};

TEST_P(RingSim, EveryBufferBackExactlyOnce) {
  uint64_t seed = std::random_device{}();
  if (const char* e = std::getenv("VNET_SIM_SEED")) seed = std::strtoull(e, nullptr, 10);
  if (GetParam().packed)
    run_sim<PackedDriver>(GetParam(), seed, sim_ops());
  else
    run_sim<SplitDriver>(GetParam(), seed, sim_ops());
}

std::vector<SimParam> params() {
  std::vector<SimParam> v;
  for (bool packed : {false, true})
    for (int fb = 0; fb < 8; ++fb) {
      Features f{.indirect = bool(fb & 1), .event_idx = bool(fb & 2), .in_order = bool(fb & 4)};
      v.push_back({packed, packed ? 100u : 128u, f});
    }
  v.push_back({false, 4, {.indirect = true}});
  v.push_back({true, 5, {.indirect = true, .in_order = true}});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Layouts, RingSim, ::testing::ValuesIn(params()), name_of);

}  // namespace
}  // namespace vnet::ring::test
