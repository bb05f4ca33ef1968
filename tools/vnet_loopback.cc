// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vnet-loopback: the main demo. A virtio-user frontend and a vhost-user
// backend in one process, one forwarding core each side, testpmd-style
// (io-forward, txonly, rxonly); either side is ours or DPDK's. Invariants: the
// workers only poll and count (one writer per counter, read relaxed by the
// main thread); every mbuf is back in its pool when the ports are closed.
#include <dlfcn.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <getopt.h>
#include <rte_cycles.h>
#include <rte_dmadev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

enum class Mode { Fwd, Tx, Rx };  // Tx: virtio transmits; Rx: virtio receives
enum class Role { Fwd, Gen, Sink };
enum class Dma { Auto, On, Off };

struct Options {
  bool fe_ours = true, be_ours = true, packed = true, mrg = true, in_order = false;
  Dma dma = Dma::Auto;
  bool csv = false, quiet = false, xstats = false, verbose = false;
  uint32_t size = 64, queues = 1, ring = 256, inflight = 128, burst = 32;
  int64_t dma_threshold = -1;  // -1: the backend's default
  uint32_t lockstep = 0;       // > 0: no workers, this many rounds on one thread
  double duration = 10, warmup = 1;
  Mode mode = Mode::Fwd;
  int cpu_fe = 0, cpu_be = 1;
  std::vector<std::string> eal_extra;
};

