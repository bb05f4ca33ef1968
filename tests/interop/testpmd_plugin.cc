// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Interop: stock dpdk-testpmd loads librte_net_vnet.so with -d and a user
// types the usual commands at net_vnet_user (cq on, 2 queue pairs) whose
// backend is DPDK's net_vhost in a second testpmd. Each command must work
// (no error text) or say clearly that it is not supported.
//
// EAL refuses a -d plugin when the file or any directory above it is
// world-writable (sticky /tmp included: eal_common_options.c verify_perms
// checks S_IWOTH on the realpath and every ancestor). Where the build tree
// fails that check (a CI clone under /tmp), the plugin is copied into a
// fresh 0700 directory under $HOME (or /root), which must pass it.
// The control queue is served in process by virtio-user; its kick path
// differs by layout (split with EVENT_IDX asks for a kick only when the
// device re-arms avail_event), so both layouts run (third argument).
// usage: vnet-interop-testpmd <dpdk-testpmd> <librte_net_vnet.so> [packed|split]
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// The same rule as EAL's verify_perms(): no S_IWOTH on the path or above.
bool eal_would_load(const std::string& file) {
  char real[PATH_MAX];
  if (!realpath(file.c_str(), real)) return false;
  std::string p = real;
  for (;;) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0 || (st.st_mode & S_IWOTH)) return false;
    if (p == "/") return true;
    std::vector<char> c(p.begin(), p.end());
    c.push_back('\0');
    p = dirname(c.data());
  }
}

std::string loadable_plugin(const std::string& so, std::string* made_dir) {
  if (eal_would_load(so)) return so;
  const char* home = std::getenv("HOME");
  for (std::string base : {std::string(home ? home : ""), std::string("/root")}) {
    if (base.empty()) continue;
    std::string tmpl = base + "/.vnet-plugin-XXXXXX";  // mkdtemp makes it 0700
    std::vector<char> t(tmpl.begin(), tmpl.end());
    t.push_back('\0');
    if (!mkdtemp(t.data())) continue;
    const std::string dst = std::string(t.data()) + "/librte_net_vnet.so";
    std::ifstream in(so, std::ios::binary);
    std::ofstream out(dst, std::ios::binary);
    out << in.rdbuf();
    out.close();
    chmod(dst.c_str(), 0644);
    *made_dir = t.data();
    if (eal_would_load(dst)) return dst;
    unlink(dst.c_str());
    rmdir(t.data());
    made_dir->clear();
  }
  return "";
}

pid_t spawn(const std::vector<std::string>& av, int in_fd, int out_fd) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    std::vector<char*> c;
    for (const auto& s : av) c.push_back(const_cast<char*>(s.c_str()));
    c.push_back(nullptr);
    execv(c[0], c.data());
    _exit(127);
  }
  return pid;
}

