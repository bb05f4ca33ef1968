// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Error-path logging for the rings: a process-wide sink pointer (set once by
// the ethdev layer) and a power-of-two rate limit so a hostile peer cannot
// flood the log. Never on the fast path.
#include <cstdarg>
#include <cstdio>

#include "ring/common.h"

namespace vnet::ring {
namespace {
void stderr_sink(int, const char* msg) { std::fprintf(stderr, "%s\n", msg); }
std::atomic<LogSink> g_sink{&stderr_sink};
}  // namespace

void set_log_sink(LogSink sink) noexcept { g_sink.store(sink ? sink : &stderr_sink); }

void log_error(const char* side, const char* what, uint64_t count, const char* fmt, ...) noexcept {
  if (count == 0 || (count & (count - 1)) != 0) return;  // 1, 2, 4, 8, ...
  char detail[160];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  char line[256];
  std::snprintf(line, sizeof line, "vnet ring (%s): %s [count %llu]: %s", side, what,
                static_cast<unsigned long long>(count), detail);
  g_sink.load()(4 /* RTE_LOG_ERR */, line);
}

const char* to_string(DrvErr e) noexcept {
  switch (e) {
    case DrvErr::UsedIdxJump:
      return "used index moved past available buffers";
    case DrvErr::UsedIdOutOfRange:
      return "used id out of range";
    case DrvErr::UsedIdNotHead:
      return "used id is not an outstanding buffer";
    case DrvErr::UsedLenTooLong:
      return "used length larger than the buffer";
    case DrvErr::Count:
      break;
  }
  return "?";
}

const char* to_string(DevErr e) noexcept {
  switch (e) {
    case DevErr::AvailIdxJump:
      return "available index jumped by more than the ring size";
    case DevErr::HeadOutOfRange:
      return "available head out of range";
    case DevErr::NextOutOfRange:
      return "descriptor next out of range";
    case DevErr::ChainTooLong:
      return "descriptor chain longer than its table (loop)";
    case DevErr::NestedIndirect:
      return "indirect descriptor inside an indirect table";
    case DevErr::IndirectBadLen:
      return "indirect table length not a non-zero multiple of 16";
    case DevErr::IndirectAndNext:
      return "descriptor has both INDIRECT and NEXT";
    case DevErr::IndirectNotNegotiated:
      return "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
    case DevErr::LenOverflow:
      return "chain length over 2^32-1";
    case DevErr::BadAddress:
      return "buffer outside guest memory";
    case DevErr::ReadAfterWrite:
      return "device-readable descriptor after a writable one";
    case DevErr::TooManySegs:
      return "chain has more segments than the device supports";
    case DevErr::PackedNotAvail:
      return "packed chain continues into a slot not made available";
    case DevErr::PackedIdOutOfRange:
      return "packed buffer id out of range";
    case DevErr::Count:
      break;
  }
  return "?";
}

}  // namespace vnet::ring