void usage(FILE* f) {
  std::fprintf(f, R"(usage: vnet-loopback [options] [-- EAL options]

A virtio-user frontend and a vhost-user backend in one process, each polled
by its own core; prints a live line per second and a summary at the end.
Needs no hugepages (--no-huge); Ctrl-C stops it early, with the summary.

  --frontend ours|dpdk   the virtio side: net_vnet_user (ours, default) or
                         DPDK's net_virtio_user
  --backend ours|dpdk    the vhost side: net_vnet_vhost (ours, default) or
                         DPDK's net_vhost
  --ring split|packed    virtqueue layout (default packed)
  --size BYTES           frame size, 60..9000 (default 64); above 1518 the
                         frames are chained mbufs and mergeable Rx is needed
  --queues N             queue pairs, 1..8 (default 1); each core serves all
                         of its side's queues
  --ring-size N          descriptors per virtqueue (default 256)
  --mode fwd|tx|rx       fwd: both sides io-forward the frames back to where
                         they came from, seeded with --inflight frames per
                         queue (testpmd's io mode with tx_first); tx: the
                         virtio side transmits, the backend drains (txonly /
                         rxonly); rx: the backend transmits, the virtio side
                         drains (default fwd)
  --duration SECONDS     how long to measure (default 10; 0 = until Ctrl-C)
  --warmup SECONDS       run this long before counting (default 1)
  --dma auto|on|off      our backend's copies (ignored with --backend dpdk):
                         auto (default): through a hardware dmadev if EAL
                         found one (name it with EAL options after --,
                         e.g. -a <PCI address>), else by the CPU; on: through
                         that hardware dmadev, else DPDK's software
                         dma_skeleton (to see the asynchronous path; on this
                         kind of machine it costs more than it saves, the
                         demo says why); off: by the CPU
  --dma-threshold BYTES  copies of at least this size go to DMA, smaller ones
                         stay on the CPU; 0 sends all to DMA (default: the
                         backend's, 1024)
  --mrg on|off           mergeable Rx buffers (default on)
  --in-order on|off      ask for VIRTIO_F_IN_ORDER (default off)
  --inflight N           frames seeded per queue in fwd mode (default 128)
  --cores A,B            CPUs for the virtio side and the vhost side
                         (default 0,1)
  --lockstep ROUNDS      no workers and no clock: one thread runs ROUNDS of
                         (virtio Tx burst, backend Rx + Tx burst, virtio Rx
                         burst) and prints the frames moved; for counting
                         instructions per frame under valgrind, where the
                         count does not drift with machine load
  --csv                  at the end, one CSV line (header on stderr) instead
                         of the table
  --quiet                no live lines
  --xstats               at the end, every non-zero extended statistic of
                         both ports (kicks, errors, per-queue counters)
  --verbose              DPDK's start-up messages and INFO logs too (by
                         default only warnings, and no telemetry socket)
  --help                 this text

Columns: "virtio->vhost" is what the backend port received, "vhost->virtio"
what the frontend port received, from the ports' own counters; Gbit/s counts
frame bytes (no preamble or gap); drops are frames a full Tx ring refused;
DMA is the share of copied bytes the backend sent to the DMA engine.
)");
}

// Every non-zero extended statistic of a port, one per line.
void print_xstats(uint16_t port, const char* name) {
  const int n = rte_eth_xstats_get_names(port, nullptr, 0);
  if (n <= 0) return;
  std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
  std::vector<rte_eth_xstat> vals(static_cast<size_t>(n));
  if (rte_eth_xstats_get_names(port, names.data(), static_cast<unsigned>(n)) != n ||
      rte_eth_xstats_get(port, vals.data(), static_cast<unsigned>(n)) != n)
    return;
  std::printf("\nxstats of %s (non-zero)\n", name);
  for (int i = 0; i < n; ++i)
    if (vals[static_cast<size_t>(i)].value)
      std::printf("  %-40s %20lu\n", names[vals[static_cast<size_t>(i)].id].name,
                  static_cast<unsigned long>(vals[static_cast<size_t>(i)].value));
}

bool on_off(const char* v, bool* out) {
  if (!std::strcmp(v, "on") || !std::strcmp(v, "1")) return *out = true, true;
  if (!std::strcmp(v, "off") || !std::strcmp(v, "0")) return *out = false, true;
  return false;
}

bool parse_u32(const char* v, uint32_t lo, uint32_t hi, uint32_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long x = std::strtoul(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return false;
  *out = static_cast<uint32_t>(x);
  return true;
}

int parse(int argc, char** argv, Options* o) {
  enum {
    kFrontend = 1,
    kBackend,
    kRing,
    kSize,
    kQueues,
    kRingSize,
    kMode,
    kDuration,
    kWarmup,
    kDma,
    kDmaThr,
    kMrg,
    kInOrder,
    kInflight,
    kCores,
    kCsv,
    kQuiet,
    kHelp,
    kLockstep,
    kXstats,
    kVerbose
  };
  static const option longopts[] = {{"frontend", required_argument, nullptr, kFrontend},
                                    {"backend", required_argument, nullptr, kBackend},
                                    {"ring", required_argument, nullptr, kRing},
                                    {"size", required_argument, nullptr, kSize},
                                    {"queues", required_argument, nullptr, kQueues},
                                    {"ring-size", required_argument, nullptr, kRingSize},
                                    {"mode", required_argument, nullptr, kMode},
                                    {"duration", required_argument, nullptr, kDuration},
                                    {"warmup", required_argument, nullptr, kWarmup},
                                    {"dma", required_argument, nullptr, kDma},
                                    {"dma-threshold", required_argument, nullptr, kDmaThr},
                                    {"mrg", required_argument, nullptr, kMrg},
                                    {"in-order", required_argument, nullptr, kInOrder},
                                    {"inflight", required_argument, nullptr, kInflight},
                                    {"cores", required_argument, nullptr, kCores},
                                    {"csv", no_argument, nullptr, kCsv},
                                    {"quiet", no_argument, nullptr, kQuiet},
                                    {"help", no_argument, nullptr, kHelp},
                                    {"lockstep", required_argument, nullptr, kLockstep},
                                    {"xstats", no_argument, nullptr, kXstats},
                                    {"verbose", no_argument, nullptr, kVerbose},
                                    {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
    bool ok = true;
    const char* v = optarg;
    switch (c) {
      case kFrontend:
      case kBackend: {
        bool* side = c == kFrontend ? &o->fe_ours : &o->be_ours;
        ok = !std::strcmp(v, "ours") || !std::strcmp(v, "dpdk");
        *side = !std::strcmp(v, "ours");
        break;
      }
      case kRing:
        ok = !std::strcmp(v, "split") || !std::strcmp(v, "packed");
        o->packed = !std::strcmp(v, "packed");
        break;
      case kSize:
        ok = parse_u32(v, 60, 9000, &o->size);
        break;
      case kQueues:
        ok = parse_u32(v, 1, 8, &o->queues);
        break;
      case kRingSize:
        ok = parse_u32(v, 64, 32768, &o->ring);
        break;
      case kMode:
        if (!std::strcmp(v, "fwd"))
          o->mode = Mode::Fwd;
        else if (!std::strcmp(v, "tx"))
          o->mode = Mode::Tx;
        else if (!std::strcmp(v, "rx"))
          o->mode = Mode::Rx;
        else
          ok = false;
        break;
      case kDuration:
      case kWarmup: {
        char* end = nullptr;
        const double d = std::strtod(v, &end);
        ok = end != v && !*end && d >= 0 && d < 1e6;
        (c == kDuration ? o->duration : o->warmup) = d;
        break;
      }
      case kDma: {
        bool on = false;
        ok = !std::strcmp(v, "auto") || on_off(v, &on);
        o->dma = !std::strcmp(v, "auto") ? Dma::Auto : on ? Dma::On : Dma::Off;
        break;
      }
      case kDmaThr: {
        uint32_t t = 0;
        ok = parse_u32(v, 0, 65536, &t);
        o->dma_threshold = t;
        break;
      }
      case kMrg:
        ok = on_off(v, &o->mrg);
        break;
      case kInOrder:
        ok = on_off(v, &o->in_order);
        break;
      case kInflight:
        ok = parse_u32(v, 1, 32768, &o->inflight);
        break;
      case kCores:
        ok = std::sscanf(v, "%d,%d", &o->cpu_fe, &o->cpu_be) == 2 && o->cpu_fe >= 0 && o->cpu_be >= 0;
        break;
      case kLockstep:
        ok = parse_u32(v, 1, 100000000, &o->lockstep);
        break;
      case kCsv:
        o->csv = true;
        break;
      case kQuiet:
        o->quiet = true;
        break;
      case kXstats:
        o->xstats = true;
        break;
      case kVerbose:
        o->verbose = true;
        break;
      case 'h':
      case kHelp:
        usage(stdout);
        std::exit(0);
      default:
        return -EINVAL;
    }
    if (!ok) {
      std::fprintf(stderr, "vnet-loopback: bad value '%s' for --%s (see --help)\n", v, longopts[c - 1].name);
      return -EINVAL;
    }
  }
  for (int i = optind; i < argc; ++i) o->eal_extra.emplace_back(argv[i]);
  if (o->size > 1518 && !o->mrg) {
    std::fprintf(stderr, "vnet-loopback: --size %u needs --mrg on (frames span several receive buffers)\n", o->size);
    return -EINVAL;
  }
  if (!o->be_ours) o->dma = Dma::Off;
  return 0;
}

// One side's worker: its port, its queues, what it does, what it counted.
struct alignas(64) Side {
  uint16_t port = 0;
  uint16_t queues = 1;
  Role role = Role::Fwd;
  rte_mempool* mp = nullptr;
  uint32_t size = 64, burst = 32;
  uint32_t seed = 0;                   // frames per queue to inject first (fwd on the virtio side)
  uint64_t drops = 0, alloc_fail = 0;  // written by the worker only
};

std::atomic<bool> g_stop{false};
std::atomic<bool> g_sigint{false};

void on_signal(int) { g_sigint.store(true, std::memory_order_relaxed); }

void bump(uint64_t& counter, uint64_t n) {
  std::atomic_ref<uint64_t>(counter).store(counter + n, std::memory_order_relaxed);
}
uint64_t peek(uint64_t& counter) { return std::atomic_ref<uint64_t>(counter).load(std::memory_order_relaxed); }

// An Ethernet + IPv4 + UDP header; the rest of the frame is whatever the
// mbuf held (as testpmd's txonly does: only the header is written).
void write_header(uint8_t* p, uint32_t frame_len) {
  static const uint8_t kHdr[42] = {0x02, 0,    0,    0,    0, 0x02, 0x02, 0, 0,  0,  0, 0x01, 0x08, 0x00,  // Ethernet
                                   0x45, 0,    0,    0,    0, 0,    0,    0, 64, 17, 0, 0,    198,  18,
                                   0,    1,    198,  18,   0, 2,               // IPv4
                                   0x04, 0xd2, 0x16, 0x2e, 0, 0,    0,    0};  // UDP
  std::memcpy(p, kHdr, sizeof kHdr);
  const uint16_t ip_len = static_cast<uint16_t>(frame_len - 14), udp_len = static_cast<uint16_t>(frame_len - 34);
  p[16] = static_cast<uint8_t>(ip_len >> 8), p[17] = static_cast<uint8_t>(ip_len);
  p[38] = static_cast<uint8_t>(udp_len >> 8), p[39] = static_cast<uint8_t>(udp_len);
}

// Allocate `n` frames of `len` bytes (chained when one mbuf is too small).
// Returns how many were built.
uint16_t build_frames(rte_mempool* mp, rte_mbuf** pkts, uint16_t n, uint32_t len) {
  const uint32_t room = rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;
  if (rte_pktmbuf_alloc_bulk(mp, pkts, n) != 0) return 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (len <= room) {
      m->data_len = static_cast<uint16_t>(len);
      m->pkt_len = len;
    } else {
      uint32_t left = len;
      rte_mbuf* tail = m;
      m->data_len = static_cast<uint16_t>(room);
      left -= room;
      while (left) {
        rte_mbuf* s = rte_pktmbuf_alloc(mp);
        if (!s) {
          rte_pktmbuf_free_bulk(pkts + i, n - i);
          return i;
        }
        s->data_len = static_cast<uint16_t>(left < room ? left : room);
        left -= s->data_len;
        tail->next = s;
        tail = s;
        ++m->nb_segs;
      }
      m->pkt_len = len;
    }
    write_header(rte_pktmbuf_mtod(m, uint8_t*), len);
  }
  return n;
}

template <Role R>
int worker(void* arg) {
  Side& s = *static_cast<Side*>(arg);
  rte_mbuf* pkts[64];
  if constexpr (R == Role::Fwd) {
    for (uint16_t q = 0; q < s.queues; ++q)
      for (uint32_t left = s.seed; left && !g_stop.load(std::memory_order_relaxed);) {
        const uint16_t want = static_cast<uint16_t>(left < s.burst ? left : s.burst);
        const uint16_t n = build_frames(s.mp, pkts, want, s.size);
        const uint16_t k = rte_eth_tx_burst(s.port, q, pkts, n);
        if (k < n) rte_pktmbuf_free_bulk(pkts + k, n - k);
        left -= k;
        if (k == 0) rte_pause();
      }
  }
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (uint16_t q = 0; q < s.queues; ++q) {
      if constexpr (R == Role::Gen) {
        const uint16_t n = build_frames(s.mp, pkts, static_cast<uint16_t>(s.burst), s.size);
        if (n == 0) {
          bump(s.alloc_fail, 1);
          continue;
        }
        const uint16_t k = rte_eth_tx_burst(s.port, q, pkts, n);
        if (k < n) {
          rte_pktmbuf_free_bulk(pkts + k, n - k);
          bump(s.drops, n - k);
        }
      } else {
        const uint16_t n = rte_eth_rx_burst(s.port, q, pkts, static_cast<uint16_t>(s.burst));
        if (n == 0) continue;
        if constexpr (R == Role::Sink) {
          rte_pktmbuf_free_bulk(pkts, n);
        } else {
          const uint16_t k = rte_eth_tx_burst(s.port, q, pkts, n);
          if (k < n) {
            rte_pktmbuf_free_bulk(pkts + k, n - k);
            bump(s.drops, n - k);
          }
        }
      }
    }
  }
  return 0;
}

lcore_function_t* worker_for(Role r) {
  switch (r) {
    case Role::Gen:
      return worker<Role::Gen>;
    case Role::Sink:
      return worker<Role::Sink>;
    default:
      return worker<Role::Fwd>;
  }
}

int setup_port(uint16_t port, rte_mempool* mp, const Options& o) {
  rte_eth_conf conf{};
  if (o.size > 1518) {
    conf.rxmode.mtu = 9000;
    conf.rxmode.offloads = RTE_ETH_RX_OFFLOAD_SCATTER;
    conf.txmode.offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  }
  int rc = rte_eth_dev_configure(port, static_cast<uint16_t>(o.queues), static_cast<uint16_t>(o.queues), &conf);
  for (uint16_t q = 0; rc == 0 && q < o.queues; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, static_cast<uint16_t>(o.ring), SOCKET_ID_ANY, nullptr, mp);
    if (rc == 0) rc = rte_eth_tx_queue_setup(port, q, static_cast<uint16_t>(o.ring), SOCKET_ID_ANY, nullptr);
  }
  if (rc == 0) rc = rte_eth_dev_start(port);
  return rc;
}

