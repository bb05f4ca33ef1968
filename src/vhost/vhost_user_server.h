// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The backend's side of the vhost-user protocol: the socket (listen at
// probe, or connect with retry), the control thread, and the state machine
// that turns frontend messages into armed device rings. Invariants: every
// message is validated (size for its type, fd count, queue index, ring size,
// ring addresses inside mapped memory) before it changes anything; a
// malformed one is counted, logged and closes the connection; a ring is
// changed only after quiesce(); the data path never takes this class's lock;
// no socket I/O happens under it, and each message and reply has a deadline.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <cstdint>
#include <mutex>
#include <string>

#include "vhost/guest_memory.h"
#include "vhost/rarp.h"
#include "vhost/vring.h"
#include "virtio/features.h"
#include "vhost_user/protocol.h"

namespace vnet::vhost {

inline constexpr uint16_t kMaxQueuePairs = 16;

// Virtio features offered to the frontend (no CTRL_VQ: no control queue here).
inline constexpr uint64_t kOfferedFeatures =
    virtio::bit(virtio::feat::VERSION_1) | virtio::bit(virtio::feat::RING_PACKED) |
    virtio::bit(virtio::feat::IN_ORDER) | virtio::bit(virtio::feat::INDIRECT_DESC) |
    virtio::bit(virtio::feat::EVENT_IDX) | virtio::bit(virtio::feat::NET_MRG_RXBUF) |
    virtio::bit(virtio::feat::NET_MQ) | virtio::bit(virtio::feat::NET_MTU) | virtio::bit(virtio::feat::NET_STATUS) |
    virtio::bit(virtio::feat::PROTOCOL_FEATURES);

inline constexpr uint64_t kOfferedProtocolFeatures =
    virtio::bit(vhost_user::pf::MQ) | virtio::bit(vhost_user::pf::REPLY_ACK) | virtio::bit(vhost_user::pf::RARP) |
    virtio::bit(vhost_user::pf::MTU) | virtio::bit(vhost_user::pf::CONFIGURE_MEM_SLOTS) |
    virtio::bit(vhost_user::pf::STATUS);

struct ServerConfig {
  uint16_t queue_pairs = 1;                       // 1..kMaxQueuePairs; vrings = 2 * queue_pairs
  uint16_t port_id = 0;                           // stamped on received mbufs
  std::string name = "vhost";                     // for log lines
  uint64_t max_mem = GuestMemory::kDefaultLimit;  // bytes of guest memory mapped at most
  int msg_timeout_ms = 2000;                      // one whole message, or one reply, once it began
};

struct ServerStats {
  uint64_t messages = 0;
  uint64_t errors = 0;  // malformed or invalid messages (each closed the connection)
  uint64_t unsupported = 0;
  uint64_t connects = 0;
  uint64_t disconnects = 0;
  uint64_t mem_faults = 0;  // accesses to guest memory the frontend took away (each broke the connection)
  uint64_t timeouts = 0;    // messages or replies that missed their deadline (each closed the connection)
};

class Server {
 public:
  using LinkHook = void (*)(void* ctx, bool up);

  // `vrings` must hold 2 * cfg.queue_pairs rings and outlive the server.
  Server(Vring* vrings, const ServerConfig& cfg, LinkHook hook = nullptr, void* ctx = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // ---- socket and thread ---------------------------------------------
  int listen(const char* path);        // server mode: bind + listen now
  int set_client(const char* path);    // client mode: the thread connects and retries
  int start(const char* thread_name);  // the control thread
  void stop();                         // join the thread, drop the frontend, close (and unlink) the socket

  // ---- protocol --------------------------------------------------------
  // Receive one message from `sock` and act on it. 0: handled (a reply, if
  // due, was sent); < 0: the connection must be closed (the caller closes
  // it and calls disconnect()).
  int handle_one(int sock);
  // Forget the frontend: stop every ring, close its fds, unmap its memory.
  void disconnect();

  // ---- the ethdev side (control path) -------------------------------------
  void attach(unsigned vring, rte_mempool* mp, bool on);  // queue set up / released
  void set_started(bool on);
  bool link_up() const { return link_.load(std::memory_order_acquire); }
  ServerStats stats() const;
  // Run f(stats) with the control thread held off: the rings' control state
  // (layout, error counts folded at each re-arm) stays still while f reads
  // it. Never held over socket I/O; f must not call back into the server.
  template <class F>
  void with_control_held(F&& f) const {
    std::lock_guard<std::mutex> g(mu_);
    f(static_cast<const ServerStats&>(st_));
  }
  uint64_t features() const;
  uint16_t mtu() const;
  // SEND_RARP asked for a RARP announcement of `mac` (after a migration);
  // returns true once per request and fills mac.
  bool take_rarp(uint8_t mac[6]) { return rarp_.take(mac); }
  // Where SEND_RARP requests wait: the port's Rx queue 0 takes them.
  RarpMailbox& rarp_mailbox() { return rarp_; }
  unsigned vring_count() const { return nvrings_; }
  bool vring_ready(unsigned i) const { return vrings_[i].gate.is_open(); }

 private:
  enum class Outcome : uint8_t { Ok, Replied, Nack, Unsupported, Bad };

  // Acts on one message through the request table (server_requests.cc); a
  // reply of its own (GET_*) is left in `reply` and sent by the caller once
  // the lock is dropped.
  Outcome dispatch(vhost_user::Msg& m, int* fds, size_t nfds, vhost_user::Msg& reply);
  struct Req;       // one message that passed the table's checks
  struct Requests;  // the table and its handlers
  friend struct Requests;
  static void make_u64(vhost_user::Msg& reply, uint32_t req, uint64_t v);  // a reply carrying one u64
  static void close_fd(int& fd);                                           // close if open, then -1
  Outcome bad(const vhost_user::Msg& m, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  // A per-connection log line, at most kLogBurst per second (a frontend must
  // not flood the log); the lines held back are counted in the next one.
  void conn_log(uint32_t level, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  int check_vring_fd(const vhost_user::Msg& m, unsigned idx, int fd, bool notify);
  int arm(unsigned idx, bool keep_pos);
  void disarm(unsigned idx);
  void reset_vring(unsigned idx);
  void disconnect_locked();
  bool update_locked();  // republish readiness; true when the link state changed
  void report(bool changed);
  bool memory_changed_prepare(bool* was_armed);
  void quarantine_if_abandoned();
  Outcome memory_changed_finish(const vhost_user::Msg& m, const bool* was_armed);
  void run();
  static void* thread_main(void* arg);
  void close_conn();
  void drop_frontend(const char* why);

  Vring* vrings_;
  unsigned nvrings_;
  ServerConfig cfg_;
  LinkHook hook_;
  void* hook_ctx_;

  mutable std::mutex mu_;
  GuestMemory mem_;
  uint64_t features_ = 0;
  uint64_t protocol_features_ = 0;
  uint8_t status_ = 0;
  uint16_t mtu_ = 1500;
  RarpMailbox rarp_;          // SEND_RARP requests for the data path
  uint64_t faults_seen_ = 0;  // mem_.owner().faults already acted on
  // conn_log's budget
  uint64_t log_window_ns_ = 0;
  uint32_t log_lines_ = 0;
  uint32_t log_held_ = 0;
  bool connected_ = false;
  bool started_ = false;
  bool link_reported_ = false;
  std::atomic<bool> link_{false};
  ServerStats st_;

  // socket and thread
  std::string path_;
  bool client_ = false;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
  int wake_fd_ = -1;
  pthread_t thread_{};
  bool thread_running_ = false;
  std::atomic<bool> stopping_{false};
};

}  // namespace vnet::vhost