// testpmd's interactive prompt over a pipe.
struct Session {
  int to = -1, from = -1;
  std::string all;
  // Output until the next prompt and then 300 ms of quiet (testpmd may
  // print the prompt before the command's last lines), or timeout.
  std::string until_prompt(int timeout_ms) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{from, POLLIN, 0};
      const bool prompt = out.find("testpmd> ") != std::string::npos;
      if (poll(&p, 1, prompt ? 300 : 100) <= 0) {
        if (prompt) break;
        continue;
      }
      char buf[4096];
      const ssize_t n = read(from, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    all += out;
    return out;
  }
  std::string run(const std::string& cmd, int timeout_ms = 15000) {
    const std::string line = cmd + "\n";
    if (write(to, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return "";
    return until_prompt(timeout_ms);
  }
};

enum class Want { Ok, NotSupported };

bool has_error(const std::string& out) {
  for (const char* e :
       {"Error", "ailed", "nvalid", "Bad arguments", "bad ", "not supported", "Not supported", "Segmentation"})
    if (out.find(e) != std::string::npos) return true;
  return false;
}
// testpmd's own wording for -ENOTSUP/-EOPNOTSUPP differs per command.
bool says_not_supported(const std::string& out) {
  for (const char* e : {"not supported", "Not supported", "within Rx offloads capabilities", "return code = -95"})
    if (out.find(e) != std::string::npos) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (argc > 3 && std::string(argv[3]) != "packed" && std::string(argv[3]) != "split")) {
    std::fprintf(stderr, "usage: %s <dpdk-testpmd> <librte_net_vnet.so> [packed|split]\n", argv[0]);
    return 2;
  }
  const std::string packed_vq = argc > 3 && std::string(argv[3]) == "split" ? "0" : "1";
  const std::string testpmd = argv[1];
  signal(SIGPIPE, SIG_IGN);  // testpmd dying early must be a reported failure, not our death
  std::string made_dir;
  const std::string plugin = loadable_plugin(argv[2], &made_dir);
  if (plugin.empty()) {
    std::printf("FAIL: no place EAL would load %s from (every candidate has a world-writable ancestor)\n", argv[2]);
    return 1;
  }
  std::printf("plugin: %s%s\n", plugin.c_str(),
              made_dir.empty() ? "" : " (copied: the build tree is world-writable above)");

  char dir[] = "/tmp/vnet-testpmd-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  const std::string sock = std::string(dir) + "/vhost.sock", peer_log = std::string(dir) + "/peer.log";
  const std::string pid = std::to_string(getpid());
  const int devnull = open("/dev/null", O_RDONLY);
  const int plog = open(peer_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const pid_t peer = spawn(
      {testpmd, "--no-huge", "-m", "512", "--no-pci", "--file-prefix=tpv" + pid, "--lcores", "0@0,1@1", "--vdev",
       "net_vhost0,iface=" + sock + ",queues=2,tso=1", "--", "--forward-mode=io", "--rxq=2", "--txq=2", "--auto-start",
       "--nb-cores=1", "--total-num-mbufs=16384", "--stats-period=1"},  // without it testpmd exits at EOF on stdin
      devnull, plog);
  struct stat sock_st;
  for (int i = 0; i < 400 && stat(sock.c_str(), &sock_st) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

  // A terminal, not a pipe: testpmd's stdout is then line-buffered, so each
  // command's output arrives before the next prompt.
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return 2;
  const int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  if (slave < 0) return 2;
  const pid_t ours =
      spawn({testpmd, "--no-huge", "-m", "512", "--no-pci", "--file-prefix=tpu" + pid, "--lcores", "0@0,1@1", "-d",
             plugin, "--vdev", "net_vnet_user0,path=" + sock + ",queues=2,cq=1,packed_vq=" + packed_vq, "--", "-i",
             "--rxq=2", "--txq=2", "--nb-cores=1", "--total-num-mbufs=16384"},
            slave, slave);
  close(slave);
  Session s{master, master, {}};
  int bad = 0;
  const std::string boot = s.until_prompt(60000);
  if (boot.find("testpmd> ") == std::string::npos) {
    std::printf("FAIL: testpmd with the plugin did not come up with a net_vnet_user port\n%s\n", boot.c_str());
    bad = 1;
  }
  struct Step {
    const char* cmd;
    Want want;
    const char* must_show;  // text the output must contain, or nullptr
  };
  const Step steps[] = {
      {"show port info 0", Want::Ok, "net_vnet_user"},
      {"set promisc 0 off", Want::Ok, nullptr},
      {"set promisc 0 on", Want::Ok, nullptr},
      {"set allmulti 0 on", Want::Ok, nullptr},
      {"set allmulti 0 off", Want::Ok, nullptr},
      {"mac_addr add 0 02:00:00:00:00:42", Want::Ok, nullptr},
      {"mac_addr remove 0 02:00:00:00:00:42", Want::Ok, nullptr},
      {"mac_addr set 0 02:00:00:00:00:43", Want::Ok, nullptr},
      {"mcast_addr add 0 01:00:5e:00:00:01", Want::Ok, nullptr},
      {"mcast_addr remove 0 01:00:5e:00:00:01", Want::Ok, nullptr},
      {"vlan set filter on 0", Want::Ok, nullptr},
      {"rx_vlan add 100 0", Want::Ok, nullptr},
      {"rx_vlan rm 100 0", Want::Ok, nullptr},
      {"vlan set strip on 0", Want::Ok, nullptr},
      {"vlan set strip off 0", Want::Ok, nullptr},
      {"vlan set qinq_strip on 0", Want::NotSupported, nullptr},
      {"set link-down port 0", Want::Ok, nullptr},
      {"show port info 0", Want::Ok, "Link status: down"},
      {"set link-up port 0", Want::Ok, nullptr},
      {"set flow_ctrl rx on tx on 0 0 0 0 mac_ctrl_frame_fwd off autoneg off 0", Want::NotSupported, nullptr},
      {"port stop 0", Want::Ok, nullptr},
      {"csum set tcp hw 0", Want::Ok, nullptr},
      {"csum set udp hw 0", Want::Ok, nullptr},
      {"tso set 1400 0", Want::Ok, nullptr},
      {"port config mtu 0 1400", Want::Ok, nullptr},
      {"csum show 0", Want::Ok, "TCP checksum offload is hw"},
      {"port start 0", Want::Ok, nullptr},
      {"show port stats 0", Want::Ok, "RX-packets"},
      {"start tx_first", Want::Ok, nullptr},
      {"stop", Want::Ok, "RX-packets"},
      {"show port xstats 0", Want::Ok, "rx_q1_packets"},
      {"clear port xstats 0", Want::Ok, nullptr},
      {"port stop 0", Want::Ok, nullptr},
      {"port start 0", Want::Ok, nullptr},
      {"show port info 0", Want::Ok, "Link status: up"},
  };
  for (const Step& st : steps) {
    if (bad && boot.find("testpmd> ") == std::string::npos) break;
    const std::string o = s.run(st.cmd);
    if (std::string(st.cmd) == "start tx_first") std::this_thread::sleep_for(std::chrono::seconds(1));
    bool ok = o.find("testpmd> ") != std::string::npos;
    if (ok && st.want == Want::Ok) ok = !has_error(o);
    if (ok && st.want == Want::NotSupported) ok = says_not_supported(o);
    if (ok && st.must_show) ok = o.find(st.must_show) != std::string::npos;
    if (ok && std::string(st.cmd) == "stop") {  // the loop through net_vhost carried traffic
      const size_t at = o.find("RX-packets:");
      ok = at != std::string::npos && std::strtoull(o.c_str() + at + 11, nullptr, 10) > 0;
    }
    std::printf("%s %-70s %s\n", ok ? "ok  " : "FAIL", st.cmd, st.want == Want::Ok ? "" : "(not supported, clearly)");
    if (!ok) {
      std::printf("---- output ----\n%s\n----------------\n", o.c_str());
      bad = 1;
    }
  }
  s.run("quit", 10000);
  int status = 0;
  for (int i = 0; i < 100 && waitpid(ours, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (waitpid(ours, &status, WNOHANG) == 0) {
    kill(ours, SIGKILL);
    waitpid(ours, &status, 0);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::printf("FAIL: testpmd with the plugin ended abnormally (status 0x%x)\n", status);
    bad = 1;
  }
  kill(peer, SIGINT);
  waitpid(peer, nullptr, 0);
  close(master);
  if (bad) std::printf("---- full session ----\n%s\n", s.all.c_str());
  unlink(sock.c_str());
  unlink(peer_log.c_str());
  rmdir(dir);
  if (!made_dir.empty()) {
    unlink((made_dir + "/librte_net_vnet.so").c_str());
    rmdir(made_dir.c_str());
  }
  std::printf("%s\n", bad ? "FAIL" : "PASS");
  return bad;
}