// Sum of the xstats whose names end with `suffix` (0 when there are none).
uint64_t xstat_sum(uint16_t port, const char* suffix, bool* found) {
  const int n = rte_eth_xstats_get_names(port, nullptr, 0);
  if (n <= 0) return 0;
  std::vector<rte_eth_xstat_name> names(n);
  std::vector<rte_eth_xstat> vals(n);
  if (rte_eth_xstats_get_names(port, names.data(), n) != n || rte_eth_xstats_get(port, vals.data(), n) != n) return 0;
  const size_t sl = std::strlen(suffix);
  uint64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    const size_t l = std::strlen(names[vals[i].id].name);
    if (l >= sl && !std::strcmp(names[vals[i].id].name + l - sl, suffix)) {
      sum += vals[i].value;
      *found = true;
    }
  }
  return sum;
}

struct Snapshot {
  uint64_t tsc = 0;
  uint64_t v2h_pkts = 0, v2h_bytes = 0, h2v_pkts = 0, h2v_bytes = 0, drops = 0;
  uint64_t dma_bytes = 0, cpu_bytes = 0;
  bool have_dma = false;
};

Snapshot snap(uint16_t fe, uint16_t be, Side* sides) {
  Snapshot s;
  rte_eth_stats f{}, b{};
  rte_eth_stats_get(fe, &f);
  rte_eth_stats_get(be, &b);
  s.tsc = rte_get_tsc_cycles();
  s.v2h_pkts = b.ipackets, s.v2h_bytes = b.ibytes;
  s.h2v_pkts = f.ipackets, s.h2v_bytes = f.ibytes;
  s.drops = peek(sides[0].drops) + peek(sides[1].drops);
  s.dma_bytes = xstat_sum(be, "dma_bytes", &s.have_dma);
  s.cpu_bytes = xstat_sum(be, "cpu_bytes", &s.have_dma);
  return s;
}

