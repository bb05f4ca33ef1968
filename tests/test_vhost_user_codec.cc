// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vhost-user framing: round trips with fds, and every malformed frame a peer
// can send (bad version, oversize payload, close mid-message) is rejected
// with the fds it carried closed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "vhost_user/protocol.h"

namespace vnet::vhost_user {
namespace {

struct Pair {
  int s[2];
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0); }
  ~Pair() {
    if (s[0] >= 0) ::close(s[0]);
    if (s[1] >= 0) ::close(s[1]);
  }
};

size_t open_fds() {
  size_t n = 0;
  for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) != -1;
  return n;
}

TEST(VhostUserCodec, RoundTripWithFds) {
  Pair p;
  Msg m{};
  m.hdr = {SET_VRING_KICK, FLAG_VERSION | FLAG_NEED_REPLY, 8};
  m.p.u64 = 3;
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  ASSERT_EQ(send(p.s[0], m, pipefd, 2), 0);
  Msg r{};
  int fds[kMaxFds];
  size_t nfds;
  ASSERT_EQ(recv(p.s[1], r, fds, &nfds), 0);
  EXPECT_EQ(r.hdr.request, SET_VRING_KICK);
  EXPECT_EQ(r.p.u64, 3u);
  ASSERT_EQ(nfds, 2u);
  ASSERT_EQ(::write(pipefd[1], "x", 1), 1);
  char c;
  EXPECT_EQ(::read(fds[0], &c, 1), 1);  // the received fd is the same pipe
  close_fds(fds, nfds);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  EXPECT_EQ(sizeof(VringAddr), 40u);
  EXPECT_STREQ(req_name(GET_VRING_BASE), "GET_VRING_BASE");
}

TEST(VhostUserCodec, RejectsBadVersionAndClosesFds) {
  Pair p;
  Msg m{};
  m.hdr = {GET_FEATURES, 0x2, 0};
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  ASSERT_EQ(send(p.s[0], m, pipefd, 1), 0);
  Msg r{};
  int fds[kMaxFds];
  size_t nfds = 99;
  const size_t before = open_fds();
  EXPECT_EQ(recv(p.s[1], r, fds, &nfds), -EBADMSG);
  EXPECT_EQ(nfds, 0u);
  EXPECT_EQ(open_fds(), before);  // the fd that came with the bad frame was closed
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

TEST(VhostUserCodec, RejectsOversizePayload) {
  Pair p;
  Header h{SET_MEM_TABLE, FLAG_VERSION, 100000};
  ASSERT_EQ(::write(p.s[0], &h, sizeof h), static_cast<ssize_t>(sizeof h));
  Msg r{};
  int fds[kMaxFds];
  size_t nfds;
  EXPECT_EQ(recv(p.s[1], r, fds, &nfds), -EBADMSG);
}

TEST(VhostUserCodec, PeerClosesMidMessage) {
  Pair p;
  Header h{SET_FEATURES, FLAG_VERSION, 8};
  ASSERT_EQ(::write(p.s[0], &h, sizeof h), static_cast<ssize_t>(sizeof h));
  ::close(p.s[0]);
  p.s[0] = -1;
  Msg r{};
  int fds[kMaxFds];
  size_t nfds;
  EXPECT_EQ(recv(p.s[1], r, fds, &nfds), -EBADMSG);
  EXPECT_EQ(recv(p.s[1], r, fds, &nfds), -ECONNRESET);  // then: orderly end
}

TEST(VhostUserCodec, HeaderSplitAcrossReads) {
  Pair p;
  uint8_t b[20];  // wire form: 12-byte header, then the 8-byte payload
  const Header h{SET_FEATURES, FLAG_VERSION, 8};
  const uint64_t v = 0x1234;
  std::memcpy(b, &h, 12);
  std::memcpy(b + 12, &v, 8);
  ASSERT_EQ(::write(p.s[0], b, 5), 5);
  ASSERT_EQ(::write(p.s[0], b + 5, 15), 15);
  Msg r{};
  int fds[kMaxFds];
  size_t nfds;
  ASSERT_EQ(recv(p.s[1], r, fds, &nfds), 0);
  EXPECT_EQ(r.p.u64, 0x1234u);
}

// A peer that trickles a message gets one deadline for all of it, not one
// per byte (it used to be 2 s per recv: minutes for one message).
TEST(VhostUserCodec, TrickledMessageMissesOneWholeDeadline) {
  Pair p;
  Msg m{};
  m.hdr = {GET_FEATURES, FLAG_VERSION, 0};
  std::thread peer([&] {
    const auto* b = reinterpret_cast<const uint8_t*>(&m.hdr);
    for (size_t i = 0; i < sizeof(Header); ++i) {
      if (::send(p.s[0], b + i, 1, MSG_NOSIGNAL) != 1) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  Msg r{};
  int fds[kMaxFds];
  size_t n = 0;
  const int64_t t0 = now_ns();
  EXPECT_EQ(recv(p.s[1], r, fds, &n, pace_ms(500)), -ETIMEDOUT);
  const int64_t took_ms = (now_ns() - t0) / 1000000;
  EXPECT_GE(took_ms, 450);
  EXPECT_LT(took_ms, 900);  // the 12 bytes take 1.2 s: the deadline is for the message
  ::shutdown(p.s[1], SHUT_RDWR);
  peer.join();
}

// A reply to a peer that never reads: send() gives up at the deadline
// instead of blocking (the socket itself is blocking).
TEST(VhostUserCodec, SendToAPeerThatNeverReadsTimesOut) {
  Pair p;
  Msg m{};
  m.hdr = {GET_FEATURES, FLAG_VERSION | FLAG_REPLY, 8};
  int rc = 0;
  const int64_t t0 = now_ns();
  for (int i = 0; i < 1000000 && rc == 0; ++i) rc = send(p.s[1], m, nullptr, 0, pace_ms(300));
  EXPECT_EQ(rc, -ETIMEDOUT);
  EXPECT_LT((now_ns() - t0) / 1000000, 5000);
}

// A cancel fd ends a wait at once; a closed peer never raises SIGPIPE.
TEST(VhostUserCodec, CancelFdEndsTheWaitAndNoSigpipe) {
  Pair p;
  const int cancel = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(cancel, 0);
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const uint64_t one = 1;
    EXPECT_EQ(::write(cancel, &one, sizeof one), 8);
  });
  Msg r{};
  int fds[kMaxFds];
  size_t n = 0;
  EXPECT_EQ(recv(p.s[1], r, fds, &n, Pace{-1, cancel}), -ECANCELED);
  waker.join();
  ::close(cancel);
  ::close(p.s[0]);
  p.s[0] = -1;
  Msg m{};
  m.hdr = {GET_FEATURES, FLAG_VERSION, 0};
  EXPECT_EQ(send(p.s[1], m), -EPIPE);  // an error, not a signal
}

}  // namespace
}  // namespace vnet::vhost_user
