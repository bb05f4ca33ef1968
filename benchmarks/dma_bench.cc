// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vnet-dma-bench: net_vnet_vhost's copy engines side by side, DPDK's
// net_virtio_user as the frontend, both in one process on one lcore.
// Engines: CPU copies, DMA through DPDK's software dma_skeleton (its copy
// thread on a second CPU), DMA through dma_instant (instant_dma.cc: every
// copy done, synchronously, when submitted; what the asynchronous path costs
// by itself). Per ring layout, engine and frame size:
//   enqueue: the backend transmits into the frontend's receive ring
//   dequeue: the backend receives what the frontend transmitted
// Timed mode prints throughput (frames/s over the whole loop, frontend
// included) and the backend's cycles per packet (rdtsc around its bursts,
// counted only in polls that moved something), the fast mode of many
// slices. Count mode (--count) runs a fixed number of lockstep rounds for
// valgrind and prints what moved; the backend's bursts run only inside
// counted_enqueue/counted_dequeue (benchmarks/dma_cost.py). Each (layout,
// engine) runs in a forked child with its own EAL.
#include <getopt.h>
#include <rte_cycles.h>
#include <rte_dmadev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vnet/rte_pmd_vnet_vhost.h"

namespace {

constexpr uint16_t kBurst = 32;

enum class Engine { Cpu, Skeleton, Instant };

struct Config {
  double secs = 1;
  unsigned slices = 10;
  std::vector<Engine> engines = {Engine::Cpu, Engine::Skeleton, Engine::Instant};
  std::vector<long> thresholds = {0};
  std::vector<uint32_t> sizes = {64, 256, 512, 1024, 1518, 9000};
  std::vector<bool> rings = {false, true};  // packed?
  uint32_t count = 0;                       // > 0: count mode, this many rounds per direction
  bool raw = false;
};

const char* engine_name(Engine e) { return e == Engine::Cpu ? "cpu" : e == Engine::Skeleton ? "skeleton" : "instant"; }
const char* dmadev_of(Engine e) { return e == Engine::Skeleton ? "dma_skeleton0" : "dma_instant0"; }

rte_mbuf* make(rte_mempool* mp, uint32_t len) {
  rte_mbuf* head = rte_pktmbuf_alloc(mp);
  if (!head) return nullptr;
  rte_mbuf* cur = head;
  uint32_t left = len;
  for (;;) {
    const uint32_t k = std::min<uint32_t>(left, rte_pktmbuf_tailroom(cur));
    cur->data_len = static_cast<uint16_t>(k);
    left -= k;
    if (left == 0) break;
    rte_mbuf* nx = rte_pktmbuf_alloc(mp);
    if (!nx) {
      rte_pktmbuf_free(head);
      return nullptr;
    }
    cur->next = nx;
    cur = nx;
    ++head->nb_segs;
  }
  head->pkt_len = len;
  std::memset(rte_pktmbuf_mtod(head, uint8_t*), 0x5a, std::min<uint32_t>(len, 64));
  return head;
}

uint16_t make_burst(rte_mempool* mp, rte_mbuf** pkts, uint32_t len) {
  uint16_t n = 0;
  for (; n < kBurst; ++n)
    if (!(pkts[n] = make(mp, len))) break;
  return n;
}

// One extended statistic of a port by its name (0 when it has none).
uint64_t xstat(uint16_t port, const std::string& name) {
  uint64_t id = 0, v = 0;
  if (rte_eth_xstats_get_id_by_name(port, name.c_str(), &id) == 0) rte_eth_xstats_get_by_id(port, &id, &v, 1);
  return v;
}

// ---- count mode -------------------------------------------------------------

// The backend's bursts, out of line: valgrind collects inside these alone
// (--toggle-collect=counted_*); warm-up rounds go through plain calls.
[[gnu::noinline]] uint16_t counted_enqueue(uint16_t port, rte_mbuf** pkts, uint16_t n) {
  return rte_eth_tx_burst(port, 0, pkts, n);
}
[[gnu::noinline]] uint16_t counted_dequeue(uint16_t port, rte_mbuf** pkts, uint16_t n) {
  return rte_eth_rx_burst(port, 0, pkts, n);
}

// `rounds` of (frames to the backend's burst, the frontend's burst to move
// them on); the backend's bursts through `be` (counted or not). Returns the
// frames that crossed.
template <class Burst>
uint64_t lockstep(uint16_t pv, uint16_t pu, rte_mempool* mp, uint32_t len, bool enqueue, uint32_t rounds, Burst be) {
  rte_mbuf* pkts[kBurst];
  uint64_t moved = 0;
  for (uint32_t i = 0; i < rounds; ++i) {
    const uint16_t n = make_burst(mp, pkts, len);
    if (enqueue) {
      const uint16_t k = be(pv, pkts, n);
      rte_pktmbuf_free_bulk(pkts + k, n - k);
      const uint16_t r = rte_eth_rx_burst(pu, 0, pkts, kBurst);
      moved += r;
      rte_pktmbuf_free_bulk(pkts, r);
    } else {
      const uint16_t k = rte_eth_tx_burst(pu, 0, pkts, n);
      rte_pktmbuf_free_bulk(pkts + k, n - k);
      const uint16_t r = be(pv, pkts, kBurst);
      moved += r;
      rte_pktmbuf_free_bulk(pkts, r);
    }
  }
  return moved;
}

void count_mode(uint16_t pv, uint16_t pu, rte_mempool* mp, const Config& c, const std::string& label) {
  const uint32_t len = c.sizes.front();
  for (const bool enqueue : {true, false}) {
    const auto plain = [enqueue](uint16_t port, rte_mbuf** pkts, uint16_t n) {
      return enqueue ? rte_eth_tx_burst(port, 0, pkts, n) : rte_eth_rx_burst(port, 0, pkts, n);
    };
    lockstep(pv, pu, mp, len, enqueue, 64, plain);  // warm-up: caches, first-touch, ring wrap
    const char* dir = enqueue ? "tx" : "rx";        // the backend's queue of this direction
    const std::string pre = std::string(dir) + "_q0_";
    const uint64_t d0 = xstat(pv, pre + "dma_copies"), c0 = xstat(pv, pre + "cpu_copies");
    const uint64_t moved = lockstep(pv, pu, mp, len, enqueue, c.count, enqueue ? counted_enqueue : counted_dequeue);
    const uint64_t dma = xstat(pv, pre + "dma_copies") - d0, cpu = xstat(pv, pre + "cpu_copies") - c0;
    std::printf("count %s size=%u dir=%s rounds=%u packets=%lu dma_copies=%lu cpu_copies=%lu\n", label.c_str(), len,
                enqueue ? "enqueue" : "dequeue", c.count, moved, dma, cpu);
    std::fflush(stdout);
  }
}

// ---- timed mode -------------------------------------------------------------

struct Slice {
  double mpps;
  double cycles;  // the backend's, per packet
};

// One direction, one size, one slice of `secs`.
Slice run_once(uint16_t pv, uint16_t pu, rte_mempool* mp, uint32_t len, bool enqueue, double secs) {
  const uint16_t tx = enqueue ? pv : pu, rx = enqueue ? pu : pv;
  rte_mbuf* pkts[kBurst];
  uint64_t moved = 0, busy = 0;
  const uint64_t hz = rte_get_timer_hz();
  const uint64_t t0 = rte_get_timer_cycles(), end = t0 + static_cast<uint64_t>(secs * hz);
  uint64_t now = t0;
  while (now < end) {
    for (int rep = 0; rep < 64; ++rep) {
      const uint16_t n = make_burst(mp, pkts, len);
      // A backend poll is busy when it moved packets: took or delivered
      // some, or (DMA) completed or submitted copies (in-flight count moved).
      int f0 = rte_pmd_vnet_vhost_inflight(pv, 0, !enqueue);
      uint64_t a = rte_rdtsc();
      const uint16_t k = rte_eth_tx_burst(tx, 0, pkts, n);
      uint64_t b = rte_rdtsc();
      if (enqueue && (k || rte_pmd_vnet_vhost_inflight(pv, 0, 0) != f0)) busy += b - a;
      rte_pktmbuf_free_bulk(pkts + k, n - k);
      f0 = rte_pmd_vnet_vhost_inflight(pv, 0, 1);
      a = rte_rdtsc();
      const uint16_t r = rte_eth_rx_burst(rx, 0, pkts, kBurst);
      b = rte_rdtsc();
      if (!enqueue && (r || rte_pmd_vnet_vhost_inflight(pv, 0, 1) != f0)) busy += b - a;
      moved += r;
      rte_pktmbuf_free_bulk(pkts, r);
    }
    now = rte_get_timer_cycles();
  }
  // Drain what is still in flight so the next slice starts empty.
  for (int i = 0; i < 2000; ++i) {
    rte_eth_tx_done_cleanup(tx, 0, 0);
    rte_pktmbuf_free_bulk(pkts, rte_eth_rx_burst(rx, 0, pkts, kBurst));
  }
  const double s = static_cast<double>(now - t0) / static_cast<double>(hz);
  return Slice{static_cast<double>(moved) / s / 1e6,
               moved ? static_cast<double>(busy) / static_cast<double>(moved) : 0};
}

// This machine is bimodal (and shared): the fast mode of a point's slices,
// the median of the faster half by the backend's cycles per packet (with
// the rate of that slice), and how many slices were within 1.5x of it.
struct Point {
  Slice fast;
  unsigned near, n;
};

Point run(uint16_t pv, uint16_t pu, rte_mempool* mp, uint32_t len, bool enqueue, const Config& c) {
  std::vector<Slice> s;
  for (unsigned i = 0; i < c.slices; ++i) {
    const Slice x = run_once(pv, pu, mp, len, enqueue, c.secs / c.slices);
    if (x.cycles > 0) s.push_back(x);
  }
  if (s.empty()) return Point{{0, 0}, 0, c.slices};
  std::sort(s.begin(), s.end(), [](const Slice& a, const Slice& b) { return a.cycles < b.cycles; });
  const size_t half = (s.size() + 1) / 2;
  Point p{s[(half - 1) / 2], 0, static_cast<unsigned>(s.size())};
  for (const Slice& x : s) p.near += x.cycles <= 1.5 * p.fast.cycles;
  return p;
}

// The dmadev alone: copies of `len` bytes per second with up to 512 in
// flight, bursts of 32 (what the backend can at best get from it).
double raw_dma(int16_t dev, uint32_t len, double secs) {
  static uint8_t src[16384], dst[512][2048];
  const uint64_t hz = rte_get_timer_hz(), end = rte_get_timer_cycles() + static_cast<uint64_t>(secs * hz);
  uint64_t sub = 0, done = 0;
  const uint64_t t0 = rte_get_timer_cycles();
  while (rte_get_timer_cycles() < end) {
    for (int i = 0; i < 32 && sub - done < 512; ++i, ++sub)
      if (rte_dma_copy(dev, 0, reinterpret_cast<rte_iova_t>(src), reinterpret_cast<rte_iova_t>(dst[sub % 512]),
                       std::min<uint32_t>(len, 2048), 0) < 0)
        break;
    rte_dma_submit(dev, 0);
    uint16_t last;
    bool err;
    done += rte_dma_completed(dev, 0, 64, &last, &err);
  }
  const double s = static_cast<double>(rte_get_timer_cycles() - t0) / static_cast<double>(hz);
  while (done < sub) {
    uint16_t last;
    bool err;
    done += rte_dma_completed(dev, 0, 64, &last, &err);
  }
  return static_cast<double>(done) / s / 1e6;
}

std::vector<std::string> eal_args(const char* tag, Engine e) {
  std::vector<std::string> a = {"bench",
                                "--no-huge",
                                "-m",
                                "512",
                                "--no-pci",
                                "--no-telemetry",
                                "-l",
                                "0,1",
                                "--file-prefix=vnet-" + std::string(tag) + "-" + std::to_string(::getpid()),
                                "--log-level=*:error"};
  // The skeleton's copy thread pinned to lcore 1's CPU; lcore 0 runs both
  // ports (lcore 1's EAL thread sleeps).
  if (e == Engine::Skeleton) a.insert(a.end(), {"--vdev", "dma_skeleton0,lcore=1"});
  if (e == Engine::Instant) a.insert(a.end(), {"--vdev", "dma_instant0"});
  return a;
}

int eal_init(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0 ? -1 : 0;
}

void eal_done() {
  const std::string runtime = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  ::rmdir(runtime.c_str());
}

int raw_child(Engine e, double secs) {
  if (eal_init(eal_args("dmar", e)) != 0) return 1;
  const int16_t dev = static_cast<int16_t>(rte_dma_get_dev_id_by_name(dmadev_of(e)));
  rte_dma_conf conf{};
  conf.nb_vchans = 1;
  rte_dma_vchan_conf vc{};
  vc.direction = RTE_DMA_DIR_MEM_TO_MEM;
  vc.nb_desc = 1024;
  if (dev < 0 || rte_dma_configure(dev, &conf) || rte_dma_vchan_setup(dev, 0, &vc) || rte_dma_start(dev)) return 1;
  for (uint32_t len : {64u, 1518u, 2048u})
    std::printf("%s alone: %4u B copies: %.2f Mops/s\n", dmadev_of(e), len, raw_dma(dev, len, secs)),
        std::fflush(stdout);
  rte_dma_stop(dev);
  eal_done();
  return 0;
}

int setup(uint16_t port, rte_mempool* mp) {
  rte_eth_conf conf{};
  conf.rxmode.mtu = 9000;
  conf.rxmode.offloads = RTE_ETH_RX_OFFLOAD_SCATTER;
  conf.txmode.offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  int rc = rte_eth_dev_configure(port, 1, 1, &conf);
  if (rc == 0) rc = rte_eth_rx_queue_setup(port, 0, 256, SOCKET_ID_ANY, nullptr, mp);
  if (rc == 0) rc = rte_eth_tx_queue_setup(port, 0, 256, SOCKET_ID_ANY, nullptr);
  if (rc == 0) rc = rte_eth_dev_start(port);
  return rc;
}

// One (layout, engine, threshold): every size, both directions.
int child(bool packed, Engine e, long threshold, const Config& c, const std::string& dir) {
  const std::string sock = dir + "/vhost.sock";
  std::string vhost = "net_vnet_vhost0,iface=" + sock + ",queues=1";
  if (e != Engine::Cpu) {
    const std::string d = dmadev_of(e);
    vhost += ",dmas=[txq0@" + d + "-0;rxq0@" + d + "-0],dma_threshold=" + std::to_string(threshold);
  }
  const std::string user = "net_virtio_user0,path=" + sock + ",queues=1,mrg_rxbuf=1,packed_vq=" + (packed ? "1" : "0");
  std::vector<std::string> args = eal_args("dmab", e);
  args.insert(args.end(), {"--vdev", vhost, "--vdev", user});
  if (eal_init(args) != 0) return 1;
  uint16_t pv, pu;
  if (rte_eth_dev_get_port_by_name("net_vnet_vhost0", &pv) || rte_eth_dev_get_port_by_name("net_virtio_user0", &pu))
    return 1;
  rte_mempool* mp = rte_pktmbuf_pool_create("bench", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (!mp || setup(pv, mp) || setup(pu, mp)) return 1;
  rte_eth_link link{};
  for (int i = 0; i < 500 && link.link_status != RTE_ETH_LINK_UP; ++i) {
    rte_delay_ms(10);
    rte_eth_link_get_nowait(pv, &link);
  }
  if (link.link_status != RTE_ETH_LINK_UP) return 1;
  const std::string engine = e == Engine::Cpu ? "cpu" : std::string(engine_name(e)) + ">=" + std::to_string(threshold);
  if (c.count) {
    count_mode(pv, pu, mp, c, std::string("ring=") + (packed ? "packed" : "split") + " engine=" + engine);
  } else {
    for (uint32_t len : c.sizes) {
      const Point en = run(pv, pu, mp, len, true, c);
      const Point de = run(pv, pu, mp, len, false, c);
      std::printf("| %-6s | %5u | %-12s | %6.2f | %7.0f (%u/%u) | %6.2f | %7.0f (%u/%u) |\n",
                  packed ? "packed" : "split", len, engine.c_str(), en.fast.mpps, en.fast.cycles, en.near, en.n,
                  de.fast.mpps, de.fast.cycles, de.near, de.n);
      std::fflush(stdout);
    }
  }
  rte_eth_dev_stop(pu);
  rte_eth_dev_close(pu);
  rte_eth_dev_stop(pv);
  rte_eth_dev_close(pv);
  eal_done();
  return 0;
}

template <class T, class F>
bool parse_list(const char* s, std::vector<T>& out, F one) {
  out.clear();
  std::string v = s;
  for (size_t pos = 0; pos <= v.size();) {
    size_t end = v.find(',', pos);
    if (end == std::string::npos) end = v.size();
    T x{};
    if (!one(v.substr(pos, end - pos), x)) return false;
    out.push_back(x);
    pos = end + 1;
  }
  return !out.empty();
}

bool parse_num(const std::string& s, long lo, long hi, long& out) {
  char* e = nullptr;
  out = std::strtol(s.c_str(), &e, 10);
  return !s.empty() && !*e && out >= lo && out <= hi;
}

void usage(FILE* f) {
  std::fprintf(f, R"(usage: vnet-dma-bench [options]

The backend's copy engines, frontend DPDK's net_virtio_user, one lcore.
  --engines LIST     cpu, skeleton (dma_skeleton, copy thread on CPU 1),
                     instant (dma_instant: copies done at submit)
                     (default cpu,skeleton,instant)
  --thresholds LIST  dma_threshold= values for the DMA engines (default 0)
  --sizes LIST       frame sizes (default 64,256,512,1024,1518,9000)
  --rings LIST       split, packed (default split,packed)
  --secs S           time per point and direction (default 1)
  --slices N         slices per point; the fast mode is reported (default 10)
  --count ROUNDS     count mode: ROUNDS lockstep bursts of 32 per direction
                     (first ring, engine, threshold and size), no clock;
                     the backend's bursts run inside counted_enqueue /
                     counted_dequeue (benchmarks/dma_cost.py)
  --raw              also each DMA engine alone (copies per second)
)");
}

int parse(int argc, char** argv, Config& c) {
  enum { kEngines = 1, kThresholds, kSizes, kRings, kSecs, kSlices, kCount, kRaw, kHelp };
  static const option opts[] = {{"engines", required_argument, nullptr, kEngines},
                                {"thresholds", required_argument, nullptr, kThresholds},
                                {"sizes", required_argument, nullptr, kSizes},
                                {"rings", required_argument, nullptr, kRings},
                                {"secs", required_argument, nullptr, kSecs},
                                {"slices", required_argument, nullptr, kSlices},
                                {"count", required_argument, nullptr, kCount},
                                {"raw", no_argument, nullptr, kRaw},
                                {"help", no_argument, nullptr, kHelp},
                                {nullptr, 0, nullptr, 0}};
  for (int o; (o = getopt_long(argc, argv, "h", opts, nullptr)) != -1;) {
    bool ok = true;
    long x = 0;
    switch (o) {
      case kEngines:
        ok = parse_list(optarg, c.engines, [](const std::string& s, Engine& e) {
          e = s == "cpu" ? Engine::Cpu : s == "skeleton" ? Engine::Skeleton : Engine::Instant;
          return s == "cpu" || s == "skeleton" || s == "instant";
        });
        break;
      case kThresholds:
        ok = parse_list(optarg, c.thresholds, [](const std::string& s, long& t) { return parse_num(s, 0, 65536, t); });
        break;
      case kSizes:
        ok = parse_list(optarg, c.sizes, [](const std::string& s, uint32_t& v) {
          long t = 0;
          if (!parse_num(s, 60, 9000, t)) return false;
          v = static_cast<uint32_t>(t);
          return true;
        });
        break;
      case kRings:
        ok = parse_list(optarg, c.rings, [](const std::string& s, bool& packed) {
          packed = s == "packed";
          return s == "packed" || s == "split";
        });
        break;
      case kSecs:
        c.secs = std::atof(optarg);
        ok = c.secs > 0;
        break;
      case kSlices:
        ok = parse_num(optarg, 1, 1000, x);
        c.slices = static_cast<unsigned>(x);
        break;
      case kCount:
        ok = parse_num(optarg, 1, 100000000, x);
        c.count = static_cast<uint32_t>(x);
        break;
      case kRaw:
        c.raw = true;
        break;
      case 'h':
      case kHelp:
        usage(stdout);
        std::exit(0);
      default:
        usage(stderr);
        return -1;
    }
    if (!ok) {
      std::fprintf(stderr, "vnet-dma-bench: bad value '%s' for --%s\n", optarg, opts[o - 1].name);
      return -1;
    }
  }
  return 0;
}

// Run f() in a child process; its exit status.
template <class F>
int forked(F f) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::signal(SIGPIPE, SIG_IGN);
    ::_exit(f());
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  if (parse(argc, argv, c) != 0) return 2;
  std::fflush(stdout);
  if (c.raw)
    for (Engine e : c.engines)
      if (e != Engine::Cpu && forked([&] { return raw_child(e, c.secs); }) != 0)
        std::fprintf(stderr, "%s alone: child failed\n", engine_name(e));
  if (!c.count) {
    std::printf(
        "| ring   | frame | copies       | enq Mpps | enq cyc/pkt (fast n/N) | deq Mpps | deq cyc/pkt (fast n/N) |\n");
    std::printf(
        "| ---    | ---   | ---          | ---      | ---                    | ---      | ---                    |\n");
    std::fflush(stdout);
  }
  int rc = 0;
  for (bool packed : c.rings)
    for (Engine e : c.engines)
      for (long t : e == Engine::Cpu ? std::vector<long>{-1} : c.thresholds) {
        char dir[] = "/run/vnet-dmab-XXXXXX";
        if (!::mkdtemp(dir)) return 1;
        // Count mode stays in this process (one configuration; valgrind
        // then writes one profile).
        const int st = c.count ? child(packed, e, t, c, dir) : forked([&] { return child(packed, e, t, c, dir); });
        ::unlink((std::string(dir) + "/vhost.sock").c_str());
        ::rmdir(dir);
        if (st != 0) {
          std::fprintf(stderr, "%s %s threshold %ld: child failed (status %d)\n", packed ? "packed" : "split",
                       engine_name(e), t, st);
          rc = 1;
        }
        if (c.count) return rc;  // count mode: the first configuration only
      }
  return rc;
}
