// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The shared port devargs (see devargs.h): names, limits, parsing, the rules
// between them. Each bad value is refused with one log line naming it.
#include "net/devargs.h"

#include <rte_kvargs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "virtio/ring_layout.h"

namespace vnet::net {
namespace {

const char* const kPortKeys[] = {"queues", "queue_size", "packed_vq", "mrg_rxbuf", "in_order", "mac", "speed", "cq"};

constexpr uint64_t kMaxQueuePairs = 128;

#define DEVARGS_LOG(log, level, fmt, ...) \
  rte_log(RTE_LOG_##level, static_cast<uint32_t>(*(log).type), "%s: " fmt "\n", (log).prefix, ##__VA_ARGS__)

}  // namespace

int parse_devarg_uint(const char* key, const char* v, uint64_t max, uint64_t* out, const DevargsLog& log) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v, &end, 0);
  if (errno || end == v || *end != '\0' || x > max) {
    DEVARGS_LOG(log, ERR, "devarg %s=%s: expected an integer up to %llu", key, v, static_cast<unsigned long long>(max));
    return -EINVAL;
  }
  *out = x;
  return 0;
}

int parse_port_arg(const char* key, const char* v, PortArgs* a, const DevargsLog& log) {
  const std::string k = key;
  bool known = false;
  for (const char* pk : kPortKeys) known = known || k == pk;
  if (!known) return 0;
  PortOptions& o = a->port;
  if (k == "mac") {
    if (rte_ether_unformat_addr(v, &o.mac) != 0) {
      DEVARGS_LOG(log, ERR, "devarg mac=%s: not a MAC address", v);
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
    DEVARGS_LOG(log, ERR, "devarg queues=%s: at least one queue pair", v);
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
    DEVARGS_LOG(log, INFO, "%s: queues=%u implies cq=1", name, a->port.queues);
    a->port.cq = true;
  }
}

namespace {

struct Ctx {
  PortArgs* out;
  const OwnArgFn* own;
  const DevargsLog* log;
};

int on_arg(const char* key, const char* v, void* arg) {
  auto* c = static_cast<Ctx*>(arg);
  if (!v) {  // "key" without "=value"
    DEVARGS_LOG(*c->log, ERR, "devarg %s: needs a value", key);
    return -EINVAL;
  }
  const int rc = parse_port_arg(key, v, c->out, *c->log);
  if (rc != 0) return rc < 0 ? rc : 0;
  return (*c->own)(key, v);
}

}  // namespace

int parse_port_devargs(const char* name, const char* args, std::initializer_list<const char*> own_keys,
                       const OwnArgFn& own, PortArgs* out, const DevargsLog& log) {
  if (args && *args) {
    std::vector<const char*> keys(own_keys);
    keys.insert(keys.end(), std::begin(kPortKeys), std::end(kPortKeys));
    std::string known;
    for (const char* k : keys) known += known.empty() ? k : std::string(" ") + k;
    keys.push_back(nullptr);
    rte_kvargs* kv = rte_kvargs_parse(args, keys.data());
    if (!kv) {
      DEVARGS_LOG(log, ERR, "%s: cannot parse devargs '%s' (known: %s)", name, args, known.c_str());
      return -EINVAL;
    }
    Ctx c{out, &own, &log};
    const int rc = rte_kvargs_process(kv, nullptr, on_arg, &c);
    rte_kvargs_free(kv);
    if (rc != 0) return -EINVAL;
  }
  finish_port_args(name, out, log);
  return 0;
}

}  // namespace vnet::net