struct Rates {
  double secs, v2h_mpps, v2h_gbps, h2v_mpps, h2v_gbps, dma_share;
  uint64_t v2h, h2v, drops;
  bool have_dma;
};

Rates rates(const Snapshot& a, const Snapshot& b) {
  Rates r{};
  r.secs = static_cast<double>(b.tsc - a.tsc) / static_cast<double>(rte_get_tsc_hz());
  if (r.secs <= 0) r.secs = 1e-9;
  r.v2h = b.v2h_pkts - a.v2h_pkts, r.h2v = b.h2v_pkts - a.h2v_pkts, r.drops = b.drops - a.drops;
  r.v2h_mpps = static_cast<double>(r.v2h) / r.secs / 1e6;
  r.h2v_mpps = static_cast<double>(r.h2v) / r.secs / 1e6;
  r.v2h_gbps = static_cast<double>(b.v2h_bytes - a.v2h_bytes) * 8 / r.secs / 1e9;
  r.h2v_gbps = static_cast<double>(b.h2v_bytes - a.h2v_bytes) * 8 / r.secs / 1e9;
  const uint64_t dma = b.dma_bytes - a.dma_bytes, cpu = b.cpu_bytes - a.cpu_bytes;
  r.have_dma = b.have_dma;
  r.dma_share = dma + cpu ? 100.0 * static_cast<double>(dma) / static_cast<double>(dma + cpu) : 0;
  return r;
}

