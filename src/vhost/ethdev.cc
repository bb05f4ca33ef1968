// net_vnet_vhost: the built-in vhost-user backend as a DPDK ethdev (vdev).
// Rx queue i drains the frontend's transmit vring 2i+1, Tx queue i fills its
// receive vring 2i. Invariants: the queue objects are the Vrings themselves
// and live until dev_close; a frontend that goes away frees nothing a burst
// could touch; bursts never lock, they only enter()/leave() their ring.
#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_ether.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "vhost/datapath.h"
#include "vhost/log.h"
#include "vhost/vhost_user_server.h"

namespace vnet::vhost {
namespace {

constexpr const char* kArgIface = "iface";
constexpr const char* kArgQueues = "queues";
constexpr const char* kArgClient = "client";
constexpr const char* const kValidArgs[] = {kArgIface, kArgQueues, kArgClient, nullptr};

struct Port {
  rte_eth_dev* dev = nullptr;
  uint16_t queue_pairs = 1;
  Vring* vrings = nullptr;  // 2 * queue_pairs: the queue objects of the ethdev
  Server* server = nullptr;
  VringStats base[2 * kMaxQueuePairs];  // counters at the last stats_reset
};

// dev_private holds only a pointer: the port has C++ members and stays in
// process-private memory.
struct Priv {
  Port* port;
};

Port* port_of(rte_eth_dev* dev) { return static_cast<Priv*>(dev->data->dev_private)->port; }

// Rx and Tx alike: run the ring's burst if the ring is usable.
uint16_t eth_burst(void* q, rte_mbuf** pkts, uint16_t n) {
  Vring& v = *static_cast<Vring*>(q);
  if (!enter(v)) return 0;
  const uint16_t r = v.burst(v, pkts, n);
  leave(v);
  return r;
}

void on_link(void* ctx, bool up) {
  Port* p = static_cast<Port*>(ctx);
  rte_eth_link link = p->dev->data->dev_link;
  link.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
  rte_eth_linkstatus_set(p->dev, &link);
  rte_eth_dev_callback_process(p->dev, RTE_ETH_EVENT_INTR_LSC, nullptr);
}

int dev_configure(rte_eth_dev*) { return 0; }

int dev_infos_get(rte_eth_dev* dev, rte_eth_dev_info* info) {
  const Port* p = port_of(dev);
  info->max_mac_addrs = 1;
  info->max_rx_queues = p->queue_pairs;
  info->max_tx_queues = p->queue_pairs;
  info->max_rx_pktlen = kMaxFrame;
  info->min_mtu = RTE_ETHER_MIN_MTU;
  info->max_mtu = kMaxFrame - RTE_ETHER_HDR_LEN;
  info->min_rx_bufsize = 0;
  info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_SCATTER;
  info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  info->speed_capa = RTE_ETH_LINK_SPEED_10G;
  return 0;
}

int rx_queue_setup(rte_eth_dev* dev, uint16_t qid, uint16_t, unsigned int, const rte_eth_rxconf*,
                   rte_mempool* mp) {
  Port* p = port_of(dev);
  if (qid >= p->queue_pairs || !mp) return -EINVAL;
  dev->data->rx_queues[qid] = &p->vrings[2 * qid + 1];
  p->server->attach(2u * qid + 1, mp, true);
  return 0;
}

int tx_queue_setup(rte_eth_dev* dev, uint16_t qid, uint16_t, unsigned int, const rte_eth_txconf*) {
  Port* p = port_of(dev);
  if (qid >= p->queue_pairs) return -EINVAL;
  dev->data->tx_queues[qid] = &p->vrings[2 * qid];
  p->server->attach(2u * qid, nullptr, true);
  return 0;
}

void rx_queue_release(rte_eth_dev* dev, uint16_t qid) {
  Port* p = port_of(dev);
  if (p && qid < p->queue_pairs) p->server->attach(2u * qid + 1, nullptr, false);
}

void tx_queue_release(rte_eth_dev* dev, uint16_t qid) {
  Port* p = port_of(dev);
  if (p && qid < p->queue_pairs) p->server->attach(2u * qid, nullptr, false);
}

int dev_start(rte_eth_dev* dev) {
  port_of(dev)->server->set_started(true);
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
  return 0;
}

int dev_stop(rte_eth_dev* dev) {
  port_of(dev)->server->set_started(false);  // waits until no burst is inside a ring
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
  return 0;
}

void destroy(Port* p) {
  if (!p) return;
  if (p->server) {
    p->server->stop();
    delete p->server;
  }
  delete[] p->vrings;
  delete p;
}

int dev_close(rte_eth_dev* dev) {
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) return 0;
  Port* p = port_of(dev);
  if (!p) return 0;
  for (uint16_t i = 0; i < dev->data->nb_rx_queues; ++i) dev->data->rx_queues[i] = nullptr;
  for (uint16_t i = 0; i < dev->data->nb_tx_queues; ++i) dev->data->tx_queues[i] = nullptr;
  static_cast<Priv*>(dev->data->dev_private)->port = nullptr;
  destroy(p);
  return 0;
}

int link_update(rte_eth_dev* dev, int) {
  rte_eth_link link = dev->data->dev_link;
  link.link_status = port_of(dev)->server->link_up() ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
  return rte_eth_linkstatus_set(dev, &link);
}

VringStats diff(const VringStats& a, const VringStats& b) {
  return VringStats{a.packets - b.packets, a.bytes - b.bytes, a.dropped - b.dropped, a.nombuf - b.nombuf,
                    a.bad_chains - b.bad_chains};
}

int stats_get(rte_eth_dev* dev, rte_eth_stats* s) {
  Port* p = port_of(dev);
  for (uint16_t i = 0; i < p->queue_pairs; ++i) {
    const VringStats rx = diff(p->vrings[2 * i + 1].st, p->base[2 * i + 1]);
    const VringStats tx = diff(p->vrings[2 * i].st, p->base[2 * i]);
    s->ipackets += rx.packets;
    s->ibytes += rx.bytes;
    s->ierrors += rx.dropped;
    s->rx_nombuf += rx.nombuf;
    s->opackets += tx.packets;
    s->obytes += tx.bytes;
    s->oerrors += tx.dropped;
    if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
      s->q_ipackets[i] = rx.packets;
      s->q_ibytes[i] = rx.bytes;
      s->q_errors[i] = rx.dropped;
      s->q_opackets[i] = tx.packets;
      s->q_obytes[i] = tx.bytes;
    }
  }
  return 0;
}

