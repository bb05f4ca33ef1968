// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Rx and Tx bursts, templates over the ring type (split/packed), the address
// kind (process VA for virtio-user, IOVA for PCI), mergeable Rx and (Tx)
// configured offloads; Rx offloads are a per-queue flag read once a burst. One
// instantiation is picked per port at dev_start; no virtual call, allocation
// (beyond mbufs from the pool), lock or exception per packet.
#pragma once

#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_net.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>

#include "common/mbuf_free.h"
#include "net/queue.h"
#include "virtio/net_hdr.h"

namespace vnet::net {

template <bool Va>
inline uint64_t buf_addr(const rte_mbuf* m) {
  if constexpr (Va)
    return reinterpret_cast<uint64_t>(m->buf_addr);
  else
    return m->buf_iova;
}

// Write a Tx virtio-net header of 10 or 12 bytes (`want`, num_buffers 0)
// with fixed-size loads and stores (a memset or memcpy of a run-time length
// is a library call per frame). A header that already holds those bytes is
// not written: the device read its line the last time the mbuf went out,
// and a store would have to take the line back from the device's cache
// (the difference between 0.78 and 1.0 of DPDK's virtio on 64 B Tx); a load
// leaves it shared.
inline void put_tx_hdr(uint8_t* h, uint16_t hdr, const virtio::NetHdr& want) {
  static_assert(sizeof(virtio::NetHdr) == 10);
  uint64_t a, wa;
  uint16_t b, wb, c = 0;
  std::memcpy(&a, h, 8);
  std::memcpy(&b, h + 8, 2);
  if (hdr > 10) std::memcpy(&c, h + 10, 2);
  std::memcpy(&wa, &want, 8);
  std::memcpy(&wb, reinterpret_cast<const uint8_t*>(&want) + 8, 2);
  if (((a ^ wa) | (b ^ wb) | c) == 0) return;
  std::memcpy(h, &wa, 8);
  std::memcpy(h + 8, &wb, 2);
  if (hdr > 10) std::memset(h + 10, 0, 2);
}

inline void count_rx(Queue& q, const rte_mbuf* m) {
  ++q.st.packets;
  q.st.bytes += m->pkt_len;
  count_size(q.st, m->pkt_len);
  const auto* eh = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (m->data_len >= sizeof(rte_ether_hdr) && rte_is_multicast_ether_addr(&eh->dst_addr))
    ++(rte_is_broadcast_ether_addr(&eh->dst_addr) ? q.st.broadcast : q.st.multicast);
}

// Post fresh mbufs as device-writable buffers: [virtio-net header | data room].
// Flattened: every translation unit that instantiates it (the bursts, the
// start path) then compiles the same code, whatever its inlining budget left,
// and the linker's pick among the copies cannot change the burst's cost.
template <class R, bool Va>
[[gnu::flatten]] void rx_refill(Queue& q) {
  R& r = q.ring.as<R>();
  uint32_t free = r.free_slots();
  if (free == 0) return;
  while (free > 0) {
    const uint16_t n = static_cast<uint16_t>(std::min<uint32_t>(free, kBurst));
    rte_mbuf* ms[kBurst];
    // Raw from the pool, not reset: a pooled mbuf already has refcnt 1, no
    // next segment and one segment (DPDK's pool invariant), and rx_first()
    // sets every field a frame needs, so a reset here would write each
    // mbuf twice.
    if (rte_mempool_get_bulk(q.mp, reinterpret_cast<void**>(ms), n) != 0) {
      ++*q.rx_nombuf;
      q.st.drops += n;  // buffers the device will not have
      break;
    }
    ring::Seg segs[kBurst];
    for (uint16_t i = 0; i < n; ++i)
      segs[i] = ring::Seg{buf_addr<Va>(ms[i]) + RTE_PKTMBUF_HEADROOM - q.hdr_size, q.rx_buf_len, true};
    r.add_many(segs, reinterpret_cast<void* const*>(ms), n);  // cannot fail: n <= free slots, one slot each
    free -= n;
  }
  r.publish();
  if (r.kick_prepare()) {
    q.kick.kick();
    ++q.st.kicks;
  }
}

// The virtio-net header the device wrote in front of a frame's first buffer.
inline const virtio::NetHdr& rx_hdr(const Queue& q, const rte_mbuf* m) {
  return *reinterpret_cast<const virtio::NetHdr*>(static_cast<const uint8_t*>(m->buf_addr) + RTE_PKTMBUF_HEADROOM -
                                                  q.hdr_size);
}

// First (or only) buffer of a frame: `len` data bytes after the header.
// The mbuf came raw from the pool (rx_refill): nb_segs is 1 and next is
// NULL already, and next sits in the mbuf's second line, which an Rx of a
// one-buffer frame then never touches.
inline void rx_first(const Queue& q, rte_mbuf* m, uint32_t len) {
  m->data_off = RTE_PKTMBUF_HEADROOM;
  m->data_len = static_cast<uint16_t>(len);
  m->pkt_len = len;
  m->port = q.port_id;
  m->ol_flags = 0;
  m->packet_type = 0;
  m->vlan_tci = 0;
}

// Checksum and GSO fields from the device into mbuf flags. The device is not
// trusted: only what was negotiated, the checksum field inside the frame, a
// non-zero segment size. false: malformed.
inline bool rx_offload_hdr(const Queue& q, rte_mbuf* m, const virtio::NetHdr& h) {
  if (h.flags & virtio::NET_HDR_F_NEEDS_CSUM) {
    const uint32_t start = h.csum_start.get(), off = h.csum_offset.get();
    if (!q.rx_csum || start + off + 2 > m->pkt_len) return false;
    m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;  // partial checksum: the data itself is good
  } else if (h.flags & virtio::NET_HDR_F_DATA_VALID) {
    m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  }
  if (h.gso_type != virtio::NET_HDR_GSO_NONE) {
    const uint8_t kind = h.gso_type == virtio::NET_HDR_GSO_TCPV4   ? kGsoTcp4
                         : h.gso_type == virtio::NET_HDR_GSO_TCPV6 ? kGsoTcp6
                                                                   : 0;  // ECN, UDP: not negotiated
    if (!(q.rx_gso & kind) || h.gso_size.get() == 0) return false;
    m->tso_segsz = h.gso_size.get();
    m->ol_flags |= RTE_MBUF_F_RX_LRO;
    if (!(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK)) m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
  }
  return true;
}

// A whole frame arrived: offloads (when on for this burst), then counters.
// false: dropped and counted.
inline bool rx_complete(Queue& q, rte_mbuf* m, uint8_t off) {
  if (off) {
    // One copy of the header the device wrote: each field (gso_size too) is read once.
    if ((off & kRxOffHdr) && !rx_offload_hdr(q, m, virtio::snapshot<virtio::NetHdr>(&rx_hdr(q, m)))) {
      ++q.st.errors;
      rte_pktmbuf_free(m);
      return false;
    }
    if (off & kRxOffStrip) rte_vlan_strip(m);
  }
  count_rx(q, m);
  return true;
}

// Rx prefetches the header and Ethernet lines of buffers with at most this
// much written (header included): a 64 B frame's, not a 1518 B frame's.
inline constexpr uint32_t kRxPrefetchMaxLen = 192;

template <class R, bool Va, bool Mrg>
uint16_t rx_burst(void* rxq, rte_mbuf** pkts, uint16_t nb) {
  Queue& q = *static_cast<Queue*>(rxq);
  // Every burst passes the queue's gate (ring/burst_gate.h): the control
  // path closes it and waits for us before it touches the ring.
  const ring::BurstGate::Pass in(q.gate);
  if (!in) return 0;
  R& r = q.ring.as<R>();
  const uint16_t hdr = q.hdr_size;
  const uint8_t off = q.rx_off;  // once per burst: the no-offload path pays one test per frame
  uint16_t nrx = 0;
  ring::UsedBuf used[kBurst];
  while (nrx < nb) {
    const uint16_t n = r.poll_used(used, static_cast<uint16_t>(std::min<uint32_t>(kBurst, nb - nrx)));
    if (n == 0) break;
    // The device just wrote these lines from its core: ask for all of them
    // at once rather than miss on each frame in turn. Only for buffers the
    // device filled no further than the line after the Ethernet header's:
    // prefetching two lines of a big frame's buffer lets the core's stream
    // prefetcher pull the rest of it, every line of which the device must
    // then take back to write the next frame there (ours+ours packed 1518 B
    // rx ran at half the rate with the prefetch).
    for (uint16_t i = 0; i < n; ++i) {
      if (used[i].len > kRxPrefetchMaxLen) continue;
      const auto* d =
          static_cast<const uint8_t*>(static_cast<const rte_mbuf*>(used[i].token)->buf_addr) + RTE_PKTMBUF_HEADROOM;
      // Read-only: a device that compares before it rewrites the header
      // (DPDK's vhost) then finds the line still shared (taking it for
      // writing cost ours+dpdk split 64 B rx a quarter of its rate).
      rte_prefetch0(d - hdr);  // the virtio-net header (num_buffers, offloads)
      rte_prefetch0(d);        // the Ethernet header count_rx() reads
    }
    for (uint16_t i = 0; i < n; ++i) {
      auto* m = static_cast<rte_mbuf*>(used[i].token);
      const uint32_t len = used[i].len;
      if constexpr (!Mrg) {
        if (len <= hdr) {  // a frame needs a header and at least one byte
          ++q.st.errors;
          rte_pktmbuf_free(m);
          continue;
        }
        rx_first(q, m, len - hdr);
        if (rx_complete(q, m, off)) pkts[nrx++] = m;
      } else {
        if (q.part_left == 0) {  // first buffer of a frame carries the header
          const uint16_t nbufs = reinterpret_cast<const virtio::NetHdrMrg&>(rx_hdr(q, m)).num_buffers.get();
          if (len <= hdr || nbufs == 0 || nbufs > q.size) {
            ++q.st.errors;
            rte_pktmbuf_free(m);
            continue;
          }
          rx_first(q, m, len - hdr);
          q.part_head = q.part_tail = m;
          q.part_left = static_cast<uint16_t>(nbufs - 1);
        } else {  // continuation buffers: data from the buffer's start
          m->data_off = static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM - hdr);
          m->data_len = static_cast<uint16_t>(len);
          q.part_head->pkt_len += len;
          ++q.part_head->nb_segs;
          q.part_tail->next = m;
          q.part_tail = m;
          --q.part_left;
        }
        if (q.part_left == 0) {
          q.part_tail->next = nullptr;
          rte_mbuf* head = q.part_head;
          q.part_head = q.part_tail = nullptr;
          if (rx_complete(q, head, off)) pkts[nrx++] = head;
        }
      }
    }
  }
  rx_refill<R, Va>(q);
  return nrx;
}

