// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The devargs walker (devargs.h): rte_kvargs underneath, one log line per
// refusal, the known keys named when a key is not one of them.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "common/devargs.h"

#include <rte_kvargs.h>
#include <rte_log.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/c_entry.h"

namespace vnet::devargs {
namespace {

__attribute__((format(printf, 3, 0))) void vlog(uint32_t level, const Log& log, const char* fmt, va_list ap) {
  char text[512];
  std::vsnprintf(text, sizeof text, fmt, ap);
  rte_log(level, static_cast<uint32_t>(*log.type), "%s: %s\n", log.prefix, text);
}

struct Ctx {
  const OnArg* on;
  const Log* log;
  int rc;
};

int on_pair(const char* key, const char* value, void* arg) {
  auto* c = static_cast<Ctx*>(arg);
  if (!value) {  // "key" without "=value"
    error(*c->log, "devarg %s: needs a value", key);
    c->rc = -EINVAL;
    return -1;
  }
  if (const int rc = (*c->on)(key, value); rc != 0) {
    c->rc = rc < 0 ? rc : -EINVAL;
    return -1;
  }
  return 0;
}

}  // namespace

void error(const Log& log, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(RTE_LOG_ERR, log, fmt, ap);
  va_end(ap);
}

void info(const Log& log, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(RTE_LOG_INFO, log, fmt, ap);
  va_end(ap);
}

int parse_uint(const char* key, const char* v, uint64_t min, uint64_t max, uint64_t* out, const Log& log) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v, &end, 0);
  if (errno || end == v || *end != '\0' || *v == '-' || x < min || x > max) {
    if (min == 0)
      error(log, "devarg %s=%s: expected an integer up to %llu", key, v, static_cast<unsigned long long>(max));
    else
      error(log, "devarg %s=%s: expected an integer from %llu to %llu", key, v, static_cast<unsigned long long>(min),
            static_cast<unsigned long long>(max));
    return -EINVAL;
  }
  *out = x;
  return 0;
}

int walk(const char* name, const char* args, std::initializer_list<const char*> keys, const char* const* more,
         size_t nmore, const OnArg& on, const Log& log) {
  if (!args || !*args) return 0;
  std::vector<const char*> known(keys);
  known.insert(known.end(), more, more + nmore);
  std::string list;
  for (const char* k : known) list += list.empty() ? k : std::string(" ") + k;
  known.push_back(nullptr);
  rte_kvargs* kv = rte_kvargs_parse(args, known.data());
  if (!kv) {
    error(log, "%s: cannot parse devargs '%s' (known: %s)", name, args, list.c_str());
    return -EINVAL;
  }
  Ctx c{&on, &log, 0};
  const int rc = rte_kvargs_process(kv, nullptr, c_entry<on_pair>, &c);
  rte_kvargs_free(kv);
  if (rc != 0) return c.rc ? c.rc : -EINVAL;
  return 0;
}

int walk(const char* name, const char* args, std::initializer_list<const char*> keys, const OnArg& on, const Log& log) {
  return walk(name, args, keys, nullptr, 0, on, log);
}

}  // namespace vnet::devargs
