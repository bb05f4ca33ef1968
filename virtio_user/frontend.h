// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// vhost-user frontend: the protocol client that drives a vhost-user backend
// (ours, DPDK's net_vhost, or any other) over a unix socket, in client mode
// (we connect) or server mode (we listen, the backend connects). Control path
// only; every reply is checked against the request it answers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vhost_user/protocol.h"

namespace vnet::virtio_user {

struct MemRegionFd {
  vhost_user::MemRegion r;
  int fd;
};

class Frontend {
 public:
  Frontend() = default;
  ~Frontend();
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;

  // Client mode: connect to path (retrying for up to timeout_ms).
  int connect(const std::string& path, int timeout_ms);
  // Server mode: create the listening socket; accept_peer() waits for a backend.
  int listen(const std::string& path);
  int accept_peer(int timeout_ms);
  bool connected() const { return sock_ >= 0; }
  int listen_fd() const { return listen_fd_; }
  int sock() const { return sock_; }
  void disconnect();
  void close_all();

  // Protocol. Each returns 0 or -errno (-EPROTO: the backend said no or
  // answered with something that is not a reply to our request).
  int get_features(uint64_t* f) { return get_u64(vhost_user::GET_FEATURES, f); }
  int set_features(uint64_t f) { return set_u64(vhost_user::SET_FEATURES, f); }
  int get_protocol_features(uint64_t* f) { return get_u64(vhost_user::GET_PROTOCOL_FEATURES, f); }
  int set_protocol_features(uint64_t f);
  int set_owner() { return request(vhost_user::SET_OWNER, nullptr, 0); }
  int get_queue_num(uint64_t* n) { return get_u64(vhost_user::GET_QUEUE_NUM, n); }
  int get_max_mem_slots(uint64_t* n) { return get_u64(vhost_user::GET_MAX_MEM_SLOTS, n); }
  int set_mem_table(const std::vector<MemRegionFd>& regions);
  int add_mem_reg(const MemRegionFd& r);
  int set_vring_num(uint32_t idx, uint32_t num) { return set_state(vhost_user::SET_VRING_NUM, idx, num); }
  int set_vring_base(uint32_t idx, uint32_t base) { return set_state(vhost_user::SET_VRING_BASE, idx, base); }
  int set_vring_enable(uint32_t idx, bool on) { return set_state(vhost_user::SET_VRING_ENABLE, idx, on); }
  int set_vring_addr(uint32_t idx, uint64_t desc, uint64_t avail, uint64_t used);
  int get_vring_base(uint32_t idx, uint32_t* base);
  int set_vring_fd(uint32_t req, uint32_t idx, int fd);  // KICK / CALL / ERR; fd < 0: none
  int set_status(uint8_t s) { return set_u64(vhost_user::SET_STATUS, s); }
  int get_status(uint8_t* s);
  int net_set_mtu(uint16_t mtu) { return set_u64(vhost_user::NET_SET_MTU, mtu); }

  // How requests are paced: each reply within kReplyTimeoutMs, and all of
  // them before `op_deadline_ns` (CLOCK_MONOTONIC, -1: no such bound); while
  // `cancel_fd` (an eventfd, or -1) is readable, every wait ends at once.
  // A request that fails on the wire (timeout, cancel, malformed or
  // mismatched reply) leaves the socket shut down: its reply may still come,
  // so the connection is out of step and must be made again.
  void set_pace(int64_t op_deadline_ns, int cancel_fd) {
    op_deadline_ns_ = op_deadline_ns;
    cancel_fd_ = cancel_fd;
  }

  uint64_t protocol_features() const { return proto_; }
  bool has_proto(unsigned bit) const { return (proto_ >> bit) & 1; }

 private:
  int request(uint32_t req, const void* payload, uint32_t size, const int* fds = nullptr, size_t nfds = 0,
              bool ack = true);
  int wait_reply(uint32_t req, vhost_user::Msg& r);
  int get_u64(uint32_t req, uint64_t* v);
  int set_u64(uint32_t req, uint64_t v);
  int set_state(uint32_t req, uint32_t idx, uint32_t num);
  vhost_user::Pace pace() const;
  int desync(int rc);

  int sock_ = -1;
  int listen_fd_ = -1;
  std::string path_;
  uint64_t proto_ = 0;  // negotiated protocol features
  int64_t op_deadline_ns_ = -1;
  int cancel_fd_ = -1;
};

}  // namespace vnet::virtio_user
