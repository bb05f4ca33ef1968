// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The vhost-user requests the backend serves, as one table: each request's
// payload size, the fds it must carry, where its vring index sits, and its
// handler. dispatch() checks all of that from the table before a handler
// runs, so a handler sees only well-formed messages for an existing vring.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <optional>

#include "common/log.h"
#include "vhost/vhost_user_server.h"
#include "virtio/ring_layout.h"

namespace vnet::vhost {

namespace vu = vhost_user;
using virtio::has;

// One message that passed the table's checks.
struct Server::Req {
  vu::Msg& m;
  int* fds;
  size_t nfds;
  unsigned idx;  // the vring index of per-ring requests, else 0
  Vring& v;      // vrings_[idx]
  vu::Msg& reply;
  ring::Layout layout;  // the negotiated ring layout
};

struct Server::Requests {
  enum class Fds : uint8_t {
    None,       // no fd
    One,        // exactly one
    VringFd,    // one, unless the payload's VRING_NOFD bit says none
    AtMostOne,  // REM_MEM_REG: older frontends pass the region's fd along
    PerRegion,  // SET_MEM_TABLE: one per region
  };
  enum class Index : uint8_t { None, State, Addr, U64 };  // where the vring index is
  static constexpr uint32_t kSizeVaries = UINT32_MAX;     // SET_MEM_TABLE: 8 + 32 per region
  using Fn = Outcome (*)(Server&, Req&);
  struct Entry {
    uint32_t req;
    uint32_t size;  // payload bytes
    Fds fds;
    Index index;
    Fn fn;  // nullptr: known and checked, but not served by a net backend
  };

  static Outcome get_u64(Req& r, uint64_t v) {
    make_u64(r.reply, r.m.hdr.request, v);
    return Outcome::Replied;
  }

  static Outcome get_features(Server&, Req& r) { return get_u64(r, kOfferedFeatures); }
  static Outcome set_features(Server& s, Req& r);
  static Outcome get_protocol_features(Server&, Req& r) { return get_u64(r, kOfferedProtocolFeatures); }
  static Outcome set_protocol_features(Server& s, Req& r);
  static Outcome set_owner(Server&, Req&) { return Outcome::Ok; }
  static Outcome reset_owner(Server& s, Req& r);
  static Outcome get_queue_num(Server& s, Req& r) { return get_u64(r, s.cfg_.queue_pairs); }
  static Outcome get_max_mem_slots(Server&, Req& r) { return get_u64(r, GuestMemory::kMaxSlots); }
  static Outcome set_mem_table(Server& s, Req& r);
  static Outcome add_mem_reg(Server& s, Req& r);
  static Outcome rem_mem_reg(Server& s, Req& r);
  static Outcome set_vring_num(Server& s, Req& r);
  static Outcome set_vring_addr(Server& s, Req& r);
  static Outcome set_vring_base(Server& s, Req& r);
  static Outcome get_vring_base(Server& s, Req& r);
  static Outcome set_vring_kick(Server& s, Req& r);
  static Outcome set_vring_call(Server& s, Req& r);
  static Outcome set_vring_err(Server& s, Req& r);
  static Outcome set_vring_enable(Server& s, Req& r);
  static Outcome send_rarp(Server& s, Req& r);
  static Outcome net_set_mtu(Server& s, Req& r);
  static Outcome set_status(Server& s, Req& r);
  static Outcome get_status(Server& s, Req& r) { return get_u64(r, s.status_); }