// One lockstep round: the virtio side transmits a burst, the backend
// forwards what it received back, the virtio side receives. Out of line and
// not inlined so that valgrind can collect inside it alone
// (--toggle-collect=*lockstep_round*).
[[gnu::noinline]] void lockstep_round(Side* sides, uint64_t* sent, uint64_t* received) {
  rte_mbuf* pkts[64];
  Side& v = sides[0];
  Side& h = sides[1];
  for (uint16_t q = 0; q < v.queues; ++q) {
    const uint16_t n = build_frames(v.mp, pkts, static_cast<uint16_t>(v.burst), v.size);
    const uint16_t k = rte_eth_tx_burst(v.port, q, pkts, n);
    if (k < n) rte_pktmbuf_free_bulk(pkts + k, n - k);
    *sent += k;
    const uint16_t r = rte_eth_rx_burst(h.port, q, pkts, static_cast<uint16_t>(h.burst));
    const uint16_t f = rte_eth_tx_burst(h.port, q, pkts, r);
    if (f < r) rte_pktmbuf_free_bulk(pkts + f, r - f);
    const uint16_t m = rte_eth_rx_burst(v.port, q, pkts, static_cast<uint16_t>(v.burst));
    rte_pktmbuf_free_bulk(pkts, m);
    *received += m;
  }
}

const char* mode_name(Mode m) { return m == Mode::Fwd ? "fwd" : m == Mode::Tx ? "tx" : "rx"; }

// The first dmadev EAL found that is a hardware engine our backend can use
// (memory to memory, process virtual addresses): not a virtual device, as
// DPDK's software dma_skeleton is. Its name, or empty.
std::string hardware_dmadev() {
  for (int16_t d = rte_dma_next_dev(0); d != -1; d = rte_dma_next_dev(static_cast<int16_t>(d + 1))) {
    rte_dma_info info{};
    if (rte_dma_info_get(d, &info) != 0) continue;
    const uint64_t need = RTE_DMA_CAPA_MEM_TO_MEM | RTE_DMA_CAPA_SVA | RTE_DMA_CAPA_OPS_COPY;
    if ((info.dev_capa & need) != need) continue;
    bool vdev = false;
    rte_dev_iterator it;
    rte_device* dev;
    RTE_DEV_FOREACH(dev, "bus=vdev", &it) vdev |= !std::strcmp(rte_dev_name(dev), info.dev_name);
    if (!vdev) return info.dev_name;
  }
  return {};
}

// Does an EAL option given after -- name PCI devices (then the PCI bus is
// scanned: a hardware dmadev may be there)?
bool names_pci(const std::vector<std::string>& eal) {
  for (const std::string& a : eal)
    if (a == "-a" || a == "-b" || a.rfind("--allow", 0) == 0 || a.rfind("--block", 0) == 0 ||
        (a.size() > 2 && (a.rfind("-a", 0) == 0 || a.rfind("-b", 0) == 0) && a[2] != '-'))
      return true;
  return false;
}

std::string private_dir() {
  for (const char* base : {"/run", "/var/tmp", "/tmp"}) {
    std::string t = std::string(base) + "/vnet-loopback-XXXXXX";
    if (::mkdtemp(t.data())) return t;
  }
  return {};
}

