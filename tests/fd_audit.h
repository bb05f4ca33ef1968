// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Leak audit shared by the vhost-user server's unit test and its fuzzer:
// how many fds this process has open and how many of its mappings come from
// memfds of a given name. Slow (a syscall per fd, a read of /proc): tests only.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <cstddef>
#include <fstream>
#include <string>

namespace vnet::test {

inline size_t open_fds() {
  size_t n = 0;
  for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) != -1;
  return n;
}

// Open fds other than epoll instances. DPDK's interrupt thread closes and
// re-creates its epoll fd whenever its list of sources changes, so at any
// moment it holds 0, 1 or 2 of them: an audit that counted them would see a
// "leak" (or a gain) whenever it sampled during a rebuild. Nothing of ours
// creates an epoll instance.
inline size_t open_fds_but_epoll() {
  size_t n = 0;
  char path[40], target[64];
  for (int fd = 0; fd < 1024; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) continue;
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const ssize_t k = ::readlink(path, target, sizeof target - 1);
    if (k > 0) {
      target[k] = 0;
      if (std::strcmp(target, "anon_inode:[eventpoll]") == 0) continue;
    }
    ++n;
  }
  return n;
}

// "fd:target" of every open fd, for a leak report that says what leaked.
inline std::string fd_targets() {
  std::string out;
  char path[40], target[128];
  for (int fd = 0; fd < 1024; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) continue;
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const ssize_t k = ::readlink(path, target, sizeof target - 1);
    target[k > 0 ? k : 0] = 0;
    out += std::to_string(fd) + ":" + target + " ";
  }
  return out;
}

// Mappings of memfds created with memfd_create(name, ...).
inline size_t count_maps(const char* name) {
  std::ifstream f("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(f, line);) n += line.find(name) != std::string::npos;
  return n;
}

}  // namespace vnet::test
