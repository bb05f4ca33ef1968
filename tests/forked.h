// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// A test body in a forked child (EAL initialises once per process), with its
// reason brought back: the child's stdout and stderr come to the parent
// through a pipe, and a failed child's exit status or signal, its FAILED lines
// and its last lines become the parent's failure message. A watchdog (alarm in
// the child, SIGKILL from the parent 30 s later) turns a hang into a failure.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace vnet::test {

struct ChildResult {
  bool ok = false;  // the child exited with status 0
  int status = 0;   // as waitpid(2) gave it
  std::string out;  // everything the child wrote to stdout and stderr
  std::string why;  // when not ok: what ended it, its FAILED lines, its last lines
  pid_t pid = -1;   // the child's, once forked

  static ChildResult not_run(std::string why) {
    ChildResult r;
    r.why = std::move(why);
    return r;
  }
};

struct ForkOptions {
  unsigned timeout_s = 90;  // the child's alarm (SIGALRM ends it unless the body handles it)
  bool echo = true;         // copy the child's output to our stderr as it comes
};

inline std::string describe_exit(int st, unsigned timeout_s) {
  char b[160];
  if (WIFSIGNALED(st)) {
    const int s = WTERMSIG(st);
    const char* abbrev = sigabbrev_np(s);
    const int n = std::snprintf(b, sizeof b, "child killed by SIG%s (%s)", abbrev ? abbrev : "?", strsignal(s));
    if (s == SIGALRM && n > 0 && static_cast<size_t>(n) < sizeof b)
      std::snprintf(b + n, sizeof b - static_cast<size_t>(n), ": the %u s watchdog fired", timeout_s);
    return b;
  }
  std::snprintf(b, sizeof b, "child exited with status %d", WEXITSTATUS(st));
  return b;
}

// The failure message: how the child ended, every line that says FAILED,
// then the last 25 lines of its output.
inline std::string failure_report(int st, const std::string& out, unsigned timeout_s) {
  std::vector<std::string> lines;
  for (size_t s = 0; s < out.size();) {
    size_t e = out.find('\n', s);
    if (e == std::string::npos) e = out.size();
    lines.push_back(out.substr(s, e - s));
    s = e + 1;
  }
  std::string failed, tail;
  for (const auto& l : lines)
    if (l.find("FAILED") != std::string::npos) failed += "  " + l + "\n";
  for (size_t i = lines.size() > 25 ? lines.size() - 25 : 0; i < lines.size(); ++i) tail += "    " + lines[i] + "\n";
  return describe_exit(st, timeout_s) + "\n" + failed + "  last output lines:\n" + tail;
}

// Fork; the child runs `body` with stdout and stderr on a pipe and exits
// with what it returns (without running atexit handlers: EAL's are the
// parent's). The parent collects the output until the child closes it.
inline ChildResult run_forked(const std::function<int()>& body, const ForkOptions& o = {}) {
  ChildResult res;
  int pfd[2];
  if (::pipe2(pfd, O_CLOEXEC) != 0) return ChildResult::not_run(std::string("pipe2: ") + std::strerror(errno));
  std::fflush(nullptr);  // else the child's output repeats what we had buffered
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pfd[0]);
    ::close(pfd[1]);
    return ChildResult::not_run(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(pfd[1], 1);
    ::dup2(pfd[1], 2);
    ::close(pfd[0]);
    ::close(pfd[1]);
    std::setvbuf(stdout, nullptr, _IONBF, 0);  // _exit() flushes nothing
    ::alarm(o.timeout_s);
    ::_exit(body());
  }
  ::close(pfd[1]);
  res.pid = pid;
  timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[4096];
  for (;;) {
    pollfd p{pfd[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) == 1) {
      const ssize_t n = ::read(pfd[0], buf, sizeof buf);
      if (n <= 0) break;
      res.out.append(buf, static_cast<size_t>(n));
      if (o.echo) {
        [[maybe_unused]] const ssize_t w = ::write(2, buf, static_cast<size_t>(n));
      }
      continue;
    }
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec > static_cast<time_t>(o.timeout_s) + 30) {
      ::kill(pid, SIGKILL);
      res.out += "\n(parent: the child outlived its watchdog; killed)\n";
      break;
    }
  }
  ::close(pfd[0]);
  ::waitpid(pid, &res.status, 0);
  res.ok = WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0;
  if (!res.ok) res.why = failure_report(res.status, res.out, o.timeout_s);
  return res;
}

}  // namespace vnet::test

// In a gtest: the forked child must have passed; if not, its reason is the
// failure message (here, not only in the child's stderr).
#define EXPECT_CHILD_OK(...)                                                                 \
  do {                                                                                       \
    const ::vnet::test::ChildResult vnet_child_result_ = (__VA_ARGS__);                      \
    if (!vnet_child_result_.ok) ADD_FAILURE() << "forked child: " << vnet_child_result_.why; \
  } while (0)
