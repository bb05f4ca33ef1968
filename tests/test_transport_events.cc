// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The one event path from a transport to the ethdev (net::TransportEvent),
// with a fake transport on an ethdev of our own (EAL --no-huge): a config
// change (PCI's link interrupt) re-reads the link under the port lock and
// raises LSC, started or not; Down/Up on a port that is not started do
// nothing. The port's own start/stop paths are exercised by the loopback and
// vm tests.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "net/ethdev.h"
#include "support/eal_once.h"
#include "net/transport.h"

namespace vnet::net {
namespace {

class FakeTransport final : public Transport {
 public:
  const char* name() const override { return "fake"; }
  uint64_t device_features() const override { return 0; }
  int set_features(uint64_t) override { return 0; }
  bool read_config(virtio::NetConfig*) override { return false; }
  uint16_t max_queue_pairs() const override { return 1; }
  uint32_t max_queue_size() const override { return 0; }
  bool uses_va() const override { return true; }
  int setup_queue(uint16_t, const QueueAddrs&, Notifier*) override { return 0; }
  int start(uint16_t) override { return 0; }
  int stop() override { return 0; }
  bool link_up() override { return true; }
  void set_event_handler(TransportEventFn fn, void* arg) override {
    fn_ = fn;
    arg_ = arg;
  }
  // What the transport's own thread does.
  void report(TransportEvent ev) const { fn_(arg_, ev); }
  bool has_handler() const { return fn_ != nullptr; }

 private:
  TransportEventFn fn_ = nullptr;
  void* arg_ = nullptr;
};

bool eal_up() { return test::eal_once("ev", "0"); }

std::atomic<int> g_lsc{0};
int on_lsc(uint16_t, rte_eth_event_type, void*, void*) {
  g_lsc.fetch_add(1);
  return 0;
}

// An ethdev over a FakeTransport, attached as the transports' probes do.
class TransportEvents : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(eal_up());
    dev_ = rte_eth_dev_allocate("vnet_ev_test");
    ASSERT_NE(dev_, nullptr);
    dev_->data->dev_private = rte_zmalloc("vnet_ev_test", sizeof(Port), RTE_CACHE_LINE_SIZE);
    ASSERT_NE(dev_->data->dev_private, nullptr);
    t_ = new FakeTransport();
    ASSERT_EQ(attach(dev_, t_, PortOptions{}), 0);
    ASSERT_TRUE(t_->has_handler());
    rte_eth_dev_probing_finish(dev_);
    port_ = dev_->data->port_id;
    g_lsc = 0;
    ASSERT_EQ(rte_eth_dev_callback_register(port_, RTE_ETH_EVENT_INTR_LSC, on_lsc, nullptr), 0);
  }
  void TearDown() override {
    if (!dev_) return;
    rte_eth_dev_callback_unregister(port_, RTE_ETH_EVENT_INTR_LSC, on_lsc, nullptr);
    detach(dev_);  // deletes the transport
    rte_eth_dev_release_port(dev_);
  }
  Port& port() { return *static_cast<Port*>(dev_->data->dev_private); }
  rte_eth_dev* dev_ = nullptr;
  FakeTransport* t_ = nullptr;
  uint16_t port_ = 0;
};

TEST_F(TransportEvents, ConfigChangeRaisesLscWhetherOrNotStarted) {
  t_->report(TransportEvent::Config);
  EXPECT_EQ(g_lsc.load(), 1);
  rte_eth_link l{};
  ASSERT_EQ(rte_eth_link_get_nowait(port_, &l), 0);
  EXPECT_EQ(l.link_status, RTE_ETH_LINK_DOWN);  // not started: down whatever the device says
  t_->report(TransportEvent::Config);
  EXPECT_EQ(g_lsc.load(), 2);
}

TEST_F(TransportEvents, ConfigChangeWaitsForThePortLock) {
  std::thread th;
  {
    const std::lock_guard<std::mutex> g(port().lock);  // as dev_start/dev_stop hold it
    th = std::thread([this] { t_->report(TransportEvent::Config); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(g_lsc.load(), 0) << "the event went ahead of a start/stop under way";
  }
  th.join();
  EXPECT_EQ(g_lsc.load(), 1);
}

TEST_F(TransportEvents, DownAndUpOnAStoppedPortDoNothing) {
  t_->report(TransportEvent::Down);
  t_->report(TransportEvent::Up);
  EXPECT_EQ(g_lsc.load(), 0);
  EXPECT_FALSE(port().up.load());
}

}  // namespace
}  // namespace vnet::net
