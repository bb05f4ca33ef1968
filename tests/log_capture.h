// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// rte_log output captured while a LogCapture lives (rte_openlog_stream on a
// memstream), so a test can check that each refusal left a line saying why.
// Works with or without EAL.
#pragma once

#include <rte_log.h>

#include <cstdio>
#include <cstdlib>
#include <string>

class LogCapture {
 public:
  LogCapture() : f_(open_memstream(&buf_, &len_)) { rte_openlog_stream(f_); }
  ~LogCapture() {
    rte_openlog_stream(nullptr);
    std::fclose(f_);
    std::free(buf_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() {
    std::fflush(f_);
    return std::string(buf_, len_);
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  FILE* f_;
};
