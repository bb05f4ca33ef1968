// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Control virtqueue, driver side, and the dev ops that speak through it.
// Commands are synchronous: add [hdr | payload | ack], kick, then poll the
// used ring for at most kCtrlTimeoutMs. Ops whose feature was not
// negotiated return -ENOTSUP with a log line; ops on a stopped port only
// record (ethdev replays rx mode and MAC addresses at start; we replay the
// VLAN filter and the multicast list).
// C boundary: what DPDK/libc call goes through c_entry/c_noexcept (common/c_entry.h).
#include "net/ctrl.h"

#include <rte_cycles.h>
#include <rte_malloc.h>

#include <cstring>
#include <new>

#include "net/ethdev.h"
#include "common/c_entry.h"
#include "common/log.h"
#include "virtio/features.h"
#include "virtio/net_ctrl.h"

namespace vnet::net {

using virtio::has;
namespace feat = virtio::feat;
namespace vc = virtio::ctrl;

namespace {

constexpr size_t kDataOff = 64;    // payload within the command buffer
constexpr size_t kDataMax = 1024;  // largest payload (a full MAC table fits)
constexpr size_t kAckOff = kDataOff + kDataMax;
constexpr size_t kBufBytes = kAckOff + 64;
static_assert(sizeof(Port::mc) / sizeof(Port::mc[0]) == kMaxMcAddrs);
static_assert(8 + 6 * (kMaxMacAddrs + kMaxMcAddrs) <= kDataMax);

Port& port_of(rte_eth_dev* dev) { return *static_cast<Port*>(dev->data->dev_private); }

uint64_t dev_addr(const Port& p, const rte_memzone* mz, size_t off) noexcept {
  return (p.t->uses_va() ? reinterpret_cast<uint64_t>(mz->addr) : mz->iova) + off;
}

int run(CtrlQueue& c, const ring::Seg* segs, uint16_t n) noexcept {
  ring::DriverQueue& r = c.ring;
  if (const int rc = r.add(segs, n, &c, false); rc != 0) return rc;
  r.publish();
  if (r.kick_prepare()) c.kick.kick();
  const uint64_t hz = rte_get_timer_hz();
  const uint64_t end = rte_get_timer_cycles() + hz * kCtrlTimeoutMs / 1000;
  ring::UsedBuf u{};
  for (;;) {
    if (r.poll_used(&u, 1) == 1) return u.token == &c ? 0 : -EPROTO;
    if (r.broken()) return -EIO;
    if (rte_get_timer_cycles() > end) return -ETIMEDOUT;
    rte_delay_us_sleep(20);
  }
}

}  // namespace

// One block: the CtrlQueue, then its ring's shadows (either layout).
int ctrl_alloc(rte_eth_dev* dev) noexcept {
  Port& p = port_of(dev);
  if (p.cvq) return 0;
  const size_t shadow_off = RTE_ALIGN_CEIL(sizeof(CtrlQueue), RTE_CACHE_LINE_SIZE);
  const size_t shadow_bytes = ring::DriverQueue::bytes_needed(kCtrlQueueSize);
  auto* mem = static_cast<uint8_t*>(rte_zmalloc("vnet_cvq", shadow_off + shadow_bytes, RTE_CACHE_LINE_SIZE));
  if (!mem) {
    VNET_LOG(ERR, "port %u: no memory for the control virtqueue", dev->data->port_id);
    return -ENOMEM;
  }
  auto* c = new (mem) CtrlQueue();
  c->shadow = ring::ShadowMem{mem + shadow_off, shadow_bytes};
  // Sized for either layout so a later packed/split switch fits.
  const size_t ring = ring::DriverQueue::ring_bytes_any(kCtrlQueueSize, used_align(p));
  const size_t buf_off = virtio::align_up(ring, 64);
  char name[RTE_MEMZONE_NAMESIZE];
  snprintf(name, sizeof name, "vnet%u_cvq", dev->data->port_id);
  c->mz = rte_memzone_reserve_aligned(name, buf_off + kBufBytes, rte_socket_id(), RTE_MEMZONE_IOVA_CONTIG, 4096);
  if (!c->mz) {
    VNET_LOG(ERR, "port %u: no memory for the control virtqueue", dev->data->port_id);
    c->~CtrlQueue();
    rte_free(c);
    return -ENOMEM;
  }
  c->buf = static_cast<uint8_t*>(c->mz->addr) + buf_off;
  c->buf_addr = dev_addr(p, c->mz, buf_off);
  p.cvq = c;
  return 0;
}

void ctrl_free(Port& p) noexcept {
  if (!p.cvq) return;
  rte_memzone_free(p.cvq->mz);
  p.cvq->~CtrlQueue();
  rte_free(p.cvq);
  p.cvq = nullptr;
}

int ctrl_start(rte_eth_dev* dev) noexcept {
  Port& p = port_of(dev);
  CtrlQueue* c = p.cvq;
  if (!c) return 0;
  c->ready = false;
  c->vq = static_cast<uint16_t>(has(p.features, feat::NET_MQ) ? 2 * p.t->max_queue_pairs() : 2);
  ring::DriverConfig cfg;
  cfg.size = kCtrlQueueSize;
  cfg.event_idx = has(p.features, feat::EVENT_IDX);
  cfg.in_order = has(p.features, feat::IN_ORDER);
  cfg.ring = ring::RingMem{c->mz->addr, dev_addr(p, c->mz, 0)};
  cfg.used_align = used_align(p);
  cfg.shadow = c->shadow;
  if (const int rc = c->ring.init(p.layout, cfg); rc != 0) return rc;  // zeroes the ring
  const QueueAddrs a = ring_addrs(p.layout, kCtrlQueueSize, dev_addr(p, c->mz, 0), cfg.used_align);
  if (const int rc = p.t->setup_queue(c->vq, a, &c->kick); rc != 0) return rc;
  c->ready = true;
  return 0;
}

void ctrl_stop(Port& p) noexcept {
  if (!p.cvq) return;
  rte_spinlock_lock(&p.cvq->lock);
  p.cvq->ready = false;
  p.cvq->ring.drain([](void*) {});  // the token is the queue itself: nothing to free
  rte_spinlock_unlock(&p.cvq->lock);
}

int ctrl_cmd(rte_eth_dev* dev, uint8_t cls, uint8_t cmd, const void* data, uint32_t len) noexcept {
  Port& p = port_of(dev);
  CtrlQueue* c = p.cvq;
  if (!c || !c->ready) {
    VNET_LOG(ERR, "port %u: control command %u.%u: control virtqueue not running", dev->data->port_id, cls, cmd);
    return -EIO;
  }
  if (len > kDataMax) return -E2BIG;
  rte_spinlock_lock(&c->lock);
  auto* h = reinterpret_cast<vc::Hdr*>(c->buf);
  h->cls = cls;
  h->cmd = cmd;
  if (len) std::memcpy(c->buf + kDataOff, data, len);
  volatile uint8_t* ack = c->buf + kAckOff;
  *ack = 0xff;  // anything but OK until the device writes it
  ring::Seg segs[3];
  uint16_t n = 0;
  segs[n++] = ring::Seg{c->buf_addr, sizeof(vc::Hdr), false};
  if (len) segs[n++] = ring::Seg{c->buf_addr + kDataOff, len, false};
  segs[n++] = ring::Seg{c->buf_addr + kAckOff, 1, true};
  int rc = run(*c, segs, n);
  if (rc == -ETIMEDOUT || rc == -EIO || rc == -EPROTO) c->ready = false;  // the device may still own the buffer
  if (rc == 0 && *ack != vc::OK) rc = -EPROTO;
  rte_spinlock_unlock(&c->lock);
  if (rc != 0)
    VNET_LOG(ERR, "port %u: control command class %u cmd %u: %s", dev->data->port_id, cls, cmd,
             rc == -EPROTO ? "device answered an error" : strerror(-rc));
  return rc;
}

namespace {

// Feature gate for a control op: -ENOTSUP with a log line when the feature
// is not negotiated (or, before configure, not on offer).
bool gate(rte_eth_dev* dev, unsigned f, const char* what) {
  Port& p = port_of(dev);
  const uint64_t fs = p.hdr_size ? p.features : wanted_features(p);
  if (has(fs, f)) return true;
  VNET_LOG(INFO,
           "port %u: %s needs the control virtqueue feature bit %u (devarg cq=1 and a device that offers "
           "it): not supported",
           dev->data->port_id, what, f);
  return false;
}

int rx_mode(rte_eth_dev* dev, uint8_t cmd, bool on) {
  if (!gate(dev, feat::NET_CTRL_RX, cmd == vc::RX_PROMISC ? "promiscuous mode" : "all-multicast mode")) return -ENOTSUP;
  if (!port_of(dev).up) return 0;  // replayed when the device runs (ethdev at start, us on reconnect)
  const uint8_t v = on;
  return ctrl_cmd(dev, vc::CLASS_RX, cmd, &v, 1);
}
int promisc_on(rte_eth_dev* dev) { return rx_mode(dev, vc::RX_PROMISC, true); }
int promisc_off(rte_eth_dev* dev) { return rx_mode(dev, vc::RX_PROMISC, false); }
int allmulti_on(rte_eth_dev* dev) { return rx_mode(dev, vc::RX_ALLMULTI, true); }
int allmulti_off(rte_eth_dev* dev) { return rx_mode(dev, vc::RX_ALLMULTI, false); }

// The whole MAC table: unicast from dev->data->mac_addrs with entry `idx`
// replaced by `addr` (nullptr: removed), multicast from the port's list.
int mac_table_set(rte_eth_dev* dev, uint32_t idx, const rte_ether_addr* addr) {
  Port& p = port_of(dev);
  uint8_t b[kDataMax];
  uint32_t nu = 0, off = 4;
  for (uint32_t i = 0; i < kMaxMacAddrs; ++i) {
    const rte_ether_addr* a = i == idx ? addr : &dev->data->mac_addrs[i];
    if (!a || rte_is_zero_ether_addr(a)) continue;
    std::memcpy(b + off, a->addr_bytes, 6);
    off += 6;
    ++nu;
  }
  virtio::le32 lu, lm;
  lu.set(nu);
  lm.set(p.nb_mc);
  std::memcpy(b, &lu, 4);
  std::memcpy(b + off, &lm, 4);
  off += 4;
  for (uint32_t i = 0; i < p.nb_mc; ++i, off += 6) std::memcpy(b + off, p.mc[i].addr_bytes, 6);
  return ctrl_cmd(dev, vc::CLASS_MAC, vc::MAC_TABLE_SET, b, off);
}

int mac_addr_add(rte_eth_dev* dev, rte_ether_addr* addr, uint32_t idx, uint32_t) {
  if (!gate(dev, feat::NET_CTRL_RX, "a MAC filter table")) return -ENOTSUP;
  if (idx >= kMaxMacAddrs) return -EINVAL;
  if (!port_of(dev).up) return 0;  // ethdev stores it; replayed when the device runs
  return mac_table_set(dev, idx, addr);
}

void mac_addr_remove(rte_eth_dev* dev, uint32_t idx) {
  if (!gate(dev, feat::NET_CTRL_RX, "a MAC filter table") || idx >= kMaxMacAddrs) return;
  if (port_of(dev).up) mac_table_set(dev, idx, nullptr);
}

int mac_addr_set(rte_eth_dev* dev, rte_ether_addr* addr) {
  if (!gate(dev, feat::NET_CTRL_MAC_ADDR, "changing the MAC address")) return -ENOTSUP;
  if (!port_of(dev).up) return 0;
  if (const int rc = ctrl_cmd(dev, vc::CLASS_MAC, vc::MAC_ADDR_SET, addr->addr_bytes, 6); rc != 0) return rc;
  const uint64_t fs = port_of(dev).features;
  return has(fs, feat::NET_CTRL_RX) ? mac_table_set(dev, 0, addr) : 0;
}

int set_mc_addr_list(rte_eth_dev* dev, rte_ether_addr* list, uint32_t n) {
  if (!gate(dev, feat::NET_CTRL_RX, "a multicast filter list")) return -ENOTSUP;
  Port& p = port_of(dev);
  if (n > kMaxMcAddrs) {
    VNET_LOG(ERR, "port %u: %u multicast addresses, at most %u", dev->data->port_id, n, kMaxMcAddrs);
    return -EINVAL;
  }
  for (uint32_t i = 0; i < n; ++i)
    if (!rte_is_multicast_ether_addr(&list[i])) {
      VNET_LOG(ERR, "port %u: multicast list entry %u is not a multicast address", dev->data->port_id, i);
      return -EINVAL;
    }
  const uint32_t old_n = p.nb_mc;
  rte_ether_addr old[kMaxMcAddrs];
  std::memcpy(old, p.mc, sizeof old);
  for (uint32_t i = 0; i < n; ++i) p.mc[i] = list[i];
  p.nb_mc = n;
  if (!p.up) return 0;
  const int rc = mac_table_set(dev, UINT32_MAX, nullptr);
  if (rc != 0) {  // keep what the device has
    std::memcpy(p.mc, old, sizeof old);
    p.nb_mc = old_n;
  }
  return rc;
}

int vlan_filter_set(rte_eth_dev* dev, uint16_t vid, int on) {
  if (!gate(dev, feat::NET_CTRL_VLAN, "the VLAN filter")) return -ENOTSUP;
  if (vid > 4095) return -EINVAL;
  if (!port_of(dev).up) return 0;  // replayed from vlan_filter_conf when the device runs
  virtio::le16 v;
  v.set(vid);
  return ctrl_cmd(dev, vc::CLASS_VLAN, on ? vc::VLAN_ADD : vc::VLAN_DEL, &v, 2);
}

}  // namespace

int ctrl_after_start(rte_eth_dev* dev) {
  Port& p = port_of(dev);
  if (!p.cvq) return 0;
  if (has(p.features, feat::NET_MQ)) {
    virtio::le16 n;
    n.set(p.nqp);
    if (const int rc = ctrl_cmd(dev, vc::CLASS_MQ, vc::MQ_VQ_PAIRS_SET, &n, 2); rc != 0) return rc;
  }
  if (has(p.features, feat::NET_CTRL_VLAN) && (dev->data->dev_conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_VLAN_FILTER)) {
    const auto& ids = dev->data->vlan_filter_conf.ids;
    for (uint16_t vid = 0; vid < 4096; ++vid)
      if ((ids[vid / 64] >> (vid % 64)) & 1) {
        virtio::le16 v;
        v.set(vid);
        if (const int rc = ctrl_cmd(dev, vc::CLASS_VLAN, vc::VLAN_ADD, &v, 2); rc != 0) return rc;
      }
  }
  if (has(p.features, feat::NET_CTRL_RX)) {  // ethdev replays these at dev_start, not on reconnect
    const uint8_t promisc = dev->data->promiscuous, allmulti = dev->data->all_multicast;
    int rc = ctrl_cmd(dev, vc::CLASS_RX, vc::RX_PROMISC, &promisc, 1);
    if (rc == 0) rc = ctrl_cmd(dev, vc::CLASS_RX, vc::RX_ALLMULTI, &allmulti, 1);
    if (rc == 0) rc = mac_table_set(dev, UINT32_MAX, nullptr);
    if (rc != 0) return rc;
  }
  return 0;
}

void ctrl_ops(eth_dev_ops& o) {
  o.promiscuous_enable = c_entry<promisc_on>;
  o.promiscuous_disable = c_entry<promisc_off>;
  o.allmulticast_enable = c_entry<allmulti_on>;
  o.allmulticast_disable = c_entry<allmulti_off>;
  o.mac_addr_add = c_entry<mac_addr_add>;
  o.mac_addr_remove = c_entry<mac_addr_remove>;
  o.mac_addr_set = c_entry<mac_addr_set>;
  o.set_mc_addr_list = c_entry<set_mc_addr_list>;
  o.vlan_filter_set = c_entry<vlan_filter_set>;
}

}  // namespace vnet::net
