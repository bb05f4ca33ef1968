// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// EAL for in-process driver tests: initialised once per process (--no-huge,
// no PCI, a file prefix of its own), cleaned up at exit together with the
// runtime directory EAL 22.11 leaves behind.
#pragma once

#include <rte_eal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace vnet::test {

// tag names the file prefix; lcores is EAL's -l list. The first call decides.
inline bool eal_once(const char* tag, const char* lcores) {
  static const bool ok = [&] {
    const std::string prefix = std::string("--file-prefix=vnet-") + tag + "-" + std::to_string(::getpid());
    std::vector<std::string> args = {
        "test", "--no-huge", "-m", "128", "--no-pci", "-l", lcores, prefix, "--log-level=lib.eal:warning"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) return false;
    std::atexit([] {
      const std::string runtime = rte_eal_get_runtime_dir();
      rte_eal_cleanup();
      ::rmdir(runtime.c_str());  // EAL 22.11 leaves its (then empty) runtime directory behind
    });
    return true;
  }();
  return ok;
}

}  // namespace vnet::test
