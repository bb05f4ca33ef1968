// Rx and Tx bursts, templates over the ring type (split/packed), the address
// kind (process VA for virtio-user, IOVA for PCI) and mergeable Rx. One
// instantiation is picked per port at dev_start; no virtual call, allocation
// (beyond mbufs from the pool), lock or exception per packet.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

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

inline void count_rx(Queue& q, const rte_mbuf* m) {
  ++q.st.packets;
  q.st.bytes += m->pkt_len;
  count_size(q.st, m->pkt_len);
  const auto* eh = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (m->data_len >= sizeof(rte_ether_hdr) && rte_is_multicast_ether_addr(&eh->dst_addr))
    ++(rte_is_broadcast_ether_addr(&eh->dst_addr) ? q.st.broadcast : q.st.multicast);
}

// Post fresh mbufs as device-writable buffers: [virtio-net header | data room].
template <class R, bool Va>
void rx_refill(Queue& q) {
  R& r = q.ring<R>();
  uint32_t free = r.free_slots();
  if (free == 0) return;
  while (free > 0) {
    const uint16_t n = static_cast<uint16_t>(std::min<uint32_t>(free, kBurst));
    rte_mbuf* ms[kBurst];
    if (rte_pktmbuf_alloc_bulk(q.mp, ms, n) != 0) {
      ++*q.rx_nombuf;
      break;
    }
    for (uint16_t i = 0; i < n; ++i) {
      const ring::Seg s{buf_addr<Va>(ms[i]) + RTE_PKTMBUF_HEADROOM - q.hdr_size, q.rx_buf_len, true};
      r.add(&s, 1, ms[i]);  // cannot fail: n <= free slots, one slot each
    }
    free -= n;
  }
  r.publish();
  if (r.kick_prepare()) {
    q.kick.kick();
    ++q.st.kicks;
  }
}

template <class R, bool Va, bool Mrg>
uint16_t rx_burst(void* rxq, rte_mbuf** pkts, uint16_t nb) {
  Queue& q = *static_cast<Queue*>(rxq);
  R& r = q.ring<R>();
  const uint16_t hdr = q.hdr_size;
  uint16_t nrx = 0;
  ring::UsedBuf used[kBurst];
  while (nrx < nb) {
    const uint16_t n = r.poll_used(used, static_cast<uint16_t>(std::min<uint32_t>(kBurst, nb - nrx)));
    if (n == 0) break;
    for (uint16_t i = 0; i < n; ++i) {
      auto* m = static_cast<rte_mbuf*>(used[i].token);
      const uint32_t len = used[i].len;
      if constexpr (!Mrg) {
        if (len <= hdr) {  // a frame needs a header and at least one byte
          ++q.st.errors;
          rte_pktmbuf_free(m);
          continue;
        }
        m->data_off = RTE_PKTMBUF_HEADROOM;
        m->data_len = static_cast<uint16_t>(len - hdr);
        m->pkt_len = len - hdr;
        m->nb_segs = 1;
        m->next = nullptr;
        m->port = q.port_id;
        m->ol_flags = 0;
        count_rx(q, m);
        pkts[nrx++] = m;
      } else {
        if (q.part_left == 0) {  // first buffer of a frame carries the header
          const auto* h = reinterpret_cast<const virtio::NetHdrMrg*>(static_cast<uint8_t*>(m->buf_addr) +
                                                                       RTE_PKTMBUF_HEADROOM - hdr);
          const uint16_t nbufs = h->num_buffers.get();
          if (len <= hdr || nbufs == 0 || nbufs > q.size) {
            ++q.st.errors;
            rte_pktmbuf_free(m);
            continue;
          }
          m->data_off = RTE_PKTMBUF_HEADROOM;
          m->data_len = static_cast<uint16_t>(len - hdr);
          m->pkt_len = len - hdr;
          m->nb_segs = 1;
          m->port = q.port_id;
          m->ol_flags = 0;
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
          count_rx(q, q.part_head);
          pkts[nrx++] = q.part_head;
          q.part_head = q.part_tail = nullptr;
        }
      }
    }
  }
  rx_refill<R, Va>(q);
  return nrx;
}

template <class R>
inline void tx_reclaim(R& r) {
  ring::UsedBuf used[kBurst];
  rte_mbuf* ms[kBurst];
  for (;;) {
    const uint16_t n = r.poll_used(used, kBurst);
    if (n == 0) return;
    for (uint16_t i = 0; i < n; ++i) ms[i] = static_cast<rte_mbuf*>(used[i].token);
    rte_pktmbuf_free_bulk(ms, n);
    if (n < kBurst) return;
  }
}

template <class R, bool Va>
uint16_t tx_burst(void* txq, rte_mbuf** pkts, uint16_t nb) {
  Queue& q = *static_cast<Queue*>(txq);
  R& r = q.ring<R>();
  const uint16_t hdr = q.hdr_size;
  tx_reclaim(r);
  uint16_t i = 0;
  for (; i < nb; ++i) {
    rte_mbuf* m = pkts[i];
    if (m->nb_segs > kMaxTxSegs) {  // more pieces than we chain: count and drop
      ++q.st.errors;
      rte_pktmbuf_free(m);
      continue;
    }
    const bool push = rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m) && rte_pktmbuf_headroom(m) >= hdr;
    if (r.free_slots() < static_cast<uint32_t>(m->nb_segs) + 1u) tx_reclaim(r);
    if (r.free_slots() == 0) break;  // next_id() below is only meaningful with a free slot
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
    std::memset(h, 0, hdr);  // no offloads requested: a zero header (num_buffers unused on Tx)
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

}  // namespace vnet::net
