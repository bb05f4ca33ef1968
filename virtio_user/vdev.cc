// The net_vnet_user vdev driver: devargs (named as in DPDK's net_virtio_user
// where they mean the same), probe (connect, handshake, ethdev attach) and
// remove. Every devarg is validated; a bad one fails the probe with a log
// line naming it.
#include <bus_vdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_kvargs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "net/ethdev.h"
#include "net/log.h"
#include "virtio/ring_layout.h"
#include "virtio_user/transport.h"

namespace vnet::virtio_user {
namespace {

const char* const kArgs[] = {"path", "queues", "queue_size", "packed_vq", "mrg_rxbuf", "in_order",
                             "server", "mac", "speed", "cq", nullptr};

struct Parsed {
  UserOptions user;
  net::PortOptions port;
};

int parse_uint(const char* key, const char* v, uint64_t max, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v, &end, 0);
  if (errno || end == v || *end != '\0' || x > max) {
    VNET_USER_LOG(ERR, "devarg %s=%s: expected an integer up to %llu", key, v, static_cast<unsigned long long>(max));
    return -EINVAL;
  }
  *out = x;
  return 0;
}

int on_arg(const char* key, const char* v, void* arg) {
  auto* p = static_cast<Parsed*>(arg);
  uint64_t x = 0;
  const std::string k = key;
  if (k == "path") {
    p->user.path = v;
    return 0;
  }
  if (k == "mac") {
    if (rte_ether_unformat_addr(v, &p->port.mac) != 0) {
      VNET_USER_LOG(ERR, "devarg mac=%s: not a MAC address", v);
      return -EINVAL;
    }
    p->port.mac_set = true;
    return 0;
  }
  const uint64_t max = k == "queues" ? 128 : k == "queue_size" ? virtio::PACKED_MAX_SIZE : k == "speed" ? UINT32_MAX : 1;
  if (int rc = parse_uint(key, v, max, &x)) return rc;
  if (k == "queues") p->port.queues = p->user.queues = static_cast<uint16_t>(x);
  else if (k == "queue_size") p->port.queue_size = static_cast<uint32_t>(x);
  else if (k == "packed_vq") p->port.packed = x;
  else if (k == "mrg_rxbuf") p->port.mrg_rxbuf = x;
  else if (k == "in_order") p->port.in_order = x;
  else if (k == "server") p->user.server = x;
  else if (k == "speed") p->port.speed = static_cast<uint32_t>(x);
  else if (k == "cq") p->port.cq = x;
  return 0;
}

int probe(rte_vdev_device* vdev) {
  const char* name = rte_vdev_device_name(vdev);
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
    VNET_USER_LOG(ERR, "%s: secondary processes are not supported", name);
    return -ENOTSUP;
  }
  Parsed p;
  if (const char* args = rte_vdev_device_args(vdev); args && *args) {
    rte_kvargs* kv = rte_kvargs_parse(args, kArgs);
    if (!kv) {
      VNET_USER_LOG(ERR, "%s: cannot parse devargs '%s' (known: path queues queue_size packed_vq mrg_rxbuf "
                         "in_order server mac speed cq)", name, args);
      return -EINVAL;
    }
    const int rc = rte_kvargs_process(kv, nullptr, on_arg, &p);
    rte_kvargs_free(kv);
    if (rc != 0) return -EINVAL;
  }
  if (p.user.path.empty()) {
    VNET_USER_LOG(ERR, "%s: devarg path=<vhost-user socket> is required", name);
    return -EINVAL;
  }
  const uint32_t qs = p.port.queue_size;
  if (qs == 0 || (!p.port.packed && (qs & (qs - 1)) != 0) || qs > virtio::SPLIT_MAX_SIZE) {
    VNET_USER_LOG(ERR, "%s: queue_size=%u: split rings need a power of two up to 32768, packed up to 32768", name, qs);
    return -EINVAL;
  }
  if (p.port.queues > 1 && !p.port.cq) {  // queue pairs are set through the control queue
    VNET_USER_LOG(INFO, "%s: queues=%u implies cq=1", name, p.port.queues);
    p.port.cq = true;
  }
  p.user.cq = p.port.cq;
  auto* t = new (std::nothrow) VhostUserTransport();
  if (!t) return -ENOMEM;
  if (const int rc = t->open(p.user); rc != 0) {
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
  VNET_USER_LOG(INFO, "%s: port %u on %s", name, dev->data->port_id, p.user.path.c_str());
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
  d.probe = vnet::virtio_user::probe;
  d.remove = vnet::virtio_user::remove;
  return d;
}();
RTE_PMD_REGISTER_VDEV(net_vnet_user, vnet_user_driver);
RTE_PMD_REGISTER_PARAM_STRING(net_vnet_user,
                              "path=<socket> queues=<1..128> queue_size=<n> packed_vq=<0|1> mrg_rxbuf=<0|1> "
                              "in_order=<0|1> server=<0|1> mac=<xx:xx:xx:xx:xx:xx> speed=<Mbps> cq=<0|1>");
