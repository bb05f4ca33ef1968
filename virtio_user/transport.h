// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// VhostUserTransport: the net::Transport of a virtio-user port. The device
// is a vhost-user backend; guest memory is this process's EAL memory, shared
// by fd (memory table from the memsegs, one region per contiguous fd range);
// addresses handed to the backend are our own virtual addresses.
#pragma once

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <string>

#include "net/transport.h"
#include "ring/memory.h"
#include "ring/device_queue.h"
#include "virtio_user/frontend.h"

namespace vnet::virtio_user {

struct UserOptions {
  std::string path;
  bool server = false;
  uint16_t queues = 1;
  bool cq = false;                // offer the control virtqueue (served here: backends never see it)
  int connect_timeout_ms = 3000;  // client mode, at probe; server mode accepts in the background
};

class VhostUserTransport final : public net::Transport {
 public:
  ~VhostUserTransport() override;
  // Connect (or listen and wait for the backend) and learn what it offers.
  int open(const UserOptions& o);

  const char* name() const override { return "vhost-user"; }
  uint64_t device_features() const override;
  int set_features(uint64_t features) override;
  bool read_config(virtio::NetConfig*) override { return false; }
  uint16_t max_queue_pairs() const override { return max_qp_; }
  uint32_t max_queue_size() const override { return 0; }
  bool uses_va() const override { return true; }
  int setup_queue(uint16_t vq, const net::QueueAddrs& a, net::Notifier* kick) override;
  int start(uint16_t nvqs) override;
  int stop() override;
  bool link_up() override;
  void set_event_handler(net::TransportEventFn fn, void* arg) override;
  void hold(bool on) override;

 private:
  int handshake();
  int recommit_features();
  uint16_t ctrl_index() const;
  static void* monitor_main(void* arg);
  void monitor();
  void notify(net::TransportEvent ev);
  int send_mem_table();
  void close_eventfds();
  int ctrl_device_start();
  uint8_t ctrl_exec(const uint8_t* cmd, uint32_t len);
  // The control queue's kick (its Notifier::write): serve every pending
  // command before the driver polls for its used entry.
  void serve_ctrl();

  static constexpr uint16_t kMaxVqs = 2 * 128 + 1;
  UserOptions opt_;
  Frontend fe_;
  uint64_t dev_features_ = 0;  // as offered, without the vhost-user protocol bit
  bool proto_bit_ = false;     // backend offered VHOST_USER_F_PROTOCOL_FEATURES
  uint64_t features_ = 0;
  uint16_t max_qp_ = 1;
  uint16_t nvqs_ = 0;
  bool running_ = false;
  net::QueueAddrs addrs_[kMaxVqs] = {};
  int kickfd_[kMaxVqs];
  int callfd_[kMaxVqs];
  bool fds_init_ = false;
  // The control virtqueue, device side, served in this process.
  static constexpr uint16_t kNoCtrl = UINT16_MAX;
  bool ctrl_running_ = false;
  ring::RegionTable ctrl_mem_;  // our own memory, identity-mapped
  ring::DeviceQueue<ring::RegionTable> ctrl_dq_;
  uint16_t active_qp_ = 1;
  // The socket monitor (a DPDK control thread): sees the backend go away,
  // reconnects (client) or accepts (server), then reports Down/Up.
  std::mutex mu_;  // every use of fe_ and the negotiation state
  pthread_t monitor_{};
  bool monitor_running_ = false;
  std::atomic<bool> quit_{false};
  std::atomic<net::TransportEventFn> ev_fn_{nullptr};
  std::atomic<void*> ev_arg_{nullptr};
  bool assumed_ = false;  // server mode, no backend yet: dev_features_ is what we expect
  // hold(): an eventfd kept readable while any hold is in force; every
  // request but stop()'s waits on it (Frontend::set_pace).
  std::mutex hold_mu_;  // the count and the fd's level only; never held over I/O
  unsigned holds_ = 0;
  int hold_fd_ = -1;
  std::atomic<bool> link_{false};  // connected and started: read without mu_
};

}  // namespace vnet::virtio_user
