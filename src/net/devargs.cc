// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The shared port devargs (see devargs.h): names, limits, parsing, the rules
// between them. Each bad value is refused with one log line naming it.
#include "net/devargs.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <iterator>

#include "virtio/ring_layout.h"

namespace vnet::net {
namespace {

const char* const kPortKeys[] = {"queues", "queue_size", "packed_vq", "mrg_rxbuf", "in_order", "mac", "speed", "cq"};

constexpr uint64_t kMaxQueuePairs = 128;

}  // namespace

int parse_port_arg(const char* key, const char* v, PortArgs* a, const DevargsLog& log) {
  const std::string k = key;
  bool known = false;
  for (const char* pk : kPortKeys) known = known || k == pk;
  if (!known) return 0;
  PortOptions& o = a->port;
  if (k == "mac") {
    if (rte_ether_unformat_addr(v, &o.mac) != 0) {
      devargs::error(log, "devarg mac=%s: not a MAC address", v);
      return -EINVAL;
    }
    o.mac_set = true;
    return 1;
  }
  const uint64_t max = k == "queues"       ? kMaxQueuePairs
                       : k == "queue_size" ? virtio::PACKED_MAX_SIZE
                       : k == "speed"      ? UINT32_MAX
                                           : 1;
  uint64_t x = 0;
  if (int rc = parse_devarg_uint(key, v, max, &x, log); rc != 0) return rc;
  if (k == "queues" && x == 0) {
    devargs::error(log, "devarg queues=%s: at least one queue pair", v);
    return -EINVAL;
  }
  if (k == "queues") {
    o.queues = static_cast<uint16_t>(x);
  } else if (k == "queue_size") {
    o.queue_size = static_cast<uint32_t>(x);
    a->queue_size_set = true;
  } else if (k == "packed_vq") {
    o.packed = x;
  } else if (k == "mrg_rxbuf") {
    o.mrg_rxbuf = x;
  } else if (k == "in_order") {
    o.in_order = x;
  } else if (k == "speed") {
    o.speed = static_cast<uint32_t>(x);
  } else if (k == "cq") {
    o.cq = x;
  }
  return 1;
}

void finish_port_args(const char* name, PortArgs* a, const DevargsLog& log) {
  if (a->port.queues > 1 && !a->port.cq) {  // queue pairs are set through the control queue
    devargs::info(log, "%s: queues=%u implies cq=1", name, a->port.queues);
    a->port.cq = true;
  }
}

int parse_port_devargs(const char* name, const char* args, std::initializer_list<const char*> own_keys,
                       const OwnArgFn& own, PortArgs* out, const DevargsLog& log) {
  const int rc = devargs::walk(
      name, args, own_keys, kPortKeys, std::size(kPortKeys),
      [&](const char* key, const char* v) {
        const int r = parse_port_arg(key, v, out, log);
        if (r != 0) return r < 0 ? r : 0;
        return own(key, v);
      },
      log);
  if (rc != 0) return -EINVAL;
  finish_port_args(name, out, log);
  return 0;
}

}  // namespace vnet::net
