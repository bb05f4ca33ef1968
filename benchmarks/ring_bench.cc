// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vnet-ring-bench: the cost of one virtqueue round trip per packet, both ends
// in one thread over a QueuePair (no DPDK, no copies but the optional one).
// One iteration is one burst of 32, as a PMD and a backend would run it:
//   driver: add 32 single-segment 64-byte buffers, publish, kick_prepare
//   device: pop 32 (optionally memcpy each 64-byte payload out), push_used,
//           flush, should_notify
//   driver: poll_used 32
// Per layout (split, packed), feature set (plain, in_order) and ring size
// (256, 1024). Counter ns/pkt = iteration time / 32.
//
//   vnet-ring-bench [--benchmark_filter=packed] [--benchmark_min_time=2]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "support/ring_pair.h"

namespace {

using namespace vnet::ring;

constexpr uint16_t kBurst = 32;
constexpr uint32_t kPayload = 64;

template <class Drv>
constexpr const char* layout_name() {
  return LayoutOf<Drv>::packed ? "packed" : "split";
}

template <class Drv>
void ring_cycle(benchmark::State& st, Features f, bool touch) {
  const uint32_t n = static_cast<uint32_t>(st.range(0));
  QueuePair<Drv> qp;
  // Buffers: one per ring slot, spaced like mbuf data rooms (2 KiB) so the
  // payloads do not all share a few cache lines.
  constexpr size_t kStride = 2048;
  if (qp.init(n, f, size_t{n} * kStride + 4096) != 0) {
    st.SkipWithError("QueuePair::init failed");
    return;
  }
  uint8_t* pool = qp.arena->alloc(size_t{n} * kStride, 4096);
  for (uint32_t i = 0; i < n; ++i) std::memset(pool + size_t{i} * kStride, static_cast<int>(i), kPayload);
  alignas(64) static uint8_t local[kBurst][kPayload];  // the device's own buffers (touch)
  static Chain c;
  UsedBuf used[kBurst];
  uint32_t next = 0;  // next pool buffer (the ring hands them back in order)
  uint64_t kicks = 0, irqs = 0;

  for (auto _ : st) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      uint8_t* buf = pool + size_t{next} * kStride;
      const Seg s{Arena::iova(buf), kPayload, false};
      if (qp.drv.add(&s, 1, buf, false) != 0) {
        st.SkipWithError("add failed");
        return;
      }
      next = next + 1 == n ? 0 : next + 1;
    }
    qp.drv.publish();
    kicks += qp.drv.kick_prepare();

    for (uint16_t i = 0; i < kBurst; ++i) {
      if (qp.dev.pop(c) != Pop::Ok) {
        st.SkipWithError("pop did not return a chain");
        return;
      }
      if (touch) std::memcpy(local[i], c.segs[0].ptr, kPayload);
      qp.dev.push_used(c, 0);  // transmit: nothing written back
    }
    qp.dev.flush();
    irqs += qp.dev.should_notify();
    benchmark::DoNotOptimize(local);

    if (qp.drv.poll_used(used, kBurst) != kBurst) {
      st.SkipWithError("poll_used came back short");
      return;
    }
    benchmark::DoNotOptimize(used);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * kBurst);
  // Packets per second, inverted: seconds per packet (printed as e.g. "15.2ns").
  st.counters["ns/pkt"] =
      benchmark::Counter(kBurst, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  st.counters["kicks/burst"] = benchmark::Counter(static_cast<double>(kicks) / st.iterations());
  st.counters["irqs/burst"] = benchmark::Counter(static_cast<double>(irqs) / st.iterations());
}

template <class Drv>
void register_layout() {
  struct Set {
    const char* name;
    Features f;
  };
  const Set sets[] = {{"plain", Features{}}, {"in_order", Features{false, false, true}}};
  for (const Set& s : sets) {
    for (const bool touch : {false, true}) {
      const std::string name = std::string(layout_name<Drv>()) + "/" + s.name + (touch ? "/memcpy64" : "/no_touch");
      const Features f = s.f;
      benchmark::RegisterBenchmark(name.c_str(), [f, touch](benchmark::State& st) { ring_cycle<Drv>(st, f, touch); })
          ->ArgName("ring")
          ->Arg(256)
          ->Arg(1024);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_layout<SplitDriver>();
  register_layout<PackedDriver>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
