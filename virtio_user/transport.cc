// VhostUserTransport: handshake at probe, feature commit at configure, and
// the start sequence (memory table, per-ring NUM/BASE/ADDR/KICK/CALL, enable,
// DRIVER_OK). stop() sends GET_VRING_BASE for every ring, which stops the
// backend touching them before the driver reclaims its buffers.
#include "virtio_user/transport.h"

#include <rte_eal_memconfig.h>
#include <rte_memory.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "net/log.h"
#include "virtio/features.h"

namespace vnet::virtio_user {

namespace vu = vnet::vhost_user;
using virtio::bit;
using virtio::has;

VhostUserTransport::~VhostUserTransport() { close_eventfds(); }

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
  int rc;
  if (o.server) {
    rc = fe_.listen(o.path);
    if (rc == 0) rc = fe_.accept_peer(o.connect_timeout_ms);
  } else {
    rc = fe_.connect(o.path, o.connect_timeout_ms);
  }
  if (rc != 0) {
    VNET_USER_LOG(ERR, "%s %s: %s", o.server ? "no backend connected to" : "cannot connect to", o.path.c_str(),
                  strerror(-rc));
    return rc;
  }
  return handshake();
}

int VhostUserTransport::handshake() {
  int rc = fe_.set_owner();
  uint64_t f = 0;
  if (rc == 0) rc = fe_.get_features(&f);
  if (rc != 0) {
    VNET_USER_LOG(ERR, "%s: backend did not answer SET_OWNER/GET_FEATURES: %s", opt_.path.c_str(), strerror(-rc));
    return rc;
  }
  proto_bit_ = has(f, virtio::feat::PROTOCOL_FEATURES);
  dev_features_ = f & ~bit(virtio::feat::PROTOCOL_FEATURES);
  max_qp_ = 1;
  if (proto_bit_) {
    uint64_t pf = 0;
    if ((rc = fe_.get_protocol_features(&pf)) != 0) return rc;
    const uint64_t ours = bit(vu::pf::MQ) | bit(vu::pf::REPLY_ACK) | bit(vu::pf::CONFIGURE_MEM_SLOTS) |
                          bit(vu::pf::STATUS);
    if ((rc = fe_.set_protocol_features(pf & ours)) != 0) return rc;
    if (fe_.has_proto(vu::pf::MQ) && has(dev_features_, virtio::feat::NET_MQ)) {
      uint64_t nq = 0;
      if ((rc = fe_.get_queue_num(&nq)) != 0) return rc;
      max_qp_ = static_cast<uint16_t>(std::min<uint64_t>(nq ? nq : 1, 128));
    }
  }
  VNET_USER_LOG(INFO, "%s: backend offers features 0x%llx, protocol features 0x%llx, %u queue pairs",
                opt_.path.c_str(), static_cast<unsigned long long>(f),
                static_cast<unsigned long long>(fe_.protocol_features()), max_qp_);
  return 0;
}

int VhostUserTransport::set_features(uint64_t features) {
  features_ = features;
  // The vhost-user protocol bit is ours to keep set: it makes rings start
  // disabled until SET_VRING_ENABLE, which is what we want.
  const uint64_t wire = features | (proto_bit_ ? bit(virtio::feat::PROTOCOL_FEATURES) : 0);
  return fe_.set_features(wire);
}

int VhostUserTransport::setup_queue(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) {
  if (vq >= kMaxVqs) return -EINVAL;
  addrs_[vq] = a;
  if (kickfd_[vq] < 0) kickfd_[vq] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (callfd_[vq] < 0) callfd_[vq] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (kickfd_[vq] < 0 || callfd_[vq] < 0) return -errno;
  kick->fd = kickfd_[vq];
  kick->mmio = nullptr;
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
    VNET_USER_LOG(ERR, "EAL memory is not backed by shareable fds (use --no-huge or hugepages; "
                       "not --legacy-mem without files)");
    return -ENOTSUP;
  }
  if (w.regions.size() <= vu::kMaxRegions) return fe_.set_mem_table(w.regions);
  // More regions than SET_MEM_TABLE carries: add them one by one.
  if (!fe_.has_proto(vu::pf::CONFIGURE_MEM_SLOTS)) {
    VNET_USER_LOG(ERR, "%zu memory regions but the backend has no CONFIGURE_MEM_SLOTS; "
                       "use --single-file-segments", w.regions.size());
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
  if (!fe_.connected()) return -ENOTCONN;
  nvqs_ = nvqs;
  int rc = send_mem_table();
  for (uint16_t q = 0; rc == 0 && q < nvqs; ++q) {
    const net::QueueAddrs& a = addrs_[q];
    rc = fe_.set_vring_num(q, a.size);
    // packed: index 0 with the wrap counter (1) in bit 15
    if (rc == 0) rc = fe_.set_vring_base(q, has(features_, virtio::feat::RING_PACKED) ? 0x8000u : 0u);
    if (rc == 0) rc = fe_.set_vring_addr(q, a.desc, a.avail, a.used);
    if (rc == 0) rc = fe_.set_vring_fd(vu::SET_VRING_KICK, q, kickfd_[q]);
    if (rc == 0) rc = fe_.set_vring_fd(vu::SET_VRING_CALL, q, callfd_[q]);
  }
  for (uint16_t q = 0; rc == 0 && proto_bit_ && q < nvqs; ++q) rc = fe_.set_vring_enable(q, true);
  if (rc == 0 && fe_.has_proto(vu::pf::STATUS))
    rc = fe_.set_status(virtio::status::ACKNOWLEDGE | virtio::status::DRIVER | virtio::status::FEATURES_OK |
                        virtio::status::DRIVER_OK);
  if (rc != 0) {
    VNET_USER_LOG(ERR, "%s: ring set-up refused by the backend: %s", opt_.path.c_str(), strerror(-rc));
    return rc;
  }
  running_ = true;
  return 0;
}

int VhostUserTransport::stop() {
  if (!running_) return 0;
  running_ = false;
  int first = 0;
  for (uint16_t q = 0; q < nvqs_ && fe_.connected(); ++q) {
    uint32_t base = 0;
    if (proto_bit_) fe_.set_vring_enable(q, false);
    if (int rc = fe_.get_vring_base(q, &base); rc != 0 && first == 0) first = rc;
  }
  return first;
}

}  // namespace vnet::virtio_user
