// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The C boundary (src/common/c_entry.h): an exception stops in c_entry<F>
// with the op's error value and a log line naming F; a noexcept F is handed
// over as it is. No EAL: rte_log works without it.
#include "common/c_entry.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

#include "log_capture.h"

namespace vnet {
namespace {

int g_calls = 0;

int op_oom(int) { throw std::bad_alloc(); }
int op_logic(int) { throw std::length_error("too long"); }
int op_other(int) { throw 42; }
int op_ok(int x) { return x + 1; }
void op_void(void*) {
  ++g_calls;
  throw std::bad_alloc();
}
void* op_thread(void*) { throw std::runtime_error("thread"); }
uint32_t op_unsigned(void*) { throw std::bad_alloc(); }
bool op_bool() { throw std::bad_alloc(); }
int64_t op_wide() { throw std::bad_alloc(); }
int op_noexcept(int x) noexcept { return x * 2; }

TEST(CEntry, BadAllocIsEnomemAndNamesTheOp) {
  LogCapture log;
  EXPECT_EQ(c_entry<op_oom>(1), -ENOMEM);
  EXPECT_NE(log.text().find("op_oom"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("out of memory"), std::string::npos) << log.text();
}

TEST(CEntry, OtherExceptionsAreEio) {
  LogCapture log;
  EXPECT_EQ(c_entry<op_logic>(1), -EIO);
  EXPECT_NE(log.text().find("too long"), std::string::npos) << log.text();
  EXPECT_EQ(c_entry<op_other>(1), -EIO);
  EXPECT_NE(log.text().find("op_other"), std::string::npos) << log.text();
}

TEST(CEntry, PassesArgumentsAndResult) { EXPECT_EQ(c_entry<op_ok>(41), 42); }

TEST(CEntry, VoidOpSwallows) {
  LogCapture log;
  g_calls = 0;
  c_entry<op_void>(nullptr);
  EXPECT_EQ(g_calls, 1);
  EXPECT_NE(log.text().find("op_void"), std::string::npos) << log.text();
}

TEST(CEntry, ErrorValuesOfOtherReturnTypes) {
  LogCapture log;
  EXPECT_EQ(c_entry<op_thread>(nullptr), nullptr);
  EXPECT_EQ(c_entry<op_unsigned>(nullptr), 0u);
  EXPECT_FALSE(c_entry<op_bool>());
  EXPECT_EQ(c_entry<op_wide>(), -ENOMEM);
}

TEST(CEntry, IsNoexceptWithTheSameSignature) {
  static_assert(noexcept(c_entry<op_oom>(0)));
  static_assert(std::is_same_v<decltype(c_entry<op_oom>), int (*const)(int) noexcept>);
  static_assert(std::is_same_v<decltype(c_entry<op_void>), void (*const)(void*) noexcept>);
  // Converts to the C pointer types DPDK declares (no noexcept there).
  void* (*thread_body)(void*) = c_entry<op_thread>;
  EXPECT_NE(thread_body, nullptr);
}

TEST(CEntry, NoexceptOpIsPassedThrough) {
  EXPECT_EQ(c_entry<op_noexcept>, &op_noexcept);
  EXPECT_EQ(c_noexcept<op_noexcept>, &op_noexcept);
  EXPECT_EQ(c_entry<op_noexcept>(21), 42);
}

TEST(CEntry, OneInstancePerOp) {
  // Unregistering a callback matches the pointer registered.
  EXPECT_EQ(c_entry<op_void>, c_entry<op_void>);
  EXPECT_NE(reinterpret_cast<void*>(c_entry<op_oom>), reinterpret_cast<void*>(c_entry<op_logic>));
}

}  // namespace
}  // namespace vnet
