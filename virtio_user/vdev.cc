// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The net_vnet_user vdev driver: devargs (named as in DPDK's net_virtio_user
// where they mean the same), probe (connect, handshake, ethdev attach) and
// remove. Every devarg is validated; a bad one fails the probe with a log
// line naming it.
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include <bus_vdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_kvargs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net/devargs.h"
#include "net/ethdev.h"
#include "common/c_entry.h"
#include "common/log.h"
#include "virtio/ring_layout.h"
#include "virtio_user/transport.h"

namespace vnet::virtio_user {
namespace {

const net::DevargsLog kLog{&vnet_logtype_user, "vnet_user"};

int probe(rte_vdev_device* vdev) {
  const char* name = rte_vdev_device_name(vdev);
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
    VNET_USER_LOG(ERR, "%s: secondary processes are not supported", name);
    return -ENOTSUP;
  }
  net::PortArgs p;
  UserOptions user;
  auto own = [&user](const char* key, const char* v) {
    const std::string k = key;
    if (k == "path") {
      user.path = v;
      return 0;
    }
    uint64_t x = 0;  // server=<0|1>
    if (int rc = net::parse_devarg_uint(key, v, 1, &x, kLog); rc != 0) return rc;
    user.server = x;
    return 0;
  };
  if (int rc = net::parse_port_devargs(name, rte_vdev_device_args(vdev), {"path", "server"}, own, &p, kLog); rc != 0)
    return rc;
  if (user.path.empty()) {
    VNET_USER_LOG(ERR, "%s: devarg path=<vhost-user socket> is required", name);
    return -EINVAL;
  }
  const uint32_t qs = p.port.queue_size;
  if (qs == 0 || (!p.port.packed && (qs & (qs - 1)) != 0) || qs > virtio::SPLIT_MAX_SIZE) {
    VNET_USER_LOG(ERR, "%s: queue_size=%u: split rings need a power of two up to 32768, packed up to 32768", name, qs);
    return -EINVAL;
  }
  user.queues = p.port.queues;
  user.cq = p.port.cq;
  auto* t = new (std::nothrow) VhostUserTransport();
  if (!t) return -ENOMEM;
  if (const int rc = t->open(user); rc != 0) {
    delete t;
    return rc;
  }
  rte_eth_dev* dev = rte_eth_vdev_allocate(vdev, sizeof(net::Port));
  if (!dev) {
    delete t;
    return -ENOMEM;
  }
  if (const int rc = net::attach(dev, t, p.port); rc != 0) {
    delete t;
    rte_eth_dev_release_port(dev);
    return rc;
  }
  rte_eth_dev_probing_finish(dev);
  VNET_USER_LOG(INFO, "%s: port %u on %s", name, dev->data->port_id, user.path.c_str());
  return 0;
}

int remove(rte_vdev_device* vdev) {
  rte_eth_dev* dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));
  if (!dev) return 0;
  return rte_eth_dev_close(dev->data->port_id);
}

}  // namespace
}  // namespace vnet::virtio_user

// At global scope: the registration macro pastes the variable's name.
static rte_vdev_driver vnet_user_driver = [] {
  rte_vdev_driver d{};
  d.probe = vnet::c_entry<vnet::virtio_user::probe>;
  d.remove = vnet::c_entry<vnet::virtio_user::remove>;
  return d;
}();
RTE_PMD_REGISTER_VDEV(net_vnet_user, vnet_user_driver);
RTE_PMD_REGISTER_PARAM_STRING(net_vnet_user,
                              "path=<socket> queues=<1..128> queue_size=<n> packed_vq=<0|1> mrg_rxbuf=<0|1> "
                              "in_order=<0|1> server=<0|1> mac=<xx:xx:xx:xx:xx:xx> speed=<Mbps> cq=<0|1>");
