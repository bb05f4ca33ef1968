// The backend's bursts, one template per (ring layout, mergeable) pair,
// picked when a ring is armed. Dequeue drains the frontend's transmit ring
// into mbufs (virtio-net header stripped, multi-segment for big frames);
// enqueue fills the frontend's receive ring behind a virtio-net header,
// spreading a frame over several buffers with MRG_RXBUF. Invariants: only
// pointers from validated chains are written; used entries are pushed in
// the order chains were popped; a chain we cannot use is either restored
// (not consumed) or returned used with length 0; no mbuf is leaked.
#pragma once

#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "vhost/vring.h"
#include "virtio/net_hdr.h"

namespace vnet::vhost {

inline constexpr uint32_t kMaxFrame = 65535 + 14;  // no TSO offered: nothing bigger is valid
inline constexpr uint16_t kMaxBufsPerFrame = 64;    // mergeable: buffers one frame may take

using SplitDev = ring::SplitDevice<Mem>;
using PackedDev = ring::PackedDevice<Mem>;

template <class Dev>
Dev& dev_of(Vring& v);
template <>
inline SplitDev& dev_of<SplitDev>(Vring& v) { return v.split; }
template <>
inline PackedDev& dev_of<PackedDev>(Vring& v) { return v.packed; }

// Publish used entries and notify the frontend if it asked for it.
template <class Dev>
inline void finish(Vring& v, Dev& dev) {
  dev.flush();
  if (dev.should_notify() && v.call_fd >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(v.call_fd, &one, sizeof one);  // EAGAIN: a wake-up is pending anyway
  }
}

// Readable part of a chain (minus `skip` header bytes) into a fresh mbuf chain.
inline rte_mbuf* chain_to_mbuf(const ring::Chain& c, uint32_t skip, rte_mempool* mp) {
  rte_mbuf* head = rte_pktmbuf_alloc(mp);
  if (!head) return nullptr;
  rte_mbuf* cur = head;
  uint32_t total = 0;
  for (uint16_t i = 0; i < c.nout; ++i) {
    const uint8_t* src = c.segs[i].ptr;
    uint32_t len = c.segs[i].len;
    const uint32_t s = std::min(skip, len);
    src += s;
    len -= s;
    skip -= s;
    while (len > 0) {
      uint32_t room = rte_pktmbuf_tailroom(cur);
      if (room == 0) {
        rte_mbuf* nx = rte_pktmbuf_alloc(mp);
        if (!nx) {
          rte_pktmbuf_free(head);
          return nullptr;
        }
        nx->data_off = 0;  // continuation segments need no headroom
        cur->next = nx;
        cur = nx;
        ++head->nb_segs;
        room = rte_pktmbuf_tailroom(cur);
      }
      const uint32_t k = std::min(room, len);
      rte_memcpy(rte_pktmbuf_mtod_offset(cur, uint8_t*, cur->data_len), src, k);
      cur->data_len = static_cast<uint16_t>(cur->data_len + k);
      src += k;
      len -= k;
      total += k;
    }
  }
  head->pkt_len = total;
  return head;
}

// Dequeue: what the frontend transmitted becomes our received mbufs.
template <class Dev>
uint16_t dequeue_burst(Vring& v, rte_mbuf** pkts, uint16_t n) {
  Dev& dev = dev_of<Dev>(v);
  ring::Chain& c = v.chain;
  const uint32_t hdr = v.hdr_len;
  uint16_t got = 0;
  uint64_t bytes = 0;
  while (got < n) {
    const ring::Cursor pos = dev.save();
    const ring::Pop r = dev.pop(c);
    if (r == ring::Pop::Empty || r == ring::Pop::Broken) break;
    if (r == ring::Pop::Dropped || c.out_len <= hdr || c.out_len - hdr > kMaxFrame) {
      dev.push_used(c, 0);
      ++v.st.dropped;
      continue;
    }
    rte_mbuf* m = chain_to_mbuf(c, hdr, v.mp);
    if (!m) {
      dev.restore(pos);  // the frame stays in the ring for the next burst
      ++v.st.nombuf;
      break;
    }
    m->port = v.port_id;
    dev.push_used(c, 0);
    bytes += m->pkt_len;
    pkts[got++] = m;
  }
  finish(v, dev);
  v.st.packets += got;
  v.st.bytes += bytes;
  return got;
}

// Writes into the device-writable pieces of a chain.
struct SegWriter {
  const ring::DevSeg* s;
  const ring::DevSeg* e;
  uint32_t off = 0;
  explicit SegWriter(const ring::Chain& c) : s(c.segs + c.nout), e(c.segs + c.nseg) {}
  bool full() const { return s == e; }
  uint32_t put(const void* src, uint32_t len) {
    const auto* p = static_cast<const uint8_t*>(src);
    uint32_t done = 0;
    while (done < len && s != e) {
      const uint32_t k = std::min(s->len - off, len - done);
      rte_memcpy(s->ptr + off, p + done, k);
      off += k;
      done += k;
      if (off == s->len) {
        ++s;
        off = 0;
      }
    }
    return done;
  }
  // Where the byte `at` bytes ahead of the write position is (nullptr: past the end).
  uint8_t* peek(uint32_t at) const {
    uint32_t o = off;
    for (const ring::DevSeg* q = s; q != e; ++q, o = 0) {
      if (at < q->len - o) return q->ptr + o + at;
      at -= q->len - o;
    }
    return nullptr;
  }
};

// Reads an mbuf chain front to back.
struct MbufReader {
  const rte_mbuf* seg;
  uint32_t off = 0;
  // Copy as much as fits into w; returns bytes copied.
  uint32_t into(SegWriter& w) {
    uint32_t done = 0;
    while (seg && !w.full()) {
      const uint32_t avail = seg->data_len - off;
      if (avail == 0) {
        seg = seg->next;
        off = 0;
        continue;
      }
      const uint32_t k = w.put(rte_pktmbuf_mtod_offset(seg, const uint8_t*, off), avail);
      off += k;
      done += k;
    }
    return done;
  }
};

enum class Put : uint8_t { Sent, NoRoom, Dropped };

// Without MRG_RXBUF: one chain per frame, header then data.
template <class Dev>
Put put_one(Vring& v, Dev& dev, ring::Chain& c, rte_mbuf* m, uint32_t hdr) {
  const uint64_t need = uint64_t{hdr} + m->pkt_len;
  for (;;) {
    const ring::Cursor pos = dev.save();
    const ring::Pop r = dev.pop(c);
    if (r == ring::Pop::Empty || r == ring::Pop::Broken) return Put::NoRoom;
    if (r == ring::Pop::Dropped || c.in_len < hdr) {
      dev.push_used(c, 0);  // the frontend's bad buffer goes back to it, empty
      ++v.st.bad_chains;
      continue;
    }
    if (c.in_len < need) {
      dev.restore(pos);  // keep the buffer for a frame that fits
      return Put::Dropped;
    }
    virtio::NetHdrMrg h{};
    h.num_buffers.set(1);
    SegWriter w(c);
    w.put(&h, hdr);
    MbufReader rd{m};
    rd.into(w);
    dev.push_used(c, static_cast<uint32_t>(need));
    return Put::Sent;
  }
}

// With MRG_RXBUF: as many chains as the frame needs; num_buffers set last.
template <class Dev>
Put put_mrg(Vring& v, Dev& dev, ring::Chain& c, rte_mbuf* m, uint32_t hdr) {
  struct Rec {
    uint16_t head, ndesc;
    uint32_t len;
  };
  Rec rec[kMaxBufsPerFrame];
  uint16_t nrec = 0;
  const uint64_t need = uint64_t{hdr} + m->pkt_len;
  uint64_t written = 0;
  uint8_t* nb[2] = {nullptr, nullptr};
  MbufReader rd{m};
  ring::Cursor start = dev.save();
  while (written < need) {
    const ring::Pop r = dev.pop(c);
    if (r == ring::Pop::Empty || r == ring::Pop::Broken) {
      dev.restore(start);  // nothing of this frame was pushed: retry next burst
      return Put::NoRoom;
    }
    if (r == ring::Pop::Dropped || c.in_len < hdr) {  // 5.1.6.3.1: each buffer holds at least a header
      ++v.st.bad_chains;
      if (nrec == 0) {
        dev.push_used(c, 0);
        start = dev.save();
        continue;
      }
      // Mid-frame: return every buffer of the frame empty; the frame is lost.
      const uint16_t bad_head = c.head, bad_ndesc = c.ndesc;
      for (uint16_t i = 0; i < nrec; ++i) {
        c.head = rec[i].head;
        c.ndesc = rec[i].ndesc;
        dev.push_used(c, 0);
      }
      c.head = bad_head;
      c.ndesc = bad_ndesc;
      dev.push_used(c, 0);
      return Put::Dropped;
    }
    if (nrec == kMaxBufsPerFrame) {
      dev.restore(start);
      return Put::Dropped;
    }
    SegWriter w(c);
    uint32_t here = 0;
    if (nrec == 0) {
      virtio::NetHdrMrg h{};
      nb[0] = w.peek(offsetof(virtio::NetHdrMrg, num_buffers));
      nb[1] = w.peek(offsetof(virtio::NetHdrMrg, num_buffers) + 1);
      here = w.put(&h, hdr);
    }
    here += rd.into(w);
    rec[nrec++] = Rec{c.head, c.ndesc, here};
    written += here;
    if (here == 0) break;  // mbuf shorter than its pkt_len: stop rather than drain the ring
  }
  // num_buffers is little-endian (5.1.6).
  *nb[0] = static_cast<uint8_t>(nrec);
  *nb[1] = static_cast<uint8_t>(nrec >> 8);
  for (uint16_t i = 0; i < nrec; ++i) {
    c.head = rec[i].head;
    c.ndesc = rec[i].ndesc;
    dev.push_used(c, rec[i].len);
  }
  return Put::Sent;
}

// Enqueue: our transmitted mbufs land in the frontend's receive ring.
// Returns how many mbufs were consumed (sent or dropped, and freed).
template <class Dev, bool Mrg>
uint16_t enqueue_burst(Vring& v, rte_mbuf** pkts, uint16_t n) {
  Dev& dev = dev_of<Dev>(v);
  ring::Chain& c = v.chain;
  const uint32_t hdr = v.hdr_len;
  uint16_t i = 0, sent = 0;
  uint64_t bytes = 0;
  for (; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    Put r = Put::Dropped;
    if (m->pkt_len <= kMaxFrame) r = Mrg ? put_mrg(v, dev, c, m, hdr) : put_one(v, dev, c, m, hdr);
    if (r == Put::NoRoom) break;
    if (r == Put::Sent) {
      ++sent;
      bytes += m->pkt_len;
    } else {
      ++v.st.dropped;
    }
    rte_pktmbuf_free(m);
  }
  finish(v, dev);
  v.st.packets += sent;
  v.st.bytes += bytes;
  return i;
}

}  // namespace vnet::vhost
