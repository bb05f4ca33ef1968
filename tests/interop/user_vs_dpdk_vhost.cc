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

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "traffic.h"

namespace {

std::string arg(int argc, char** argv, const std::string& key, const std::string& def) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(key + "=", 0) == 0) return a.substr(key.size() + 1);
  }
  return def;
}

pid_t spawn(const std::vector<std::string>& av, const std::string& log) {
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <dpdk-testpmd> packed=0|1 mrg=0|1 sizes=64,1518 [count=N]\n", argv[0]);
    return 2;
  }
  const std::string testpmd = argv[1];
  const std::string packed = arg(argc, argv, "packed", "0"), mrg = arg(argc, argv, "mrg", "1");
  const uint64_t count = std::stoull(arg(argc, argv, "count", "3000"));
  const uint16_t nq = static_cast<uint16_t>(std::stoul(arg(argc, argv, "queues", "1")));
  const std::string qs = std::to_string(nq);
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
  const pid_t peer = spawn({testpmd, "--no-huge", "-m", "512", "--no-pci", "--file-prefix=vh" + pid, "--lcores",
                            "0@0,1@1", "--vdev", "net_vhost0,iface=" + sock + ",queues=" + qs, "--", "--forward-mode=io",
                            "--rxq=" + qs, "--txq=" + qs,
                            "--auto-start", "--stats-period=1", "--nb-cores=1", "--rxd=1024", "--txd=1024",
                            "--total-num-mbufs=16384"},
                           log);
  struct stat st;
  for (int i = 0; i < 400 && stat(sock.c_str(), &st) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (stat(sock.c_str(), &st) != 0) {
    std::fprintf(stderr, "FAIL: dpdk-testpmd did not create %s (see %s)\n", sock.c_str(), log.c_str());
    kill(peer, SIGKILL);
    return 1;
  }

  const std::string vdev = "net_vnet_user0,path=" + sock + ",packed_vq=" + packed + ",mrg_rxbuf=" + mrg + ",queues=" + qs;
  std::vector<std::string> eal = {argv[0], "--no-huge", "-m", "512", "--no-pci", "--file-prefix=vu" + pid,
                                  "--lcores", "0@0", "--log-level=pmd.net.vnet*:info", "--vdev", vdev};
  std::vector<char*> ea;
  for (auto& s : eal) ea.push_back(s.data());
  int rc = 1;
  if (rte_eal_init(static_cast<int>(ea.size()), ea.data()) < 0) {
    std::fprintf(stderr, "FAIL: EAL init\n");
    kill(peer, SIGKILL);
    return 1;
  }
  uint16_t port;
  rte_mempool* mp = rte_pktmbuf_pool_create("mp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  rte_eth_conf conf{};
  do {
    if (rte_eth_dev_get_port_by_name("net_vnet_user0", &port) != 0) {
      std::fprintf(stderr, "FAIL: no net_vnet_user0 port (probe failed?)\n");
      break;
    }
    if (nq > 1) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_VLAN_FILTER;
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
      const int r[] = {rte_eth_promiscuous_enable(port), rte_eth_promiscuous_disable(port),
                       rte_eth_allmulticast_enable(port), rte_eth_allmulticast_disable(port),
                       rte_eth_dev_mac_addr_add(port, &extra, 0), rte_eth_dev_mac_addr_remove(port, &extra),
                       rte_eth_dev_set_mc_addr_list(port, &mc, 1), rte_eth_dev_vlan_filter(port, 100, 1),
                       rte_eth_dev_vlan_filter(port, 100, 0), rte_eth_dev_default_mac_addr_set(port, &extra)};
      for (size_t i = 0; i < sizeof r / sizeof r[0]; ++i)
        if (r[i] != 0) {
          std::printf("FAIL: control op %zu returned %d\n", i, r[i]);
          rc = 1;
        }
    }
    rte_eth_link link{};
    for (int i = 0; i < 100 && link.link_status != RTE_ETH_LINK_UP; ++i) {
      rte_eth_link_get_nowait(port, &link);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let testpmd see its link come up
    uint64_t total_sent = 0, total_recv = 0;
    std::vector<uint64_t> q_sent(nq), q_recv(nq);
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
    rte_eth_stats s{};
    rte_eth_stats_get(port, &s);
    std::printf("port stats: opackets %lu ipackets %lu oerrors %lu ierrors %lu rx_nombuf %lu\n", s.opackets,
                s.ipackets, s.oerrors, s.ierrors, s.rx_nombuf);
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