  static constexpr uint32_t kU64 = sizeof(uint64_t);
  static constexpr uint32_t kState = sizeof(vu::VringState);
  static constexpr Entry kTable[] = {
      {vu::GET_FEATURES, 0, Fds::None, Index::None, get_features},
      {vu::SET_FEATURES, kU64, Fds::None, Index::None, set_features},
      {vu::GET_PROTOCOL_FEATURES, 0, Fds::None, Index::None, get_protocol_features},
      {vu::SET_PROTOCOL_FEATURES, kU64, Fds::None, Index::None, set_protocol_features},
      {vu::SET_OWNER, 0, Fds::None, Index::None, set_owner},
      {vu::RESET_OWNER, 0, Fds::None, Index::None, reset_owner},
      {vu::GET_QUEUE_NUM, 0, Fds::None, Index::None, get_queue_num},
      {vu::GET_MAX_MEM_SLOTS, 0, Fds::None, Index::None, get_max_mem_slots},
      {vu::SET_MEM_TABLE, kSizeVaries, Fds::PerRegion, Index::None, set_mem_table},
      {vu::ADD_MEM_REG, sizeof(vu::SingleMemRegion), Fds::One, Index::None, add_mem_reg},
      {vu::REM_MEM_REG, sizeof(vu::SingleMemRegion), Fds::AtMostOne, Index::None, rem_mem_reg},
      {vu::SET_VRING_NUM, kState, Fds::None, Index::State, set_vring_num},
      {vu::SET_VRING_ADDR, sizeof(vu::VringAddr), Fds::None, Index::Addr, set_vring_addr},
      {vu::SET_VRING_BASE, kState, Fds::None, Index::State, set_vring_base},
      {vu::GET_VRING_BASE, kState, Fds::None, Index::State, get_vring_base},
      {vu::SET_VRING_KICK, kU64, Fds::VringFd, Index::U64, set_vring_kick},
      {vu::SET_VRING_CALL, kU64, Fds::VringFd, Index::U64, set_vring_call},
      {vu::SET_VRING_ERR, kU64, Fds::VringFd, Index::U64, set_vring_err},
      {vu::SET_VRING_ENABLE, kState, Fds::None, Index::State, set_vring_enable},
      {vu::SEND_RARP, kU64, Fds::None, Index::None, send_rarp},
      {vu::NET_SET_MTU, kU64, Fds::None, Index::None, net_set_mtu},
      {vu::SET_STATUS, kU64, Fds::None, Index::None, set_status},
      {vu::GET_STATUS, 0, Fds::None, Index::None, get_status},
      // Checked like the others, then answered "not supported".
      {vu::SET_LOG_FD, kU64, Fds::One, Index::None, nullptr},
      {vu::RESET_DEVICE, 0, Fds::None, Index::None, nullptr},
  };