template <class R>
inline void tx_reclaim(R& r) {
  static_assert(kBurst <= kFreeBatch);
  ring::UsedBuf used[kBurst];
  rte_mbuf* ms[kBurst];
  for (;;) {
    const uint16_t n = r.poll_used(used, kBurst);
    if (n == 0) return;
    for (uint16_t i = 0; i < n; ++i) ms[i] = static_cast<rte_mbuf*>(used[i].token);
    free_mbufs(ms, n);
    if (n < kBurst) return;
  }
}

// The header for a packet's offload requests (checksum, TSO). false: it asks
// for something the device did not agree to.
inline bool tx_offload_hdr(const Queue& q, const rte_mbuf* m, virtio::NetHdr& h) {
  const uint64_t fl = m->ol_flags;
  const uint16_t l3_end = static_cast<uint16_t>(m->l2_len + m->l3_len);
  if (fl & RTE_MBUF_F_TX_TCP_SEG) {
    const uint8_t kind = (fl & RTE_MBUF_F_TX_IPV6) ? kGsoTcp6 : kGsoTcp4;
    if (!(q.tx_gso & kind) || m->tso_segsz == 0) return false;
    h.gso_type = kind == kGsoTcp6 ? virtio::NET_HDR_GSO_TCPV6 : virtio::NET_HDR_GSO_TCPV4;
    h.gso_size.set(m->tso_segsz);
    h.hdr_len.set(static_cast<uint16_t>(l3_end + m->l4_len));
    h.flags = virtio::NET_HDR_F_NEEDS_CSUM;
    h.csum_start.set(l3_end);
    h.csum_offset.set(offsetof(rte_tcp_hdr, cksum));
    return true;
  }
  uint16_t field;
  switch (fl & RTE_MBUF_F_TX_L4_MASK) {
    case RTE_MBUF_F_TX_L4_NO_CKSUM:
      return true;
    case RTE_MBUF_F_TX_TCP_CKSUM:
      field = offsetof(rte_tcp_hdr, cksum);
      break;
    case RTE_MBUF_F_TX_UDP_CKSUM:
      field = offsetof(rte_udp_hdr, dgram_cksum);
      break;
    default:  // SCTP's CRC is not a ones'-complement sum virtio-net can finish
      return false;
  }
  if (!q.tx_csum) return false;
  h.flags = virtio::NET_HDR_F_NEEDS_CSUM;
  h.csum_start.set(l3_end);
  h.csum_offset.set(field);
  return true;
}

