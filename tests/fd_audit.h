// Leak audit shared by the vhost-user server's unit test and its fuzzer:
// how many fds this process has open and how many of its mappings come from
// memfds of a given name. Slow (a syscall per fd, a read of /proc): tests only.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <fstream>
#include <string>

namespace vnet::test {

inline size_t open_fds() {
  size_t n = 0;
  for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) != -1;
  return n;
}

// Mappings of memfds created with memfd_create(name, ...).
inline size_t count_maps(const char* name) {
  std::ifstream f("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(f, line);) n += line.find(name) != std::string::npos;
  return n;
}

}  // namespace vnet::test
