// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// libFuzzer target: the built-in backend's vhost-user state machine
// (vhost::Server::handle_one) against a hostile frontend on a socketpair.
// Input format: vhost_fuzz.h. Each input gets a fresh server; at its end
// every fd the frontend passed is closed and every region unmapped.
#include <fcntl.h>
#include <poll.h>
#include <rte_log.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "fd_audit.h"
#include "vhost/vhost_user_server.h"
#include "vhost_fuzz.h"

namespace {

using namespace vnet;
using namespace vnet::fuzz;
namespace vu = vnet::vhost_user;

// Sends `len` raw bytes with `nfds` fds of the kind `flags` asks for; the
// fds are ours to close once the kernel holds them.
bool send_frame(int sock, const uint8_t* p, size_t len, uint8_t flags) {
  int fds[vhost_in::kFdMask];
  const unsigned nfds = flags & vhost_in::kFdMask;
  for (unsigned i = 0; i < nfds; ++i) {
    if (flags & vhost_in::kEventFds) {
      fds[i] = ::eventfd(0, EFD_CLOEXEC);
    } else {
      fds[i] = ::memfd_create(vhost_in::kMemfdName, MFD_CLOEXEC);
      if (fds[i] >= 0 && ::ftruncate(fds[i], static_cast<off_t>(vhost_in::memfd_size(flags))) != 0) std::abort();
    }
    VNET_FUZZ_CHECK(fds[i] >= 0, "cannot create fd %u", i);
  }
  const iovec iov{const_cast<uint8_t*>(p), len};
  const bool ok = vu::send_fds(sock, &iov, 1, fds, nfds, MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(len);
  for (unsigned i = 0; i < nfds; ++i) ::close(fds[i]);
  return ok;
}

// Reads (and drops) the backend's replies so its sends never block.
void drain(int sock) {
  uint8_t buf[512];
  size_t nfds = 0;
  bool truncated = false;
  while (recv_drop_fds(sock, buf, sizeof buf, &nfds, &truncated) > 0)
    VNET_FUZZ_CHECK(nfds == 0, "the backend sent fds");
}

bool readable(int sock) {
  pollfd p{sock, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Every rejected message logs a line; millions of them would be the run.
  if (!std::getenv("VNET_FUZZ_LOG")) rte_log_set_global_level(RTE_LOG_EMERG);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Per input, not once: libFuzzer itself holds different fds at different times.
  const size_t fds0 = test::open_fds();
  bool sent_memfd = false;
  {
    std::unique_ptr<vhost::Vring[]> vr(new vhost::Vring[4]);
    vhost::ServerConfig cfg;
    cfg.queue_pairs = 2;
    cfg.name = "fuzz";
    // A frame shorter than its header says ends at once (-ETIMEDOUT), as a
    // stalled frontend does at the real deadline: no input waits 2 s.
    cfg.msg_timeout_ms = 0;
    vhost::Server srv(vr.get(), cfg);
    int s[2];
    VNET_FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0, "socketpair");
    // The backend's end never blocks (the codec polls; see msg_timeout_ms).
    ::fcntl(s[1], F_SETFL, ::fcntl(s[1], F_GETFL) | O_NONBLOCK);

    Reader in(data, size);
    bool open = true;
    while (open && !in.empty()) {
      const uint8_t flags = in.u8();
      size_t len = in.u16();
      if (len > vhost_in::kMaxFrame) len = vhost_in::kMaxFrame;
      if (len > in.left()) len = in.left();
      uint8_t buf[vhost_in::kMaxFrame];
      in.copy(buf, len);
      if (len == 0) continue;  // fds need at least one byte to ride on
      sent_memfd |= (flags & vhost_in::kFdMask) && !(flags & vhost_in::kEventFds);
      if (!send_frame(s[0], buf, len, flags)) break;
      // Handle everything the frame made readable (stray bytes are read as
      // the next message, as a real backend would).
      while (open && readable(s[1])) {
        open = srv.handle_one(s[1]) == 0;
        drain(s[0]);
      }
    }
    if (std::getenv("VNET_FUZZ_LOG")) {  // reproducing: how far did the input get?
      const vhost::ServerStats st = srv.stats();
      unsigned armed = 0;
      for (unsigned i = 0; i < srv.vring_count(); ++i) armed += vr[i].armed;
      std::fprintf(stderr, "vhost fuzz: %lu messages, %lu errors, %lu unsupported, %u rings armed, link %s\n",
                   static_cast<unsigned long>(st.messages), static_cast<unsigned long>(st.errors),
                   static_cast<unsigned long>(st.unsupported), armed, srv.link_up() ? "up" : "down");
    }
    srv.disconnect();
    VNET_FUZZ_CHECK(!srv.link_up(), "link up after disconnect");
    for (unsigned i = 0; i < srv.vring_count(); ++i)
      VNET_FUZZ_CHECK(!vr[i].armed, "vring %u armed after disconnect", i);
    ::close(s[0]);
    ::close(s[1]);
  }
  VNET_FUZZ_CHECK(test::open_fds() == fds0, "fd leak: %zu open, %zu before", test::open_fds(), fds0);
  if (sent_memfd) VNET_FUZZ_CHECK(test::count_maps(vhost_in::kMemfdName) == 0, "a memfd region is still mapped");
  return 0;
}