int stats_reset(rte_eth_dev* dev) {
  Port* p = port_of(dev);
  // The data path owns the counters; reset records a baseline instead of writing them.
  for (unsigned i = 0; i < 2u * p->queue_pairs; ++i) p->base[i] = p->vrings[i].st;
  return 0;
}

int accept_op(rte_eth_dev*) { return 0; }
int mtu_set(rte_eth_dev*, uint16_t) { return 0; }

const eth_dev_ops kOps = [] {
  eth_dev_ops o{};
  o.dev_configure = dev_configure;
  o.dev_start = dev_start;
  o.dev_stop = dev_stop;
  o.dev_close = dev_close;
  o.promiscuous_enable = accept_op;
  o.promiscuous_disable = accept_op;
  o.allmulticast_enable = accept_op;
  o.allmulticast_disable = accept_op;
  o.link_update = link_update;
  o.stats_get = stats_get;
  o.stats_reset = stats_reset;
  o.dev_infos_get = dev_infos_get;
  o.mtu_set = mtu_set;
  o.rx_queue_setup = rx_queue_setup;
  o.rx_queue_release = rx_queue_release;
  o.tx_queue_setup = tx_queue_setup;
  o.tx_queue_release = tx_queue_release;
  return o;
}();

struct Args {
  std::string iface;
  long queues = 1;
  long client = 0;
};

int parse_long(const char*, const char* value, void* out) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(value, &end, 10);
  if (errno || end == value || *end) return -EINVAL;
  *static_cast<long*>(out) = v;
  return 0;
}

int parse_str(const char*, const char* value, void* out) {
  *static_cast<std::string*>(out) = value;
  return 0;
}

