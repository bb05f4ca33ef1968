// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The devargs walker every vnet driver uses (net_vnet, net_vnet_user,
// net_vnet_vhost): "k=v,k=v" through rte_kvargs, every key checked against
// the driver's list, every value parsed by one of the typed helpers below.
// Each refusal is -EINVAL (or the handler's errno) after one log line that
// names the devarg. Control path only.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

namespace vnet::devargs {

// Where a driver's devargs log lines go: its rte_log type and prefix.
struct Log {
  const int* type;     // read when logging: log types are registered by constructors
  const char* prefix;  // e.g. "vnet_user"
};

// Logs "<prefix>: <text>" at ERR (or INFO) on the driver's log type.
void error(const Log& log, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void info(const Log& log, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// An unsigned integer in [min, max] (decimal, 0x hex, 0 octal): 0, or
// -EINVAL after a log line naming key and value.
int parse_uint(const char* key, const char* value, uint64_t min, uint64_t max, uint64_t* out, const Log& log);

// A key's handler: 0 when taken, a negative errno after its own log line.
using OnArg = std::function<int(const char* key, const char* value)>;

// Walks args (may be null or empty). A key not in `keys`, a key without a
// value, or a handler's refusal fails the whole string: -EINVAL (or the
// handler's errno) after a log line naming the devarg and the known keys.
int walk(const char* name, const char* args, std::initializer_list<const char*> keys, const OnArg& on, const Log& log);

// The same with two key lists (a driver's own keys and a shared set).
int walk(const char* name, const char* args, std::initializer_list<const char*> keys, const char* const* more,
         size_t nmore, const OnArg& on, const Log& log);

}  // namespace vnet::devargs
