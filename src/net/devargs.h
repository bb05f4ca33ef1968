// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The devargs every vnet port takes, whatever its transport (net_vnet_user,
// net_vnet): one parser into PortOptions so both drivers accept the same
// names with the same limits and log the same way. Control path only.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>

#include "common/devargs.h"
#include "net/ethdev.h"

namespace vnet::net {

// Where a driver's devargs log lines go (common/devargs.h).
using DevargsLog = devargs::Log;

// What parsing the port devargs gave.
struct PortArgs {
  PortOptions port;
  bool queue_size_set = false;  // queue_size= was given (else the default)
};

// An unsigned integer devarg up to max (decimal, 0x hex, 0 octal): 0, or
// -EINVAL after a log line naming key and value.
inline int parse_devarg_uint(const char* key, const char* value, uint64_t max, uint64_t* out, const DevargsLog& log) {
  return devargs::parse_uint(key, value, 0, max, out, log);
}

// A driver's own key: 0 taken, -EINVAL (after a log line naming it).
using OwnArgFn = devargs::OnArg;

// The shared keys (queues queue_size packed_vq mrg_rxbuf in_order mac speed
// cq), each validated. Returns 1 when key is one of them and value is good,
// 0 when key is not a port devarg, -EINVAL (with a log line naming the
// devarg) when the value is bad.
int parse_port_arg(const char* key, const char* value, PortArgs* out, const DevargsLog& log);

// Parses args ("k=v,k=v", may be null or empty): the shared keys into out,
// own_keys through own. Unknown keys and bad values fail with -EINVAL and a
// log line naming them. Then applies the shared rules (finish_port_args).
int parse_port_devargs(const char* name, const char* args, std::initializer_list<const char*> own_keys,
                       const OwnArgFn& own, PortArgs* out, const DevargsLog& log);

// Rules between the shared keys: queues>1 implies cq=1 (queue pairs are
// enabled through the control queue).
void finish_port_args(const char* name, PortArgs* a, const DevargsLog& log);

}  // namespace vnet::net