int run(const Options& o, const char* argv0) {
  const std::string dir = private_dir();
  if (dir.empty()) {
    std::fprintf(stderr, "vnet-loopback: cannot create a directory for the socket: %s\n", std::strerror(errno));
    return 1;
  }
  const std::string sock = dir + "/vhost.sock";
  const std::string lcores =
      "0@" + std::to_string(o.cpu_fe) + ",1@" + std::to_string(o.cpu_fe) + ",2@" + std::to_string(o.cpu_be);
  std::vector<std::string> eal = {argv0,
                                  "--no-huge",
                                  "-m",
                                  "1024",
                                  "--lcores",
                                  lcores,
                                  "--file-prefix=vnet-loopback-" + std::to_string(::getpid())};
  if (!names_pci(o.eal_extra)) eal.emplace_back("--no-pci");
  // Quiet by default: no telemetry socket (and none of its start-up
  // notices), warnings and errors only. EAL options after -- still win.
  if (!o.verbose) eal.insert(eal.end(), {"--no-telemetry", "--log-level=warning"});
  eal.insert(eal.end(), o.eal_extra.begin(), o.eal_extra.end());
  std::vector<char*> eargv;
  for (auto& a : eal) eargv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eargv.size()), eargv.data()) < 0) {
    std::fprintf(stderr, "vnet-loopback: EAL init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  int rc = 1;
  // Which dmadev the backend's copies go through, if any: a hardware engine
  // when EAL found one (auto, on), else DPDK's software one (on only).
  std::string dmadev;
  bool soft_dma = false;
  if (o.dma != Dma::Off) dmadev = hardware_dmadev();
  if (o.dma == Dma::On && dmadev.empty()) {
    // (EAL options after -- may have made it already.)
    if (rte_dma_get_dev_id_by_name("dma_skeleton0") < 0 && rte_vdev_init("dma_skeleton0", nullptr) != 0) {
      std::fprintf(stderr, "vnet-loopback: --dma on: no hardware dmadev, and dma_skeleton0 did not probe\n");
      rte_eal_cleanup();
      return 1;
    }
    dmadev = "dma_skeleton0";
    soft_dma = true;
  }
  const bool use_dma = !dmadev.empty();
  const std::string qs = std::to_string(o.queues);
  const char* be_name = o.be_ours ? "net_vnet_vhost0" : "net_vhost0";
  const char* fe_name = o.fe_ours ? "net_vnet_user0" : "net_virtio_user0";
  std::string be_args = "iface=" + sock + ",queues=" + qs;
  if (use_dma) {
    std::string map;
    for (uint32_t q = 0; q < o.queues; ++q)
      map += (q ? ";" : "") + std::string("txq") + std::to_string(q) + "@" + dmadev + "-0;rxq" + std::to_string(q) +
             "@" + dmadev + "-0";
    be_args += ",dmas=[" + map + "]";
    if (o.dma_threshold >= 0) be_args += ",dma_threshold=" + std::to_string(o.dma_threshold);
  }
  const std::string fe_args = "path=" + sock + ",queues=" + qs + ",queue_size=" + std::to_string(o.ring) +
                              ",packed_vq=" + (o.packed ? "1" : "0") + ",mrg_rxbuf=" + (o.mrg ? "1" : "0") +
                              ",in_order=" + (o.in_order ? "1" : "0");
  uint16_t be = 0, fe = 0;
  rte_mempool *mp_fe = nullptr, *mp_be = nullptr;
  bool be_up = false, fe_up = false;
  Side sides[2];  // [0] the virtio side, [1] the vhost side
  Snapshot start{}, last{}, now{};
  bool measuring = false;
  const uint32_t per_seg = RTE_MBUF_DEFAULT_DATAROOM;
  const uint32_t segs = (o.size + per_seg - 1) / per_seg;
  const uint32_t pool = std::max<uint32_t>(16383, o.queues * (2 * o.ring + 4 * o.inflight + 1024) * segs);

  // The backend first, started, so its socket listens (DPDK's net_vhost only
  // creates it at configure); then the frontend, which connects at probe.
  mp_be = rte_pktmbuf_pool_create("lb_be", pool, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  mp_fe = rte_pktmbuf_pool_create("lb_fe", pool, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (!mp_be || !mp_fe) {
    std::fprintf(stderr, "vnet-loopback: mbuf pools of %u: %s\n", pool, rte_strerror(rte_errno));
    goto out;
  }
  if (rte_vdev_init(be_name, be_args.c_str()) != 0 || rte_eth_dev_get_port_by_name(be_name, &be) != 0) {
    std::fprintf(stderr, "vnet-loopback: backend %s,%s did not probe (see the log above)\n", be_name, be_args.c_str());
    goto out;
  }
  if (setup_port(be, mp_be, o) != 0) {
    std::fprintf(stderr, "vnet-loopback: setting up %s failed\n", be_name);
    goto out;
  }
  be_up = true;
  if (rte_vdev_init(fe_name, fe_args.c_str()) != 0 || rte_eth_dev_get_port_by_name(fe_name, &fe) != 0) {
    std::fprintf(stderr, "vnet-loopback: frontend %s,%s did not probe (see the log above)\n", fe_name, fe_args.c_str());
    goto out;
  }
  if (setup_port(fe, mp_fe, o) != 0) {
    std::fprintf(stderr, "vnet-loopback: setting up %s failed\n", fe_name);
    goto out;
  }
  fe_up = true;
  {
    rte_eth_link link{};
    for (int i = 0; i < 300 && link.link_status != RTE_ETH_LINK_UP; ++i) {
      rte_eth_link_get_nowait(be, &link);
      if (link.link_status != RTE_ETH_LINK_UP) rte_delay_ms(10);
    }
    if (link.link_status != RTE_ETH_LINK_UP) {
      std::fprintf(stderr, "vnet-loopback: the backend's link did not come up within 3 s\n");
      goto out;
    }
  }

  sides[0].port = fe, sides[1].port = be;
  sides[0].mp = mp_fe, sides[1].mp = mp_be;
  for (Side& s : sides) s.queues = static_cast<uint16_t>(o.queues), s.size = o.size, s.burst = o.burst;
  sides[0].role = o.mode == Mode::Tx ? Role::Gen : o.mode == Mode::Rx ? Role::Sink : Role::Fwd;
  sides[1].role = o.mode == Mode::Tx ? Role::Sink : o.mode == Mode::Rx ? Role::Gen : Role::Fwd;
  if (o.mode == Mode::Fwd) sides[0].seed = o.inflight;

  if (!o.csv) {
    std::string copies;
    if (!o.be_ours)
      copies = "";
    else if (!use_dma)
      copies = o.dma == Dma::Auto ? ", CPU copies (no hardware dmadev)" : ", CPU copies";
    else
      copies = ", DMA copies via " + dmadev +
               (o.dma_threshold < 0 ? std::string(" (default threshold)")
                                    : " from " + std::to_string(o.dma_threshold) + " B");
    std::printf("vnet-loopback: %s %s <-> %s %s, %s ring of %u, %u B frames, %u queue pair(s), mode %s%s\n",
                o.fe_ours ? "ours" : "DPDK", fe_name, o.be_ours ? "ours" : "DPDK", be_name,
                o.packed ? "packed" : "split", o.ring, o.size, o.queues, mode_name(o.mode), copies.c_str());
    if (soft_dma)
      std::printf(
          "note: dma_skeleton0 is DPDK's software dmadev. Its own thread polls for copies and makes them,\n"
          "      sharing this machine's %ld CPU(s) with the two forwarding cores even when no copy reaches the\n"
          "      threshold, and every copy costs the backend core a trip through its rings. Here that is slower\n"
          "      than --dma off. A hardware engine makes the copies off the cores; what the backend spends to\n"
          "      hand one over is measured by benchmarks/dma_cost.py (README, DMA section).\n",
          ::sysconf(_SC_NPROCESSORS_ONLN));
  }
  if (o.lockstep) {
    uint64_t sent = 0, received = 0;
    for (uint32_t i = 0; i < o.lockstep; ++i) lockstep_round(sides, &sent, &received);
    std::printf("lockstep: %u rounds, virtio sent %lu frames, received %lu\n", o.lockstep, sent, received);
    // Where each burst function lives, so that an instruction profile of a
    // stripped library can be attributed: object and offset from its base.
    const struct {
      const char* what;
      uint16_t port;
      bool rx;
    } fns[] = {{"virtio_tx", fe, false}, {"virtio_rx", fe, true}, {"vhost_tx", be, false}, {"vhost_rx", be, true}};
    for (const auto& f : fns) {
      const struct rte_eth_fp_ops& ops = ::rte_eth_fp_ops[f.port];
      void* fn = f.rx ? reinterpret_cast<void*>(ops.rx_pkt_burst) : reinterpret_cast<void*>(ops.tx_pkt_burst);
      Dl_info info{};
      if (::dladdr(fn, &info) && info.dli_fname)
        std::printf(
            "burst %s %s 0x%lx\n", f.what, info.dli_fname,
            static_cast<unsigned long>(reinterpret_cast<uintptr_t>(fn) - reinterpret_cast<uintptr_t>(info.dli_fbase)));
    }
    rc = sent && received ? 0 : 1;
    goto out;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  rte_eal_remote_launch(worker_for(sides[0].role), &sides[0], 1);
  rte_eal_remote_launch(worker_for(sides[1].role), &sides[1], 2);
  {
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t t0 = rte_get_tsc_cycles();
    const uint64_t t_measure = t0 + static_cast<uint64_t>(o.warmup * static_cast<double>(hz));
    const uint64_t t_end =
        o.duration > 0 ? t_measure + static_cast<uint64_t>(o.duration * static_cast<double>(hz)) : UINT64_MAX;
    while (!g_sigint.load(std::memory_order_relaxed)) {
      ::usleep(20000);
      const uint64_t t = rte_get_tsc_cycles();
      if (!measuring && t >= t_measure) {
        start = last = snap(fe, be, sides);
        measuring = true;
        if (!o.quiet && !o.csv)
          std::printf("%5s  %-22s  %-22s  %9s  %5s\n", "time", "virtio->vhost", "vhost->virtio", "drops/s", "DMA");
      }
      if (measuring && t > last.tsc && (t - last.tsc >= hz || t >= t_end)) {
        now = snap(fe, be, sides);
        Rates r = rates(last, now);
        r.have_dma &= use_dma;  // the backend counts DMA bytes (0) with CPU copies too
        if (!o.quiet && !o.csv) {
          char dma[16] = "-";
          if (r.have_dma) std::snprintf(dma, sizeof dma, "%.0f%%", r.dma_share);
          std::printf("%4.0fs  %6.2f Mpps %6.2f Gb/s  %6.2f Mpps %6.2f Gb/s  %9.0f  %5s\n",
                      static_cast<double>(now.tsc - start.tsc) / static_cast<double>(hz), r.v2h_mpps, r.v2h_gbps,
                      r.h2v_mpps, r.h2v_gbps, static_cast<double>(r.drops) / r.secs, dma);
          std::fflush(stdout);
        }
        last = now;
      }
      if (t >= t_end) break;
    }
  }
  g_stop.store(true, std::memory_order_relaxed);
  rte_eal_mp_wait_lcore();
  if (measuring) {
    now = snap(fe, be, sides);
    Rates r = rates(start, now);
    r.have_dma &= use_dma;
    char dma[16] = "-";
    if (r.have_dma) std::snprintf(dma, sizeof dma, "%.1f%%", r.dma_share);
    if (o.csv) {
      std::fprintf(stderr,
                   "frontend,backend,ring,size,mode,queues,ring_size,dma,seconds,v2h_mpps,v2h_gbps,h2v_mpps,h2v_gbps,"
                   "drops,dma_share\n");
      std::printf("%s,%s,%s,%u,%s,%u,%u,%s,%.3f,%.4f,%.4f,%.4f,%.4f,%lu,%s\n", o.fe_ours ? "ours" : "dpdk",
                  o.be_ours ? "ours" : "dpdk", o.packed ? "packed" : "split", o.size, mode_name(o.mode), o.queues,
                  o.ring, use_dma ? "on" : "off", r.secs, r.v2h_mpps, r.v2h_gbps, r.h2v_mpps, r.h2v_gbps, r.drops,
                  r.have_dma ? dma : "");
    } else {
      std::printf("\nsummary over %.1f s (after %.1f s warm-up)\n", r.secs, o.warmup);
      std::printf("  %-22s %16s %16s\n", "", "virtio->vhost", "vhost->virtio");
      std::printf("  %-22s %16lu %16lu\n", "frames", r.v2h, r.h2v);
      std::printf("  %-22s %16.3f %16.3f\n", "Mpps", r.v2h_mpps, r.h2v_mpps);
      std::printf("  %-22s %16.3f %16.3f\n", "Gbit/s (frame bytes)", r.v2h_gbps, r.h2v_gbps);
      std::printf("  %-22s %16lu %16lu\n", "drops (Tx ring full)", peek(sides[0].drops), peek(sides[1].drops));
      std::printf("  %-22s %16s\n", "DMA share of bytes", dma);
    }
    if (o.xstats) {
      print_xstats(fe, fe_name);
      print_xstats(be, be_name);
    }
    rc = 0;
  } else {
    std::fprintf(stderr, "vnet-loopback: stopped before the warm-up ended; nothing measured\n");
  }

out:
  // The frontend first: it talks to the backend while it stops.
  if (fe_up) rte_eth_dev_stop(fe);
  if (rte_eth_dev_get_port_by_name(fe_name, &fe) == 0) {
    rte_eth_dev_close(fe);
    rte_vdev_uninit(fe_name);
  }
  if (be_up) rte_eth_dev_stop(be);
  if (rte_eth_dev_get_port_by_name(be_name, &be) == 0) {
    rte_eth_dev_close(be);
    rte_vdev_uninit(be_name);
  }
  for (rte_mempool* mp : {mp_fe, mp_be}) {
    if (!mp) continue;
    const unsigned avail = rte_mempool_avail_count(mp);
    if (avail != mp->size) {
      std::fprintf(stderr, "vnet-loopback: pool %s: %u of %u mbufs came back (leak)\n", mp->name, avail, mp->size);
      rc = 1;
    }
    rte_mempool_free(mp);
  }
  rte_eal_cleanup();
  ::unlink(sock.c_str());
  ::rmdir(dir.c_str());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (parse(argc, argv, &o) != 0) return 2;
  return run(o, argv[0]);
}