// Software VLAN insert; a shared mbuf is copied first. false: no memory.
inline bool tx_vlan_insert(rte_mbuf** pm) {
  rte_mbuf* m = *pm;
  if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) > 1) {
    rte_mbuf* c = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);
    if (!c) return false;
    rte_pktmbuf_free(m);
    *pm = m = c;
  }
  return rte_vlan_insert(pm) == 0;
}

// A Tx packet the batch path takes: one segment, ours alone, with room for
// the virtio-net header in its headroom (the frame and header go out as one
// descriptor).
inline bool tx_simple(const rte_mbuf* m, uint16_t hdr) {
  return m->nb_segs == 1 && rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m) && rte_pktmbuf_headroom(m) >= hdr;
}

// The leading run of simple packets (no offloads configured), added to the
// ring as one batch per kBurst; returns how many were taken. Stops at the
// first other packet or when the ring is full: the per-packet path goes on
// from there.
template <class R, bool Va>
uint16_t tx_batch(Queue& q, R& r, rte_mbuf** pkts, uint16_t nb) {
  const uint16_t hdr = q.hdr_size;
  const virtio::NetHdr none{};
  uint16_t done = 0;
  while (done < nb) {
    const auto room = static_cast<uint16_t>(std::min<uint32_t>({r.free_slots(), uint32_t{nb} - done, kBurst}));
    ring::Seg segs[kBurst];
    uint16_t k = 0;
    for (; k < room; ++k) {
      rte_mbuf* m = pkts[done + k];
      if (!tx_simple(m, hdr)) break;
      put_tx_hdr(rte_pktmbuf_mtod(m, uint8_t*) - hdr, hdr, none);  // num_buffers is unused on Tx: 0
      segs[k] = ring::Seg{buf_addr<Va>(m) + m->data_off - hdr, static_cast<uint32_t>(m->data_len) + hdr, false};
      ++q.st.packets;
      q.st.bytes += m->pkt_len;
      count_size(q.st, m->pkt_len);
    }
    if (k == 0) break;
    r.add_many(segs, reinterpret_cast<void* const*>(pkts + done), k);  // cannot fail: k <= free slots
    done = static_cast<uint16_t>(done + k);
    if (k < room || r.free_slots() == 0) break;
  }
  return done;
}

