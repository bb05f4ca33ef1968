// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The devargs walker all three drivers use (src/common/devargs.h) and the
// shared port devargs parser (src/net/devargs.h) of net_vnet_user and
// net_vnet: values, limits, the queues->cq rule, own keys, and that a
// refusal logs a line naming the devarg. No EAL: rte_kvargs and rte_log work
// without it (a static log type, captured through rte_openlog_stream).
#include "net/devargs.h"

#include <gtest/gtest.h>
#include <rte_log.h>

#include <cerrno>
#include <ostream>
#include <string>

#include "log_capture.h"

namespace vnet::net {
namespace {

int g_type = RTE_LOGTYPE_USER1;
const DevargsLog kLog{&g_type, "t"};

int no_own(const char*, const char*) { return -EINVAL; }

TEST(Devargs, DefaultsWithoutArgs) {
  PortArgs a;
  EXPECT_EQ(parse_port_devargs("p", nullptr, {}, no_own, &a, kLog), 0);
  EXPECT_EQ(parse_port_devargs("p", "", {}, no_own, &a, kLog), 0);
  const PortOptions d;
  EXPECT_EQ(a.port.queues, d.queues);
  EXPECT_EQ(a.port.queue_size, d.queue_size);
  EXPECT_FALSE(a.queue_size_set);
  EXPECT_FALSE(a.port.cq);
}

TEST(Devargs, EverySharedKey) {
  PortArgs a;
  ASSERT_EQ(parse_port_devargs("p",
                               "queues=2,queue_size=512,packed_vq=1,mrg_rxbuf=0,in_order=1,"
                               "mac=02:00:00:00:00:07,speed=25000,cq=0",
                               {}, no_own, &a, kLog),
            0);
  EXPECT_EQ(a.port.queues, 2);
  EXPECT_EQ(a.port.queue_size, 512u);
  EXPECT_TRUE(a.queue_size_set);
  EXPECT_TRUE(a.port.packed);
  EXPECT_FALSE(a.port.mrg_rxbuf);
  EXPECT_TRUE(a.port.in_order);
  EXPECT_TRUE(a.port.mac_set);
  EXPECT_EQ(a.port.mac.addr_bytes[5], 7);
  EXPECT_EQ(a.port.speed, 25000u);
  EXPECT_TRUE(a.port.cq) << "queues>1 implies cq=1, even against cq=0";
}

TEST(Devargs, OneQueuePairKeepsCqOff) {
  PortArgs a;
  ASSERT_EQ(parse_port_devargs("p", "queues=1", {}, no_own, &a, kLog), 0);
  EXPECT_FALSE(a.port.cq);
  PortArgs b;
  ASSERT_EQ(parse_port_devargs("p", "cq=1", {}, no_own, &b, kLog), 0);
  EXPECT_TRUE(b.port.cq);
  EXPECT_EQ(b.port.queues, 1);
}

TEST(Devargs, OwnKeysGoToTheDriver) {
  PortArgs a;
  std::string seen;
  auto own = [&seen](const char* k, const char* v) {
    seen += std::string(k) + "=" + v + ";";
    return 0;
  };
  ASSERT_EQ(parse_port_devargs("p", "lsc=0,queues=4", {"lsc"}, own, &a, kLog), 0);
  EXPECT_EQ(seen, "lsc=0;");
  EXPECT_EQ(a.port.queues, 4);
  // The driver refusing its own key fails the parse.
  PortArgs b;
  EXPECT_EQ(parse_port_devargs("p", "lsc=7", {"lsc"}, no_own, &b, kLog), -EINVAL);
}

TEST(Devargs, NotAPortKey) {
  PortArgs a;
  EXPECT_EQ(parse_port_arg("path", "/x", &a, kLog), 0);
  EXPECT_EQ(parse_port_arg("queues", "3", &a, kLog), 1);
  EXPECT_EQ(a.port.queues, 3);
}

struct Bad {
  const char* args;
  const char* logged;  // what the log line must name
};

void PrintTo(const Bad& b, std::ostream* os) { *os << b.args; }

class DevargsBad : public ::testing::TestWithParam<Bad> {};

TEST_P(DevargsBad, RefusedWithALogLine) {
  LogCapture cap;
  PortArgs a;
  EXPECT_EQ(parse_port_devargs("p", GetParam().args, {"lsc"}, no_own, &a, kLog), -EINVAL);
  EXPECT_NE(cap.text().find(GetParam().logged), std::string::npos) << cap.text();
}

INSTANTIATE_TEST_SUITE_P(
    Values, DevargsBad,
    ::testing::Values(Bad{"queues=0", "devarg queues=0"}, Bad{"queues=129", "devarg queues=129"},
                      Bad{"queues=two", "devarg queues=two"}, Bad{"queue_size=40000", "devarg queue_size=40000"},
                      Bad{"packed_vq=2", "devarg packed_vq=2"}, Bad{"mrg_rxbuf=-1", "devarg mrg_rxbuf=-1"},
                      Bad{"in_order=1x", "devarg in_order=1x"}, Bad{"cq=2", "devarg cq=2"},
                      Bad{"speed=4294967296", "devarg speed=4294967296"}, Bad{"mac=02:00", "devarg mac=02:00"},
                      Bad{"nosuch=1", "cannot parse devargs 'nosuch=1' (known: lsc queues"}));

TEST(Devargs, UintHelper) {
  uint64_t x = 9;
  EXPECT_EQ(parse_devarg_uint("k", "0x10", 16, &x, kLog), 0);
  EXPECT_EQ(x, 16u);
  EXPECT_EQ(parse_devarg_uint("k", "17", 16, &x, kLog), -EINVAL);
  EXPECT_EQ(parse_devarg_uint("k", "", 16, &x, kLog), -EINVAL);
  EXPECT_EQ(x, 16u) << "unchanged on refusal";
}

// The walker under all three drivers (common/devargs.h; net_vnet_vhost uses
// it directly with its own keys).
TEST(DevargsWalk, EveryPairInOrderThroughTheHandler) {
  std::string seen;
  EXPECT_EQ(devargs::walk(
                "p", "iface=/a,queues=2,iface=/b", {"iface", "queues"},
                [&](const char* k, const char* v) {
                  seen += std::string(k) + "=" + v + ";";
                  return 0;
                },
                kLog),
            0);
  EXPECT_EQ(seen, "iface=/a;queues=2;iface=/b;");
}

TEST(DevargsWalk, RefusalsNameTheDevarg) {
  const auto take = [](const char*, const char*) { return 0; };
  {
    LogCapture cap;
    EXPECT_EQ(devargs::walk("p", "iface=/a,bogus=1", {"iface"}, take, kLog), -EINVAL);
    EXPECT_NE(cap.text().find("cannot parse devargs 'iface=/a,bogus=1' (known: iface)"), std::string::npos)
        << cap.text();
  }
  {
    LogCapture cap;
    EXPECT_EQ(devargs::walk("p", "iface", {"iface"}, take, kLog), -EINVAL);
    EXPECT_NE(cap.text().find("devarg iface: needs a value"), std::string::npos) << cap.text();
  }
  // A handler's own errno comes back as it is.
  EXPECT_EQ(devargs::walk(
                "p", "iface=/a", {"iface"}, [](const char*, const char*) { return -ENODEV; }, kLog),
            -ENODEV);
  EXPECT_EQ(devargs::walk("p", nullptr, {"iface"}, take, kLog), 0);
}

TEST(DevargsWalk, UintWithALowerBound) {
  uint64_t x = 7;
  LogCapture cap;
  EXPECT_EQ(devargs::parse_uint("queues", "0", 1, 16, &x, kLog), -EINVAL);
  EXPECT_NE(cap.text().find("devarg queues=0: expected an integer from 1 to 16"), std::string::npos) << cap.text();
  EXPECT_EQ(devargs::parse_uint("queues", "-1", 0, UINT64_MAX, &x, kLog), -EINVAL) << "no wrap-around";
  EXPECT_EQ(devargs::parse_uint("queues", "16", 1, 16, &x, kLog), 0);
  EXPECT_EQ(x, 16u);
}

}  // namespace
}  // namespace vnet::net