int parse_args(const char* name, const char* params, Args& a) {
  rte_kvargs* kv = rte_kvargs_parse(params ? params : "", kValidArgs);
  if (!kv) {
    VHOST_LOG(ERR, "%s: cannot parse arguments '%s'", name, params ? params : "");
    return -EINVAL;
  }
  int rc = 0;
  if (rte_kvargs_count(kv, kArgIface) != 1) {
    VHOST_LOG(ERR, "%s: exactly one iface=<socket path> is required", name);
    rc = -EINVAL;
  }
  if (rc == 0) rc = rte_kvargs_process(kv, kArgIface, parse_str, &a.iface);
  if (rc == 0 && rte_kvargs_count(kv, kArgQueues)) rc = rte_kvargs_process(kv, kArgQueues, parse_long, &a.queues);
  if (rc == 0 && rte_kvargs_count(kv, kArgClient)) rc = rte_kvargs_process(kv, kArgClient, parse_long, &a.client);
  rte_kvargs_free(kv);
  if (rc == 0 && (a.queues < 1 || a.queues > kMaxQueuePairs)) {
    VHOST_LOG(ERR, "%s: queues=%ld out of range 1..%u", name, a.queues, kMaxQueuePairs);
    rc = -EINVAL;
  }
  if (rc == 0 && a.client != 0 && a.client != 1) {
    VHOST_LOG(ERR, "%s: client=%ld must be 0 or 1", name, a.client);
    rc = -EINVAL;
  }
  return rc < 0 ? rc : (rc > 0 ? -EINVAL : 0);
}

int probe(rte_vdev_device* vdev) {
  const char* name = rte_vdev_device_name(vdev);
  if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
    VHOST_LOG(ERR, "%s: secondary processes are not supported", name);
    return -ENOTSUP;
  }
  Args a;
  if (int rc = parse_args(name, rte_vdev_device_args(vdev), a); rc != 0) return rc;

  rte_eth_dev* dev = rte_eth_vdev_allocate(vdev, sizeof(Priv));
  if (!dev) return -ENOMEM;
  Port* p = new (std::nothrow) Port;
  if (p) {
    p->dev = dev;
    p->queue_pairs = static_cast<uint16_t>(a.queues);
    p->vrings = new (std::nothrow) Vring[2 * p->queue_pairs];
  }
  auto* mac = static_cast<rte_ether_addr*>(rte_zmalloc_socket(name, sizeof(rte_ether_addr), 0, vdev->device.numa_node));
  if (p && p->vrings) {
    ServerConfig cfg;
    cfg.queue_pairs = p->queue_pairs;
    cfg.port_id = dev->data->port_id;
    cfg.name = name;
    p->server = new (std::nothrow) Server(p->vrings, cfg, &on_link, p);
  }
  int rc = (p && p->vrings && p->server && mac) ? 0 : -ENOMEM;
  if (rc == 0) rc = a.client ? p->server->set_client(a.iface.c_str()) : p->server->listen(a.iface.c_str());
  if (rc != 0) {
    destroy(p);
    rte_free(mac);
    rte_eth_dev_release_port(dev);
    return rc;
  }
  static_cast<Priv*>(dev->data->dev_private)->port = p;
  rte_eth_random_addr(mac->addr_bytes);
  dev->data->mac_addrs = mac;
  dev->data->dev_link = rte_eth_link{};
  dev->data->dev_link.link_speed = RTE_ETH_SPEED_NUM_10G;
  dev->data->dev_link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
  dev->data->dev_link.link_autoneg = RTE_ETH_LINK_FIXED;
  dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
  dev->dev_ops = &kOps;
  dev->rx_pkt_burst = eth_burst;
  dev->tx_pkt_burst = eth_burst;
  // The socket listens now, so a frontend probed after us in the same process can connect.
  rc = p->server->start("vnet-vhost-ctl");
  if (rc != 0) {
    rte_eth_dev_release_port(dev);  // frees mac_addrs
    destroy(p);
    return rc;
  }
  rte_eth_dev_probing_finish(dev);
  VHOST_LOG(INFO, "%s: port %u, %s %s, %u queue pair(s)", name, dev->data->port_id,
            a.client ? "connecting to" : "listening on", a.iface.c_str(), p->queue_pairs);
  return 0;
}

int remove(rte_vdev_device* vdev) {
  rte_eth_dev* dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));
  if (!dev) return 0;
  return rte_eth_dev_close(dev->data->port_id);
}

}  // namespace
}  // namespace vnet::vhost

static rte_vdev_driver vnet_vhost_vdev = [] {
  rte_vdev_driver d{};
  d.probe = vnet::vhost::probe;
  d.remove = vnet::vhost::remove;
  return d;
}();

RTE_PMD_REGISTER_VDEV(net_vnet_vhost, vnet_vhost_vdev);
RTE_PMD_REGISTER_PARAM_STRING(net_vnet_vhost, "iface=<path> queues=<int> client=<0|1>");
