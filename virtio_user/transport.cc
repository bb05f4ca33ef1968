// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// VhostUserTransport: handshake at probe, feature commit at configure, and
// the start sequence (memory table, per-ring NUM/BASE/ADDR/KICK/CALL, enable,
// DRIVER_OK). stop() sends GET_VRING_BASE for every ring, which stops the
// backend touching them before the driver reclaims its buffers.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "virtio_user/transport.h"

#include <rte_eal_memconfig.h>
#include <rte_memory.h>
#include <poll.h>
#include <rte_lcore.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/c_entry.h"
#include "common/log.h"
#include "virtio/features.h"
#include "virtio/net_ctrl.h"

namespace vnet::virtio_user {

namespace vu = vnet::vhost_user;
using virtio::bit;
using virtio::has;
namespace vc = virtio::ctrl;

namespace {
// What the in-process control queue serves; a backend's own offer of these
// bits means nothing over vhost-user (it never sees the control queue).
constexpr uint64_t kCtrlFeatures = bit(virtio::feat::NET_CTRL_VQ) | bit(virtio::feat::NET_CTRL_RX) |
                                   bit(virtio::feat::NET_CTRL_VLAN) | bit(virtio::feat::NET_CTRL_MAC_ADDR);
constexpr uint64_t kFrontendOnly =
    kCtrlFeatures | bit(virtio::feat::NET_CTRL_RX_EXTRA) | bit(virtio::feat::NET_GUEST_ANNOUNCE);
}  // namespace

uint64_t VhostUserTransport::device_features() const {
  uint64_t f = dev_features_ & ~kFrontendOnly;
  if (opt_.cq) f |= kCtrlFeatures;
  // Multi-queue needs the backend's MQ (feature and protocol) and a control queue to set the pairs.
  if (!opt_.cq || max_qp_ < 2) f &= ~bit(virtio::feat::NET_MQ);
  return f;
}

VhostUserTransport::~VhostUserTransport() {
  quit_ = true;
  hold(true);  // a monitor in the middle of a handshake gives up now
  // A monitor stuck waiting for a reply (a backend that accepted and went
  // silent) wakes up now instead of after the reply timeout.
  if (const int s = fe_.sock(); s >= 0) ::shutdown(s, SHUT_RDWR);
  if (monitor_running_) pthread_join(monitor_, nullptr);
  close_eventfds();
  if (hold_fd_ >= 0) ::close(hold_fd_);
}

void VhostUserTransport::hold(bool on) {
  const std::lock_guard<std::mutex> g(hold_mu_);
  if (hold_fd_ < 0) return;
  uint64_t v = 1;
  if (on && holds_++ == 0) {
    [[maybe_unused]] ssize_t r = ::write(hold_fd_, &v, sizeof v);  // readable: waits end
  } else if (!on && holds_ > 0 && --holds_ == 0) {
    [[maybe_unused]] ssize_t r = ::read(hold_fd_, &v, sizeof v);  // drained: waits wait again
  }
}

void VhostUserTransport::close_eventfds() {
  if (!fds_init_) return;
  for (uint16_t i = 0; i < kMaxVqs; ++i) {
    if (kickfd_[i] >= 0) ::close(kickfd_[i]);
    if (callfd_[i] >= 0) ::close(callfd_[i]);
    kickfd_[i] = callfd_[i] = -1;
  }
}

int VhostUserTransport::open(const UserOptions& o) {
  opt_ = o;
  for (uint16_t i = 0; i < kMaxVqs; ++i) kickfd_[i] = callfd_[i] = -1;
  fds_init_ = true;
  hold_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (hold_fd_ < 0) return -errno;
  fe_.set_pace(-1, hold_fd_);
  int rc;
  if (o.server) {
    rc = fe_.listen(o.path);
    if (rc == 0 && fe_.accept_peer(0) != 0) {
      // No backend yet: the monitor accepts it later. Until then the port
      // describes the device we expect; what the backend really offers is
      // checked against what was negotiated when it connects.
      assumed_ = true;
      proto_bit_ = true;
      dev_features_ = bit(virtio::feat::VERSION_1) | bit(virtio::feat::RING_PACKED) | bit(virtio::feat::IN_ORDER) |
                      bit(virtio::feat::INDIRECT_DESC) | bit(virtio::feat::EVENT_IDX) |
                      bit(virtio::feat::NET_MRG_RXBUF) | bit(virtio::feat::NET_CSUM) |
                      bit(virtio::feat::NET_GUEST_CSUM) | bit(virtio::feat::NET_HOST_TSO4) |
                      bit(virtio::feat::NET_HOST_TSO6) | bit(virtio::feat::NET_GUEST_TSO4) |
                      bit(virtio::feat::NET_GUEST_TSO6) | (o.queues > 1 ? bit(virtio::feat::NET_MQ) : 0);
      max_qp_ = o.queues;
      VNET_USER_LOG(INFO, "%s: listening; the backend may connect any time", o.path.c_str());
    }
  } else {
    rc = fe_.connect(o.path, o.connect_timeout_ms);
  }
  if (rc != 0) {
    VNET_USER_LOG(ERR, "%s %s: %s", o.server ? "cannot listen on" : "cannot connect to", o.path.c_str(), strerror(-rc));
    return rc;
  }
  if (fe_.connected() && (rc = handshake()) != 0) return rc;
  if (rte_ctrl_thread_create(&monitor_, "vnet-vu-mon", nullptr, c_entry<monitor_main>, this) != 0) {
    VNET_USER_LOG(ERR, "%s: cannot start the socket monitor thread", o.path.c_str());
    return -ENOMEM;
  }
  monitor_running_ = true;
  return 0;
}

// Without mu_: a monitor reconnecting to a slow backend holds it for a while.
bool VhostUserTransport::link_up() { return link_.load(std::memory_order_acquire); }

void VhostUserTransport::set_event_handler(net::TransportEventFn fn, void* arg) {
  ev_arg_ = arg;
  ev_fn_ = fn;
}

void VhostUserTransport::notify(net::TransportEvent ev) {
  if (const net::TransportEventFn fn = ev_fn_.load()) fn(ev_arg_.load(), ev);
}

void* VhostUserTransport::monitor_main(void* arg) {
  static_cast<VhostUserTransport*>(arg)->monitor();
  return nullptr;
}

// Runs until the transport is destroyed. Connected: watch the socket for
// hang-up (poll with no events: nothing is read, so it never races the
// control path's request/reply). Disconnected: retry (client) or accept
// (server), redo the handshake and the feature commit, then report Up.
void VhostUserTransport::monitor() {
  while (!quit_) {
    int sock;
    {
      const std::lock_guard<std::mutex> g(mu_);
      sock = fe_.sock();
    }
    if (sock >= 0) {
      pollfd p{sock, 0, 0};
      if (::poll(&p, 1, 100) <= 0 || !(p.revents & (POLLHUP | POLLERR | POLLNVAL))) continue;
      if (quit_) break;  // our own destructor shut the socket down
      {
        const std::lock_guard<std::mutex> g(mu_);
        fe_.disconnect();
        running_ = false;
        link_.store(false, std::memory_order_release);
        ctrl_running_ = false;
      }
      VNET_USER_LOG(WARNING, "%s: backend went away; %s", opt_.path.c_str(),
                    opt_.server ? "waiting for it to connect again" : "reconnecting");
      notify(net::TransportEvent::Down);
      continue;
    }
    int rc;
    if (opt_.server) {
      pollfd p{fe_.listen_fd(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const std::lock_guard<std::mutex> g(mu_);
      rc = fe_.accept_peer(0);
    } else {
      for (int i = 0; i < 5 && !quit_; ++i) ::usleep(50000);  // retry every 250 ms, quit within 50
      if (quit_) break;
      const std::lock_guard<std::mutex> g(mu_);
      rc = fe_.connect(opt_.path, 0);
    }
    if (rc != 0) continue;
    {
      const std::lock_guard<std::mutex> g(mu_);
      rc = handshake();
      if (rc == 0) rc = recommit_features();
      if (rc != 0) fe_.disconnect();
    }
    if (rc != 0) {
      VNET_USER_LOG(ERR, "%s: backend connected but cannot drive this port: %s", opt_.path.c_str(), strerror(-rc));
      for (int i = 0; i < 20 && !quit_; ++i) ::usleep(50000);
      continue;
    }
    VNET_USER_LOG(INFO, "%s: backend connected", opt_.path.c_str());
    notify(net::TransportEvent::Up);
  }
}

// A new backend (or the first one, in server mode): what the port already
// negotiated must be on offer, and is committed again. Caller holds mu_.
int VhostUserTransport::recommit_features() {
  assumed_ = false;
  if (features_ == 0) return 0;  // not configured yet
  const uint64_t need = features_ & ~bit(virtio::feat::PROTOCOL_FEATURES);
  const uint64_t missing = need & ~device_features();
  if (missing) {
    VNET_USER_LOG(ERR, "%s: the backend lacks negotiated features 0x%llx", opt_.path.c_str(),
                  static_cast<unsigned long long>(missing));
    return -ENOTSUP;
  }
  const uint64_t wire = (features_ & ~kFrontendOnly) | (proto_bit_ ? bit(virtio::feat::PROTOCOL_FEATURES) : 0);
  return fe_.set_features(wire);
}

int VhostUserTransport::handshake() {
  const char* step = "SET_OWNER";
  auto failed = [&](int rc) {
    VNET_USER_LOG(ERR, "%s: backend failed %s: %s", opt_.path.c_str(), step,
                  rc == -EPROTO    ? "refused, or answered something that is not the reply"
                  : rc == -EBADMSG ? "malformed message (header, size or fds)"
                                   : strerror(-rc));
    return rc;
  };
  int rc = fe_.set_owner();
  if (rc != 0) return failed(rc);
  uint64_t f = 0;
  step = "GET_FEATURES";
  if ((rc = fe_.get_features(&f)) != 0) return failed(rc);
  proto_bit_ = has(f, virtio::feat::PROTOCOL_FEATURES);
  dev_features_ = f & ~bit(virtio::feat::PROTOCOL_FEATURES);
  max_qp_ = 1;
  if (proto_bit_) {
    uint64_t pf = 0;
    step = "GET_PROTOCOL_FEATURES";
    if ((rc = fe_.get_protocol_features(&pf)) != 0) return failed(rc);
    const uint64_t ours =
        bit(vu::pf::MQ) | bit(vu::pf::REPLY_ACK) | bit(vu::pf::CONFIGURE_MEM_SLOTS) | bit(vu::pf::STATUS);
    step = "SET_PROTOCOL_FEATURES";
    if ((rc = fe_.set_protocol_features(pf & ours)) != 0) return failed(rc);
    if (fe_.has_proto(vu::pf::MQ) && has(dev_features_, virtio::feat::NET_MQ)) {
      uint64_t nq = 0;
      step = "GET_QUEUE_NUM";
      if ((rc = fe_.get_queue_num(&nq)) != 0) return failed(rc);
      max_qp_ = static_cast<uint16_t>(std::min<uint64_t>(nq ? nq : 1, 128));
    }
  }
  VNET_USER_LOG(INFO, "%s: backend offers features 0x%llx, protocol features 0x%llx, %u queue pairs", opt_.path.c_str(),
                static_cast<unsigned long long>(f), static_cast<unsigned long long>(fe_.protocol_features()), max_qp_);
  return 0;
}

uint16_t VhostUserTransport::ctrl_index() const {
  if (!has(features_, virtio::feat::NET_CTRL_VQ)) return kNoCtrl;
  return static_cast<uint16_t>(has(features_, virtio::feat::NET_MQ) ? 2 * max_qp_ : 2);
}

int VhostUserTransport::set_features(uint64_t features) {
  const std::lock_guard<std::mutex> g(mu_);
  features_ = features;
  if (!fe_.connected()) return 0;  // server mode, no backend yet: committed when it connects
  // The vhost-user protocol bit is ours to keep set: it makes rings start
  // disabled until SET_VRING_ENABLE, which is what we want.
  const uint64_t wire = (features & ~kFrontendOnly) | (proto_bit_ ? bit(virtio::feat::PROTOCOL_FEATURES) : 0);
  return fe_.set_features(wire);
}

int VhostUserTransport::setup_queue(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) {
  const std::lock_guard<std::mutex> g(mu_);
  if (vq >= kMaxVqs) return -EINVAL;
  addrs_[vq] = a;
  if (vq == ctrl_index()) {  // served in process: the kick runs serve_ctrl()
    *kick = net::Notifier{};
    kick->write = [](const net::Notifier& n) { static_cast<VhostUserTransport*>(n.ctx)->serve_ctrl(); };
    kick->ctx = this;
    return 0;
  }
  if (kickfd_[vq] < 0) kickfd_[vq] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (callfd_[vq] < 0) callfd_[vq] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (kickfd_[vq] < 0 || callfd_[vq] < 0) return -errno;
  *kick = net::Notifier{};
  kick->fd = kickfd_[vq];
  return 0;
}

namespace {
struct Walk {
  std::vector<MemRegionFd> regions;
};
int collect(const rte_memseg_list* msl, const rte_memseg* ms, void* arg) {
  if (msl->external) return 0;
  auto* w = static_cast<Walk*>(arg);
  const int fd = rte_memseg_get_fd_thread_unsafe(ms);
  size_t off = 0;
  if (fd < 0 || rte_memseg_get_fd_offset_thread_unsafe(ms, &off) < 0) return -1;
  const auto va = reinterpret_cast<uint64_t>(ms->addr);
  if (!w->regions.empty()) {
    MemRegionFd& last = w->regions.back();
    if (last.fd == fd && last.r.user_addr + last.r.size == va && last.r.mmap_offset + last.r.size == off) {
      last.r.size += ms->len;
      last.r.guest_addr = last.r.user_addr;
      return 0;
    }
  }
  w->regions.push_back(MemRegionFd{vu::MemRegion{va, ms->len, va, off}, fd});
  return 0;
}
}  // namespace

int VhostUserTransport::send_mem_table() {
  Walk w;
  rte_mcfg_mem_read_lock();
  const int wrc = rte_memseg_walk_thread_unsafe(collect, &w);
  rte_mcfg_mem_read_unlock();
  if (wrc < 0 || w.regions.empty()) {
    VNET_USER_LOG(ERR,
                  "EAL memory is not backed by shareable fds (use --no-huge or hugepages; "
                  "not --legacy-mem without files)");
    return -ENOTSUP;
  }
  if (w.regions.size() <= vu::kMaxRegions) return fe_.set_mem_table(w.regions);
  // More regions than SET_MEM_TABLE carries: add them one by one.
  if (!fe_.has_proto(vu::pf::CONFIGURE_MEM_SLOTS)) {
    VNET_USER_LOG(ERR,
                  "%zu memory regions but the backend has no CONFIGURE_MEM_SLOTS; "
                  "use --single-file-segments",
                  w.regions.size());
    return -E2BIG;
  }
  uint64_t slots = 0;
  if (int rc = fe_.get_max_mem_slots(&slots)) return rc;
  if (w.regions.size() > slots) {
    VNET_USER_LOG(ERR, "%zu memory regions, backend takes at most %llu", w.regions.size(),
                  static_cast<unsigned long long>(slots));
    return -E2BIG;
  }
  for (const auto& r : w.regions)
    if (int rc = fe_.add_mem_reg(r)) return rc;
  return 0;
}

int VhostUserTransport::start(uint16_t nvqs) {
  const std::lock_guard<std::mutex> g(mu_);
  if (!fe_.connected()) return -ENOTCONN;
  if (nvqs / 2 > max_qp_) {
    VNET_USER_LOG(ERR, "%s: %u queue pairs configured, the backend has %u", opt_.path.c_str(), nvqs / 2, max_qp_);
    return -ENOTSUP;
  }
  nvqs_ = nvqs;
  int rc = send_mem_table();
  for (uint16_t q = 0; rc == 0 && q < nvqs; ++q) {
    const net::QueueAddrs& a = addrs_[q];
    rc = fe_.set_vring_num(q, a.size);
    if (rc == 0) rc = fe_.set_vring_base(q, ring::start_base_word(ring::layout_of(features_)));
    if (rc == 0) rc = fe_.set_vring_addr(q, a.desc, a.avail, a.used);
    if (rc == 0) rc = fe_.set_vring_fd(vu::SET_VRING_KICK, q, kickfd_[q]);
    if (rc == 0) rc = fe_.set_vring_fd(vu::SET_VRING_CALL, q, callfd_[q]);
  }
  // 5.1.6.5.5: with MQ only the first queue pair runs until VQ_PAIRS_SET.
  const bool mq = has(features_, virtio::feat::NET_MQ);
  active_qp_ = mq ? 1 : static_cast<uint16_t>(nvqs / 2);
  for (uint16_t q = 0; rc == 0 && proto_bit_ && q < nvqs; ++q) rc = fe_.set_vring_enable(q, !mq || q < 2);
  if (rc == 0 && ctrl_index() != kNoCtrl) rc = ctrl_device_start();
  if (rc == 0 && fe_.has_proto(vu::pf::STATUS))
    rc = fe_.set_status(virtio::status::ACKNOWLEDGE | virtio::status::DRIVER | virtio::status::FEATURES_OK |
                        virtio::status::DRIVER_OK);
  if (rc != 0) {
    VNET_USER_LOG(ERR, "%s: ring set-up refused by the backend: %s", opt_.path.c_str(), strerror(-rc));
    return rc;
  }
  running_ = true;
  link_.store(true, std::memory_order_release);
  return 0;
}

int VhostUserTransport::stop() {
  const std::lock_guard<std::mutex> g(mu_);
  if (!running_) return 0;
  running_ = false;
  link_.store(false, std::memory_order_release);
  ctrl_running_ = false;
  // Not cancelled by hold() (stop is what the hold is for), but bounded: a
  // backend that stops answering gets kStopTimeoutMs for all rings; the
  // connection is then shut down (Frontend::desync) and the driver
  // reclaims its buffers anyway.
  constexpr int64_t kStopTimeoutMs = 3000;
  fe_.set_pace(vu::now_ns() + kStopTimeoutMs * 1000000, -1);
  int first = 0;
  for (uint16_t q = 0; q < nvqs_ && fe_.connected(); ++q) {
    uint32_t base = 0;
    int rc = proto_bit_ ? fe_.set_vring_enable(q, false) : 0;
    if (rc == 0 || rc == -EPROTO) rc = fe_.get_vring_base(q, &base);
    if (rc != 0 && first == 0) first = rc;
    if (rc != 0 && rc != -EPROTO) {
      VNET_USER_LOG(ERR, "%s: the backend failed while the rings stopped (%s); connection dropped", opt_.path.c_str(),
                    strerror(-rc));
      break;
    }
  }
  fe_.set_pace(-1, hold_fd_);
  return first;
}

}  // namespace vnet::virtio_user

namespace vnet::virtio_user {

namespace {
int identity_region(const rte_memseg_list* msl, const rte_memseg* ms, void* arg) {
  if (msl->external) return 0;
  auto* t = static_cast<ring::RegionTable*>(arg);
  const auto va = reinterpret_cast<uint64_t>(ms->addr);
  // Adjacent segments merge into one region (add() rejects overlaps, not neighbours).
  if (t->count() > 0) {
    const ring::Region& last = (*t)[t->count() - 1];
    if (last.guest + last.size == va) {
      const ring::Region grown{last.guest, last.size + ms->len, last.local};
      t->remove(last.guest, last.size);
      return t->add(grown) == 0 ? 0 : -1;
    }
  }
  return t->add(ring::Region{va, ms->len, static_cast<uint8_t*>(ms->addr)}) == 0 ? 0 : -1;
}
}  // namespace

// The control queue's device side: the driver's ring is in our own memory,
// so the "guest" addresses are our addresses; every descriptor is still
// checked against the memory table like any peer's.
int VhostUserTransport::ctrl_device_start() {
  ctrl_mem_.clear();
  rte_mcfg_mem_read_lock();
  const int wrc = rte_memseg_walk_thread_unsafe(identity_region, &ctrl_mem_);
  rte_mcfg_mem_read_unlock();
  if (wrc < 0) {
    VNET_USER_LOG(ERR, "%s: EAL memory has more than %zu pieces: the control queue cannot map it", opt_.path.c_str(),
                  ring::RegionTable::kMax);
    return -E2BIG;
  }
  const net::QueueAddrs& a = addrs_[ctrl_index()];
  ring::DeviceConfig c;
  c.layout = ring::layout_of(features_);
  c.size = a.size;
  c.event_idx = has(features_, virtio::feat::EVENT_IDX);
  c.in_order = has(features_, virtio::feat::IN_ORDER);
  c.desc = reinterpret_cast<void*>(a.desc);
  c.avail = reinterpret_cast<void*>(a.avail);
  c.used = reinterpret_cast<void*>(a.used);
  const int rc = ctrl_dq_.init(c, &ctrl_mem_);
  ctrl_running_ = rc == 0;
  return rc;
}

// One command (header + payload, already gathered): the ack to write back.
uint8_t VhostUserTransport::ctrl_exec(const uint8_t* cmd, uint32_t len) {
  if (len < sizeof(vc::Hdr)) return vc::ERR;
  const uint8_t cls = cmd[0], op = cmd[1];
  const uint8_t* d = cmd + 2;
  const uint32_t n = len - 2;
  auto le16_at = [](const uint8_t* b) { return static_cast<uint16_t>(b[0] | (b[1] << 8)); };
  auto le32_at = [](const uint8_t* b) {
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  };
  switch (cls) {
    case vc::CLASS_MQ: {
      if (op != vc::MQ_VQ_PAIRS_SET || n != 2 || !has(features_, virtio::feat::NET_MQ)) return vc::ERR;
      const uint16_t pairs = le16_at(d);
      if (pairs < vc::MQ_VQ_PAIRS_MIN || pairs > nvqs_ / 2) {
        VNET_USER_LOG(ERR, "%s: %u queue pairs asked, %u set up", opt_.path.c_str(), pairs, nvqs_ / 2);
        return vc::ERR;
      }
      for (uint16_t q = 0; proto_bit_ && q < nvqs_; ++q)
        if (fe_.set_vring_enable(q, q < 2 * pairs) != 0) {
          VNET_USER_LOG(ERR, "%s: backend refused to %s ring %u", opt_.path.c_str(),
                        q < 2 * pairs ? "enable" : "disable", q);
          return vc::ERR;
        }
      active_qp_ = pairs;
      VNET_USER_LOG(INFO, "%s: %u queue pairs active", opt_.path.c_str(), pairs);
      return vc::OK;
    }
    // vhost-user has no receive filter: the backend hands over every frame
    // (as QEMU's and DPDK's frontends also find). Well-formed filter
    // commands are acknowledged; malformed ones are refused.
    case vc::CLASS_RX:
      return (op == vc::RX_PROMISC || op == vc::RX_ALLMULTI) && n == 1 ? vc::OK : vc::ERR;
    case vc::CLASS_MAC:
      if (op == vc::MAC_ADDR_SET) return n == 6 ? vc::OK : vc::ERR;
      if (op == vc::MAC_TABLE_SET) {
        if (n < 4) return vc::ERR;
        const uint64_t nu = le32_at(d);
        if (n < 8 + 6 * nu) return vc::ERR;
        const uint64_t nm = le32_at(d + 4 + 6 * nu);
        return n == 8 + 6 * (nu + nm) ? vc::OK : vc::ERR;
      }
      return vc::ERR;
    case vc::CLASS_VLAN:
      return (op == vc::VLAN_ADD || op == vc::VLAN_DEL) && n == 2 && le16_at(d) < 4096 ? vc::OK : vc::ERR;
    default:
      return vc::ERR;
  }
}

void VhostUserTransport::serve_ctrl() {
  const std::lock_guard<std::mutex> g(mu_);
  if (!ctrl_running_) return;
  ring::Chain c;
  uint8_t cmd[2048];
  for (;;) {
    const ring::Pop r = ctrl_dq_.pop(c);
    if (r == ring::Pop::Empty) break;
    if (r == ring::Pop::Broken) {
      VNET_USER_LOG(ERR, "%s: the driver's control queue is malformed; control commands stop", opt_.path.c_str());
      ctrl_running_ = false;
      return;
    }
    uint32_t len = 0, wrote = 0;
    bool fits = true;
    for (uint16_t i = 0; r == ring::Pop::Ok && i < c.nout; ++i) {
      if (len + c.segs[i].len > sizeof cmd) {
        fits = false;
        break;
      }
      std::memcpy(cmd + len, c.segs[i].ptr, c.segs[i].len);
      len += c.segs[i].len;
    }
    if (r == ring::Pop::Ok && c.nseg > c.nout && c.segs[c.nout].len >= 1) {
      *c.segs[c.nout].ptr = fits ? ctrl_exec(cmd, len) : vc::ERR;
      wrote = 1;
    }
    ctrl_dq_.push_used(c.head, c.ndesc, wrote);
  }
  ctrl_dq_.flush();
  // This device runs only when kicked, so it asks for every kick: with
  // EVENT_IDX the driver kicks only past the event index (2.7.10, 2.8.10).
  ctrl_dq_.enable_kicks();
}

}  // namespace vnet::virtio_user
