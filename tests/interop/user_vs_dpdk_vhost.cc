// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Interop: our net_vnet_user against DPDK's own net_vhost (Debian's plugin),
// which runs in a stock dpdk-testpmd that io-forwards every frame back. Each
// frame is sequence-numbered and checksummed; the run passes only when every
// frame sent comes back intact exactly once, at every size asked for, on
// every queue pair (testpmd io-forwards queue i back to queue i). With more
// than one queue pair the control virtqueue is on: its filter ops must work.
// usage: vnet-interop-user <testpmd> packed=0|1 mrg=0|1 sizes=64,1518 [queues=N] [count=N]
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <rte_ip.h>
#include <rte_tcp.h>

#include "traffic.h"

namespace {

// ---- offloads: TCP/IPv4 frames whose checksum the peer finishes ----------
constexpr uint16_t kVlan = 100;

std::vector<uint8_t> tcp_frame(uint64_t seq, uint32_t len) {
  std::vector<uint8_t> b(len);
  auto* eh = reinterpret_cast<rte_ether_hdr*>(b.data());
  std::memset(eh->dst_addr.addr_bytes, 0xff, 6);
  for (int i = 0; i < 6; ++i) eh->src_addr.addr_bytes[i] = static_cast<uint8_t>(2 + i);
  eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eh + 1);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(len - sizeof *eh));
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_TCP;
  ip->src_addr = rte_cpu_to_be_32(0x0a000001);
  ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* th = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
  th->src_port = rte_cpu_to_be_16(1000);
  th->dst_port = rte_cpu_to_be_16(2000);
  th->sent_seq = rte_cpu_to_be_32(static_cast<uint32_t>(seq));
  th->data_off = 5 << 4;
  th->tcp_flags = RTE_TCP_ACK_FLAG;
  th->rx_win = rte_cpu_to_be_16(65535);
  for (size_t i = sizeof *eh + sizeof *ip + sizeof *th; i < len; ++i) b[i] = static_cast<uint8_t>(seq * 7 + i);
  return b;
}

rte_mbuf* to_mbufs(rte_mempool* mp, const std::vector<uint8_t>& b) {
  rte_mbuf* head = rte_pktmbuf_alloc(mp);
  rte_mbuf* tail = head;
  for (size_t off = 0; head && off < b.size();) {
    const size_t n = std::min<size_t>(rte_pktmbuf_tailroom(tail), b.size() - off);
    std::memcpy(rte_pktmbuf_append(head, static_cast<uint16_t>(n)), &b[off], n);
    off += n;
    if (off < b.size()) {
      rte_mbuf* s = rte_pktmbuf_alloc(mp);
      if (!s || rte_pktmbuf_chain(head, s) != 0) {
        rte_pktmbuf_free(head);
        return nullptr;
      }
      tail = s;
    }
  }
  return head;
}