  static const Entry* find(uint32_t req) {
    for (const Entry& e : kTable)
      if (e.req == req) return &e;
    return nullptr;
  }
  static size_t fds_wanted(const Entry& e, const vu::Msg& m, size_t nfds);
  static unsigned index_of(const Entry& e, const vu::Msg& m);
  static std::optional<Outcome> check(Server& s, const Entry& e, vu::Msg& m, int* fds, size_t nfds);
  static Outcome unsupported(Server& s, uint32_t req, int* fds, size_t nfds);
};

size_t Server::Requests::fds_wanted(const Entry& e, const vu::Msg& m, size_t nfds) {
  switch (e.fds) {
    case Fds::None:
      return 0;
    case Fds::One:
      return 1;
    case Fds::VringFd:
      return (m.p.u64 & vu::VRING_NOFD) ? 0 : 1;
    case Fds::AtMostOne:
      return nfds <= 1 ? nfds : 1;
    case Fds::PerRegion:
      return m.p.mem.nregions;
  }
  return 0;
}

unsigned Server::Requests::index_of(const Entry& e, const vu::Msg& m) {
  switch (e.index) {
    case Index::None:
      return 0;
    case Index::State:
      return m.p.state.index;
    case Index::Addr:
      return m.p.addr.index;
    case Index::U64:
      return static_cast<unsigned>(m.p.u64 & vu::VRING_IDX_MASK);
  }
  return 0;
}

Server::Outcome Server::Requests::unsupported(Server& s, uint32_t req, int* fds, size_t nfds) {
  vu::close_fds(fds, nfds);
  ++s.st_.unsupported;
  s.conn_log(RTE_LOG_NOTICE, "request %s (%u) not supported", vu::req_name(req), req);
  return Outcome::Unsupported;
}

// Size for the type, fd count, vring index: nothing when the message may go
// to its handler, else the outcome (the fds closed).
std::optional<Server::Outcome> Server::Requests::check(Server& s, const Entry& e, vu::Msg& m, int* fds, size_t nfds) {
  if (e.size == kSizeVaries) {
    if (m.hdr.size < 8 || m.p.mem.nregions == 0 || m.p.mem.nregions > vu::kMaxRegions ||
        m.hdr.size != 8 + sizeof(vu::MemRegion) * m.p.mem.nregions) {
      vu::close_fds(fds, nfds);
      return s.bad(m, "size %u does not fit %u regions", m.hdr.size, m.p.mem.nregions);
    }
  } else if (m.hdr.size != e.size) {
    vu::close_fds(fds, nfds);
    return s.bad(m, "payload size %u, expected %u", m.hdr.size, e.size);
  }
  if (const size_t want = fds_wanted(e, m, nfds); nfds != want) {
    vu::close_fds(fds, nfds);
    return s.bad(m, "%zu fds, expected %zu", nfds, want);
  }
  if (const unsigned idx = index_of(e, m); idx >= s.nvrings_) {
    vu::close_fds(fds, nfds);
    return s.bad(m, "vring index %u, only %u vrings", idx, s.nvrings_);
  }
  return std::nullopt;
}

Server::Outcome Server::dispatch(vu::Msg& m, int* fds, size_t nfds, vu::Msg& reply) {
  const Requests::Entry* e = Requests::find(m.hdr.request);
  if (!e) return Requests::unsupported(*this, m.hdr.request, fds, nfds);
  if (const auto o = Requests::check(*this, *e, m, fds, nfds)) return *o;
  if (!e->fn) return Requests::unsupported(*this, m.hdr.request, fds, nfds);
  const unsigned idx = Requests::index_of(*e, m);
  Req r{m, fds, nfds, idx, vrings_[idx], reply, ring::layout_of(features_)};
  return e->fn(*this, r);
}

// ---- the handlers ----------------------------------------------------------

Server::Outcome Server::Requests::set_features(Server& s, Req& r) {
  const uint64_t f = r.m.p.u64;
  if (f & ~kOfferedFeatures) return s.bad(r.m, "features 0x%" PRIx64 " include bits not offered", f);
  if (f != s.features_)
    for (unsigned i = 0; i < s.nvrings_; ++i)
      if (s.vrings_[i].armed) return s.bad(r.m, "features changed while vring %u runs", i);
  s.features_ = f;
  return Outcome::Ok;
}

Server::Outcome Server::Requests::set_protocol_features(Server& s, Req& r) {
  if (r.m.p.u64 & ~kOfferedProtocolFeatures)
    return s.bad(r.m, "protocol features 0x%" PRIx64 " include bits not offered", r.m.p.u64);
  s.protocol_features_ = r.m.p.u64;
  return Outcome::Ok;
}

// Back to a fresh connection: rings, memory table, features, protocol
// features and status all go (the frontend starts over with SET_OWNER).
Server::Outcome Server::Requests::reset_owner(Server& s, Req&) {
  for (unsigned i = 0; i < s.nvrings_; ++i) s.reset_vring(i);
  s.quarantine_if_abandoned();
  s.mem_.clear();
  s.features_ = s.protocol_features_ = 0;
  s.status_ = 0;
  return Outcome::Ok;
}

Server::Outcome Server::Requests::set_mem_table(Server& s, Req& r) {
  bool was[2 * kMaxQueuePairs];
  s.memory_changed_prepare(was);
  const int rc = s.mem_.set_table(r.m.p.mem.regions, r.m.p.mem.nregions, r.fds, r.nfds);
  if (rc != 0) {
    for (unsigned i = 0; i < s.nvrings_; ++i)
      if (was[i]) s.disarm(i);
    return s.bad(r.m, "memory table rejected (%s)", std::strerror(-rc));
  }
  return s.memory_changed_finish(r.m, was);
}

Server::Outcome Server::Requests::add_mem_reg(Server& s, Req& r) {
  bool was[2 * kMaxQueuePairs];
  s.memory_changed_prepare(was);
  const int rc = s.mem_.add_region(r.m.p.one.region, r.fds[0]);
  if (rc != 0) {
    s.memory_changed_finish(r.m, was);
    return s.bad(r.m, "region rejected (%s)", std::strerror(-rc));
  }
  return s.memory_changed_finish(r.m, was);
}

Server::Outcome Server::Requests::rem_mem_reg(Server& s, Req& r) {
  vu::close_fds(r.fds, r.nfds);
  bool was[2 * kMaxQueuePairs];
  s.memory_changed_prepare(was);
  const int rc = s.mem_.remove_region(r.m.p.one.region);
  const Outcome o = s.memory_changed_finish(r.m, was);
  if (rc != 0) return Outcome::Nack;
  return o;
}

Server::Outcome Server::Requests::set_vring_num(Server& s, Req& r) {
  const uint32_t n = r.m.p.state.num;
  if (!ring::size_ok(r.layout, n))
    return s.bad(r.m, "vring %u: size %u invalid for a %s ring", r.idx, n, ring::layout_name(r.layout));
  s.disarm(r.idx);
  r.v.num = n;
  return Outcome::Ok;
}

Server::Outcome Server::Requests::set_vring_addr(Server& s, Req& r) {
  const auto& a = r.m.p.addr;
  if (a.flags & ~uint32_t{1}) return s.bad(r.m, "vring %u: unknown address flags 0x%x", r.idx, a.flags);
  const bool was_armed = r.v.armed;
  s.disarm(r.idx);
  r.v.addr = a;
  r.v.has_addr = true;
  if (was_armed && s.arm(r.idx, true) != 0) return s.bad(r.m, "vring %u: new addresses unusable", r.idx);
  return Outcome::Ok;
}

// The ring state word: see ring::base_word_ok() (device_queue.h).
Server::Outcome Server::Requests::set_vring_base(Server& s, Req& r) {
  const uint32_t b = r.m.p.state.num;
  if (!ring::base_word_ok(r.layout, b, r.v.num)) return s.bad(r.m, "vring %u: base 0x%x invalid", r.idx, b);
  s.disarm(r.idx);
  r.v.base = b;
  return Outcome::Ok;
}

Server::Outcome Server::Requests::get_vring_base(Server& s, Req& r) {
  Vring& v = r.v;
  quiesce(v);
  const uint32_t pos = v.armed ? v.dq.base_word() : v.base;
  s.reset_vring(r.idx);  // the ring is stopped (vhost-user: GET_VRING_BASE stops it)
  v.base = pos;
  r.reply.hdr = {r.m.hdr.request, vu::FLAG_VERSION | vu::FLAG_REPLY, sizeof(vu::VringState)};
  r.reply.p.state = {r.idx, pos};
  return Outcome::Replied;
}

Server::Outcome Server::Requests::set_vring_kick(Server& s, Req& r) {
  Vring& v = r.v;
  if (r.nfds && s.check_vring_fd(r.m, r.idx, r.fds[0], false) != 0) {
    vu::close_fds(r.fds, r.nfds);
    return s.bad(r.m, "vring %u: the kick fd is not an eventfd", r.idx);
  }
  close_fd(v.kick_fd);
  v.kick_fd = r.nfds ? r.fds[0] : -1;  // we poll; the fd only marks the ring started
  v.kicked = true;
  if (!has(s.features_, virtio::feat::PROTOCOL_FEATURES)) v.enabled = true;
  if (!v.armed) {
    if (v.num == 0 || !v.has_addr) return s.bad(r.m, "vring %u kicked before its size and addresses", r.idx);
    if (s.mem_.count() == 0) return s.bad(r.m, "vring %u kicked before any memory table", r.idx);
    if (s.arm(r.idx, false) != 0) return s.bad(r.m, "vring %u cannot start", r.idx);
  }
  return Outcome::Ok;
}

Server::Outcome Server::Requests::set_vring_call(Server& s, Req& r) {
  if (r.nfds && s.check_vring_fd(r.m, r.idx, r.fds[0], true) != 0) {
    vu::close_fds(r.fds, r.nfds);
    return s.bad(r.m, "vring %u: the call fd is not an eventfd (or cannot be made non-blocking)", r.idx);
  }
  quiesce(r.v);  // the data path reads call_fd; update_locked() republishes
  close_fd(r.v.call_fd);
  r.v.call_fd = r.nfds ? r.fds[0] : -1;
  return Outcome::Ok;
}

Server::Outcome Server::Requests::set_vring_err(Server& s, Req& r) {
  if (r.nfds && s.check_vring_fd(r.m, r.idx, r.fds[0], false) != 0) {
    vu::close_fds(r.fds, r.nfds);
    return s.bad(r.m, "vring %u: the error fd is not an eventfd", r.idx);
  }
  vu::close_fds(r.fds, r.nfds);  // no error notifications are ever sent
  return Outcome::Ok;
}

Server::Outcome Server::Requests::set_vring_enable(Server& s, Req& r) {
  if (r.m.p.state.num > 1) return s.bad(r.m, "vring %u: enable value %u", r.idx, r.m.p.state.num);
  r.v.enabled = r.m.p.state.num == 1;
  return Outcome::Ok;
}

// The MAC is the payload's first 6 bytes; a request still pending is
// replaced whole (rarp.h).
Server::Outcome Server::Requests::send_rarp(Server& s, Req& r) {
  uint8_t mac[6];
  std::memcpy(mac, &r.m.p.u64, sizeof mac);
  s.rarp_.post(mac);
  s.conn_log(RTE_LOG_INFO, "SEND_RARP for %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
  return Outcome::Ok;
}

Server::Outcome Server::Requests::net_set_mtu(Server& s, Req& r) {
  if (r.m.p.u64 < 68 || r.m.p.u64 > 65535) {
    s.conn_log(RTE_LOG_ERR, "NET_SET_MTU %" PRIu64 " out of range", r.m.p.u64);
    return Outcome::Nack;
  }
  s.mtu_ = static_cast<uint16_t>(r.m.p.u64);
  return Outcome::Ok;
}

Server::Outcome Server::Requests::set_status(Server& s, Req& r) {
  if (r.m.p.u64 > 0xff) return s.bad(r.m, "status 0x%" PRIx64 " wider than 8 bits", r.m.p.u64);
  s.status_ = static_cast<uint8_t>(r.m.p.u64);
  return Outcome::Ok;
}

}  // namespace vnet::vhost