// Off: the port has Tx offloads configured (checksum, TSO, VLAN insert);
// without them no per-packet flag is looked at, and the leading simple
// packets go in one batch (tx_batch).
template <class R, bool Va, bool Off>
uint16_t tx_burst(void* txq, rte_mbuf** pkts, uint16_t nb) {
  Queue& q = *static_cast<Queue*>(txq);
  const ring::BurstGate::Pass in(q.gate);  // as in rx_burst
  if (!in) return 0;
  R& r = q.ring.as<R>();
  const uint16_t hdr = q.hdr_size;
  // Reclaim only when the burst may not fit: used slots are then read a
  // ring's length behind the device, not in the lines it is writing.
  if (r.free_slots() < nb) tx_reclaim(r);
  uint16_t i = 0;
  if constexpr (!Off) i = tx_batch<R, Va>(q, r, pkts, nb);
  for (; i < nb; ++i) {
    rte_mbuf* m = pkts[i];
    virtio::NetHdr oh{};
    if constexpr (Off) {
      if ((m->ol_flags & RTE_MBUF_F_TX_VLAN) && !tx_vlan_insert(&pkts[i])) {
        ++q.st.drops;
        rte_pktmbuf_free(pkts[i]);
        continue;
      }
      m = pkts[i];
      if (!tx_offload_hdr(q, m, oh)) {
        ++q.st.errors;
        rte_pktmbuf_free(m);
        continue;
      }
    }
    if (m->nb_segs > kMaxTxSegs) {  // more pieces than we chain: count and drop
      ++q.st.errors;
      rte_pktmbuf_free(m);
      continue;
    }
    const bool push = rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m) && rte_pktmbuf_headroom(m) >= hdr;
    // Ring slots this packet takes without indirect tables (an upper bound:
    // with them it takes one); also keeps next_id() below meaningful.
    const uint32_t need = m->nb_segs + (push ? 0u : 1u);
    if (r.free_slots() < need) {
      tx_reclaim(r);
      if (r.free_slots() == 0) break;
    }
    ring::Seg segs[kMaxTxSegs + 1];
    uint16_t k = 0;
    uint8_t* h;
    if (push) {
      h = rte_pktmbuf_mtod(m, uint8_t*) - hdr;
      segs[k++] = ring::Seg{buf_addr<Va>(m) + m->data_off - hdr, static_cast<uint32_t>(m->data_len) + hdr, false};
    } else {
      const uint16_t slot = r.next_id();
      h = q.hdrs + size_t{slot} * kTxHdrStride;
      segs[k++] = ring::Seg{q.hdrs_addr + size_t{slot} * kTxHdrStride, hdr, false};
      segs[k++] = ring::Seg{buf_addr<Va>(m) + m->data_off, m->data_len, false};
    }
    for (const rte_mbuf* s = m->next; s; s = s->next)
      segs[k++] = ring::Seg{buf_addr<Va>(s) + s->data_off, s->data_len, false};
    put_tx_hdr(h, hdr, oh);             // num_buffers is unused on Tx: 0
    if (r.add(segs, k, m) != 0) break;  // ring full (chain needs more slots than are free)
    ++q.st.packets;
    q.st.bytes += m->pkt_len;
    count_size(q.st, m->pkt_len);
  }
  r.publish();
  if (r.kick_prepare()) {
    q.kick.kick();
    ++q.st.kicks;
  }
  return i;
}

// tx_pkt_prepare with offloads: the pseudo-header sum the device finishes.
inline uint16_t tx_prepare(void*, rte_mbuf** pkts, uint16_t nb) noexcept {
  for (uint16_t i = 0; i < nb; ++i) {
    rte_mbuf* m = pkts[i];
    if (!(m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG))) continue;
    if (const int rc = rte_net_intel_cksum_prepare(m); rc != 0) {
      rte_errno = -rc;
      return i;
    }
  }
  return nb;
}

}  // namespace vnet::net