// Send TCP frames asking for checksum (and TSO for the large ones) and a
// VLAN tag; receive them with the tag stripped. compliant peer (DPDK's
// default): it finishes the checksum, which must then verify. legacy peer
// (legacy-ol-flags=1): it hands the offload back, which must arrive as
// RX_L4_CKSUM_NONE (+ RX_LRO with our segment size) and the bytes unchanged.
int offload_run(uint16_t port, rte_mempool* mp, bool legacy, uint32_t count) {
  int bad = 0;
  const uint32_t sizes[] = {200, 1500, 9000};
  for (uint32_t len : sizes) {
    for (uint32_t seq = 0; seq < count; ++seq) {
      const auto want = tcp_frame(seq, len);
      rte_mbuf* m = to_mbufs(mp, want);
      if (!m) return 1;
      m->l2_len = sizeof(rte_ether_hdr);
      m->l3_len = sizeof(rte_ipv4_hdr);
      m->l4_len = sizeof(rte_tcp_hdr);
      m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_VLAN;
      m->vlan_tci = kVlan;
      const bool tso = len > 1514;
      if (tso) {
        m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
        m->tso_segsz = 1448;
      }
      if (rte_eth_tx_prepare(port, 0, &m, 1) != 1 || rte_eth_tx_burst(port, 0, &m, 1) != 1) {
        std::printf("FAIL: offload frame %u/%u not accepted\n", len, seq);
        rte_pktmbuf_free(m);
        return 1;
      }
      rte_mbuf* r = nullptr;
      for (int i = 0; i < 200000 && rte_eth_rx_burst(port, 0, &r, 1) == 0; ++i) rte_delay_us_sleep(5);
      if (!r) {
        std::printf("FAIL: offload frame %u/%u did not come back\n", len, seq);
        return 1;
      }
      std::vector<uint8_t> got(r->pkt_len);
      const auto* g = static_cast<const uint8_t*>(rte_pktmbuf_read(r, 0, r->pkt_len, got.data()));
      const uint64_t fl = r->ol_flags;
      const bool stripped = (fl & RTE_MBUF_F_RX_VLAN_STRIPPED) && r->vlan_tci == kVlan;
      const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(g + sizeof(rte_ether_hdr));
      const size_t cks = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + offsetof(rte_tcp_hdr, cksum);
      bool ok = stripped && r->pkt_len == len;
      if (ok && legacy) {
        ok = (fl & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE &&
             (!tso || ((fl & RTE_MBUF_F_RX_LRO) && r->tso_segsz == 1448));
        // the checksum field holds our pseudo-header sum; every other byte is as built
        ok =
            ok && std::memcmp(g, want.data(), cks) == 0 && std::memcmp(g + cks + 2, &want[cks + 2], len - cks - 2) == 0;
      } else if (ok) {
        // The peer summed from our partial sum: the pseudo-header (without the
        // length for TSO, as DPDK's convention and Linux's have it) plus the segment.
        std::vector<uint8_t> e(want);
        const uint16_t phdr = rte_ipv4_phdr_cksum(ip, tso ? RTE_MBUF_F_TX_TCP_SEG : 0);
        std::memcpy(&e[cks], &phdr, 2);
        const size_t l4 = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr);
        uint16_t sum = static_cast<uint16_t>(~rte_raw_cksum(&e[l4], len - l4));
        ok = std::memcmp(&g[cks], &sum, 2) == 0 && std::memcmp(g, want.data(), cks) == 0 &&
             std::memcmp(g + cks + 2, &want[cks + 2], len - cks - 2) == 0;
      }
      if (!ok && bad++ < 3)
        std::printf("FAIL: offload frame len %u seq %u: got len %u flags 0x%llx vlan %u segsz %u\n", len, seq,
                    r->pkt_len, static_cast<unsigned long long>(fl), r->vlan_tci, r->tso_segsz);
      rte_pktmbuf_free(r);
    }
    std::printf("%s offload (%s peer) size=%u: %u frames\n", bad ? "FAIL" : "ok", legacy ? "legacy" : "compliant", len,
                count);
  }
  return bad ? 1 : 0;
}

std::string arg(int argc, char** argv, const std::string& key, const std::string& def) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(key + "=", 0) == 0) return a.substr(key.size() + 1);
  }
  return def;
}

pid_t spawn(const std::vector<std::string>& av, const std::string& log) {
  std::fflush(nullptr);  // else the child's freopen writes our buffered lines a second time
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(fileno(stdout), 2);
    std::vector<char*> c;
    for (const auto& s : av) c.push_back(const_cast<char*>(s.c_str()));
    c.push_back(nullptr);
    execv(c[0], c.data());
    _exit(127);
  }
  return pid;
}

// xstats must agree with the traffic: per queue packets, size buckets that
// add up, every test frame broadcast, no ring-protocol errors; reset zeroes.
int check_xstats(uint16_t port, const std::vector<uint64_t>& sent, const std::vector<uint64_t>& recv) {
  const int n = rte_eth_xstats_get_names(port, nullptr, 0);
  if (n <= 0) return std::printf("FAIL: no xstats\n"), 1;
  std::vector<rte_eth_xstat_name> names(n);
  std::vector<rte_eth_xstat> xs(n);
  if (rte_eth_xstats_get_names(port, names.data(), n) != n || rte_eth_xstats_get(port, xs.data(), n) != n)
    return std::printf("FAIL: xstats_get\n"), 1;
  auto value = [&](const std::string& name) -> int64_t {
    for (int i = 0; i < n; ++i)
      if (name == names[i].name) return static_cast<int64_t>(xs[i].value);
    return -1;
  };
  int bad = 0;
  for (size_t q = 0; q < sent.size(); ++q)
    for (const char* dir : {"rx", "tx"}) {
      const std::string pre = std::string(dir) + "_q" + std::to_string(q) + "_";
      const int64_t want = static_cast<int64_t>(dir[0] == 'r' ? recv[q] : sent[q]);
      int64_t bins = 0;
      for (const char* b : {"undersize", "64", "65_127", "128_255", "256_511", "512_1023", "1024_1518", "1519_max"})
        bins += value(pre + "size_" + b + "_packets");
      int64_t ring = 0;
      for (int i = 0; i < n; ++i)
        if (std::string(names[i].name).rfind(pre + "ring_", 0) == 0) ring += static_cast<int64_t>(xs[i].value);
      const bool bc_ok = dir[0] == 't' || value(pre + "broadcast_packets") == want;
      if (value(pre + "packets") != want || bins != want || !bc_ok || ring != 0 || value(pre + "errors") != 0) {
        std::printf("FAIL: xstats %s: packets %ld (want %ld) size buckets %ld broadcast %ld ring errors %ld\n",
                    pre.c_str(), value(pre + "packets"), want, bins, value(pre + "broadcast_packets"), ring);
        bad = 1;
      }
    }
  rte_eth_xstats_reset(port);
  rte_eth_xstats_get(port, xs.data(), n);
  for (int i = 0; i < n; ++i)
    if (xs[i].value != 0) {
      std::printf("FAIL: xstat %s is %lu after reset\n", names[i].name, xs[i].value);
      bad = 1;
    }
  if (!bad) std::printf("ok xstats: %d counters agree with the traffic\n", n);
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <dpdk-testpmd> packed=0|1 mrg=0|1 sizes=64,1518 [count=N]\n", argv[0]);
    return 2;
  }
  const std::string testpmd = argv[1];
  const std::string packed = arg(argc, argv, "packed", "0"), mrg = arg(argc, argv, "mrg", "1");
  const uint64_t count = std::stoull(arg(argc, argv, "count", "3000"));
  uint16_t nq = static_cast<uint16_t>(std::stoul(arg(argc, argv, "queues", "1")));
  const std::string qs = std::to_string(nq);
  const std::string offload = arg(argc, argv, "offload", "none");  // none | compliant | legacy
  std::string vhost_extra;
  if (offload != "none") vhost_extra = ",tso=1";
  if (offload == "legacy") vhost_extra += ",legacy-ol-flags=1";
  std::vector<uint32_t> sizes;
  for (std::string s = arg(argc, argv, "sizes", "64,1518"); !s.empty();) {
    const size_t c = s.find(',');
    sizes.push_back(static_cast<uint32_t>(std::stoul(s.substr(0, c))));
    s = c == std::string::npos ? "" : s.substr(c + 1);
  }

  char dir[] = "/tmp/vnet-interop-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  const std::string sock = std::string(dir) + "/vhost.sock", log = std::string(dir) + "/testpmd.log";
  const std::string pid = std::to_string(getpid());
  // reconnect=client|server: the backend is killed after the first round and
  // started again; the port must see link down/up (LSC), free what its
  // rings held, and carry the second round without being restarted.
  const std::string reconnect = arg(argc, argv, "reconnect", "none");
  const bool server = reconnect == "server";
  pid_t peer = -1;
  auto start_peer = [&]() {
    if (!server) unlink(sock.c_str());  // a killed net_vhost server leaves its socket behind
    peer =
        spawn({testpmd,        "--no-huge",
               "-m",           "512",
               "--no-pci",     "--file-prefix=vh" + pid,
               "--lcores",     "0@0,1@1",
               "--vdev",       "net_vhost0,iface=" + sock + ",queues=" + qs + vhost_extra + (server ? ",client=1" : ""),
               "--",           "--forward-mode=io",
               "--rxq=" + qs,  "--txq=" + qs,
               "--auto-start", "--stats-period=1",
               "--nb-cores=1", "--rxd=1024",
               "--txd=1024",   "--total-num-mbufs=16384"},
              log);
    if (server) return true;
    struct stat st;
    for (int i = 0; i < 400 && stat(sock.c_str(), &st) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stat(sock.c_str(), &st) == 0) return true;
    std::fprintf(stderr, "FAIL: dpdk-testpmd did not create %s (see %s)\n", sock.c_str(), log.c_str());
    kill(peer, SIGKILL);
    return false;
  };
  if (!server && !start_peer()) return 1;

  const std::string vdev = "net_vnet_user0,path=" + sock + ",packed_vq=" + packed + ",mrg_rxbuf=" + mrg +
                           ",queues=" + qs + (server ? ",server=1" : "");
  std::vector<std::string> eal = {argv[0],    "--no-huge", "-m",
                                  "512",      "--no-pci",  "--file-prefix=vu" + pid,
                                  "--lcores", "0@0",       "--log-level=pmd.net.vnet*:info",
                                  "--vdev",   vdev};
  std::vector<char*> ea;
  for (auto& s : eal) ea.push_back(s.data());
  int rc = 1;
  if (rte_eal_init(static_cast<int>(ea.size()), ea.data()) < 0) {
    std::fprintf(stderr, "FAIL: EAL init\n");
    kill(peer, SIGKILL);
    return 1;
  }
  if (server && !start_peer()) return 1;
  uint16_t port;
  rte_mempool* mp = rte_pktmbuf_pool_create("mp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  rte_eth_conf conf{};
  do {
    if (rte_eth_dev_get_port_by_name("net_vnet_user0", &port) != 0) {
      std::fprintf(stderr, "FAIL: no net_vnet_user0 port (probe failed?)\n");
      break;
    }
    if (nq > 1) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_VLAN_FILTER;
    if (offload != "none") {
      conf.txmode.offloads = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO |
                             RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_LRO |
                              RTE_ETH_RX_OFFLOAD_VLAN_STRIP | RTE_ETH_RX_OFFLOAD_SCATTER;
    }
    bool setup = mp && rte_eth_dev_configure(port, nq, nq, &conf) == 0;
    for (uint16_t q = 0; setup && q < nq; ++q)
      setup = rte_eth_rx_queue_setup(port, q, 512, 0, nullptr, mp) == 0 &&
              rte_eth_tx_queue_setup(port, q, 256, 0, nullptr) == 0;
    if (!setup || rte_eth_dev_start(port) != 0) {
      std::fprintf(stderr, "FAIL: port set-up\n");
      break;
    }
    rc = 0;
    if (nq > 1) {  // the control virtqueue is on: every filter op goes through it and must be acked
      rte_ether_addr extra{{0x02, 0, 0, 0, 0, 0x42}}, mc{{0x01, 0, 0x5e, 0, 0, 1}};
      const int r[] = {rte_eth_promiscuous_enable(port),           rte_eth_promiscuous_disable(port),
                       rte_eth_allmulticast_enable(port),          rte_eth_allmulticast_disable(port),
                       rte_eth_dev_mac_addr_add(port, &extra, 0),  rte_eth_dev_mac_addr_remove(port, &extra),
                       rte_eth_dev_set_mc_addr_list(port, &mc, 1), rte_eth_dev_vlan_filter(port, 100, 1),
                       rte_eth_dev_vlan_filter(port, 100, 0),      rte_eth_dev_default_mac_addr_set(port, &extra)};
      for (size_t i = 0; i < sizeof r / sizeof r[0]; ++i)
        if (r[i] != 0) {
          std::printf("FAIL: control op %zu returned %d\n", i, r[i]);
          rc = 1;
        }
    }
    auto wait_link = [&](bool up, int ms) {
      rte_eth_link link{};
      for (int i = 0; i < ms / 50; ++i) {
        rte_eth_link_get_nowait(port, &link);
        if ((link.link_status == RTE_ETH_LINK_UP) == up) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return false;
    };
    static std::atomic<int> lsc{0};
    // The driver sets the link, then raises LSC: the event may land a moment after the link reads.
    auto lsc_after = [&](int prev) {
      for (int i = 0; i < 100 && lsc.load() == prev; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return lsc.load() != prev;
    };
    rte_eth_dev_callback_register(
        port, RTE_ETH_EVENT_INTR_LSC,
        [](uint16_t, rte_eth_event_type, void*, void*) {
          ++lsc;
          return 0;
        },
        nullptr);
    if (!wait_link(true, server ? 20000 : 5000)) {
      std::printf("FAIL: link did not come up\n");
      rc = 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let testpmd see its link come up
    if (offload != "none") {                                      // offload runs replace the plain traffic
      if (offload_run(port, mp, offload == "legacy", static_cast<uint32_t>(count)) != 0) rc = 1;
      sizes.clear();
      nq = 0;
    }
    uint64_t total_sent = 0, total_recv = 0;
    std::vector<uint64_t> q_sent(nq), q_recv(nq);
    for (int round = 0; round < (reconnect == "none" ? 1 : 2); ++round) {
      if (round == 1) {
        const int lsc0 = lsc.load();
        kill(peer, SIGKILL);
        waitpid(peer, nullptr, 0);
        if (!wait_link(false, 5000) || !lsc_after(lsc0)) {
          std::printf("FAIL: no link down / LSC after the backend died\n");
          rc = 1;
          break;
        }
        rte_mbuf* junk[4];
        const uint16_t rx_down = rte_eth_rx_burst(port, 0, junk, 4);  // paused: nothing, no crash
        if (rx_down != 0 || rte_mempool_in_use_count(mp) != 0) {
          std::printf("FAIL: link down but %u mbufs still held (rx gave %u)\n", rte_mempool_in_use_count(mp), rx_down);
          rc = 1;
        }
        const int lsc1 = lsc.load();
        if (!start_peer() || !wait_link(true, 20000) || !lsc_after(lsc1)) {
          std::printf("FAIL: the port did not come back with the backend\n");
          rc = 1;
          break;
        }
        std::printf("ok reconnect (%s mode): link down, mbufs freed, link up again\n", reconnect.c_str());
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      for (uint32_t len : sizes)
        for (uint16_t q = 0; q < nq; ++q) {
          const auto r = vnet::test::exchange(port, port, mp, count, len, 64, 30.0, q);
          total_sent += r.sent;
          total_recv += r.received;
          q_sent[q] += r.sent;
          q_recv[q] += r.received;
          std::printf("%s packed=%s mrg=%s queue=%u size=%u: sent %lu received %lu bad %lu dup %lu\n",
                      r.ok(count) ? "ok" : "FAIL", packed.c_str(), mrg.c_str(), q, len, r.sent, r.received, r.bad,
                      r.dup);
          if (!r.ok(count)) rc = 1;
        }
    }
    rte_eth_stats s{};
    rte_eth_stats_get(port, &s);
    std::printf("port stats: opackets %lu ipackets %lu oerrors %lu ierrors %lu rx_nombuf %lu\n", s.opackets, s.ipackets,
                s.oerrors, s.ierrors, s.rx_nombuf);
    if (offload != "none") total_sent = total_recv = 3 * count;  // offload_run: every frame came back
    if (s.opackets != total_sent || s.ipackets != total_recv || s.ierrors || s.oerrors) {
      std::printf("FAIL: port counters do not reconcile with the traffic\n");
      rc = 1;
    }
    for (uint16_t q = 0; q < nq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q)
      if (s.q_opackets[q] != q_sent[q] || s.q_ipackets[q] != q_recv[q]) {
        std::printf("FAIL: queue %u counters (out %lu in %lu) do not reconcile with its traffic (%lu/%lu)\n", q,
                    s.q_opackets[q], s.q_ipackets[q], q_sent[q], q_recv[q]);
        rc = 1;
      }
    if (offload == "none" && check_xstats(port, q_sent, q_recv) != 0) rc = 1;
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
  } while (false);
  kill(peer, SIGINT);
  int status = 0;
  waitpid(peer, &status, 0);
  rte_eal_cleanup();
  if (rc != 0) {
    std::fprintf(stderr, "--- testpmd log (%s) ---\n", log.c_str());
    if (FILE* f = std::fopen(log.c_str(), "r")) {
      char line[512];
      while (std::fgets(line, sizeof line, f)) std::fputs(line, stderr);
      std::fclose(f);
    }
  }
  unlink(sock.c_str());
  unlink(log.c_str());
  rmdir(dir);
  std::printf("%s\n", rc == 0 ? "PASS" : "FAIL");
  return rc;
}
