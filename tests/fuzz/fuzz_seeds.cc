// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// Writes a small seed corpus for one fuzz target: a few well-formed inputs
// (valid chains, indirect tables, wrap-around, IN_ORDER batches) so the
// fuzzers start past the header checks. Run at build time:
// For fuzz_vhost_messages: the handshakes virtio-user and QEMU perform; for
// fuzz_user_replies: a backend answering them; for fuzz_pci_caps: the
// recorded config spaces of tests/fixtures/pci.
//   fuzz_seeds <fuzz target> <dir>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pci/caps.h"
#include "burst_fuzz.h"
#include "pci_fuzz.h"
#include "user_fuzz.h"
#include "vhost_fuzz.h"

namespace {

using namespace vnet;
using namespace vnet::fuzz;
using Bytes = std::vector<uint8_t>;

constexpr uint16_t F_NEXT = virtio::DESC_F_NEXT, F_WRITE = virtio::DESC_F_WRITE, F_IND = virtio::DESC_F_INDIRECT,
                   F_AVAIL = virtio::DESC_F_AVAIL, F_USED = virtio::DESC_F_USED;

uint64_t data_addr(uint32_t off) { return kAddrData | off; }

// Assemble header + ring body + data area (trailing zeros trimmed).
template <class Drv, class Fill>
Bytes dev_seed(const DevHeader& h, Fill&& fill) {
  const DevGeometry<Drv> g(h.size_sel);
  Bytes body(g.body_bytes), data(g.data_bytes);
  fill(g, body.data(), data.data());
  while (!data.empty() && data.back() == 0) data.pop_back();
  Writer w;
  h.write(w);
  w.bytes(body.data(), body.size());
  w.bytes(data.data(), data.size());
  return w.b;
}

// split: avail ring entry i of a ring of n
void put_avail(uint8_t* body, uint32_t n, uint16_t i, uint16_t head) {
  const size_t off = virtio::SplitLayout::make(n).avail_off + sizeof(virtio::SplitAvailHdr) + 2u * i;
  body[off] = static_cast<uint8_t>(head);
  body[off + 1] = static_cast<uint8_t>(head >> 8);
}

// A three-entry indirect table (one readable, two writable) at data offset 1024.
template <class Put>
void indirect_table(uint8_t* data, Put&& put) {
  put(data + 1024, data_addr(512), 16, 0, 1);
  put(data + 1040, data_addr(600), 20, F_WRITE, 2);
  put(data + 1056, data_addr(700), 30, F_WRITE, 0);
}

std::vector<Bytes> split_device() {
  using G = DevGeometry<ring::SplitDriver>;
  std::vector<Bytes> s;
  auto four_chains = [](const G& g, uint8_t* body, uint8_t* data) {
    put_split(body + 0, data_addr(0), 64, F_NEXT, 1);
    put_split(body + 16, data_addr(64), 128, F_WRITE, 0);
    put_split(body + 32, data_addr(256), 32, 0, 0);
    put_split(body + 48, data_addr(1024), 48, F_IND, 0);
    put_split(body + 64, kAddrArena | (g.data_off + 2048), 100, F_WRITE, 0);
    const uint16_t heads[] = {0, 2, 3, 4};
    for (uint16_t i = 0; i < 4; ++i) put_avail(body, g.n, i, heads[i]);
    indirect_table(data, [](uint8_t* at, uint64_t a, uint32_t l, uint16_t fl, uint16_t next) {
      put_split(at, a, l, static_cast<uint16_t>(fl | (next ? F_NEXT : 0)), next);
    });
  };
  DevHeader h;
  h.size_sel = 3;  // 8
  h.feat = kDevIndirect;
  h.avail_idx = 4;
  s.push_back(dev_seed<ring::SplitDriver>(h, four_chains));

  h.feat = kDevIndirect | kDevEventIdx | kDevInOrder | kDevRewind;
  h.batch = kDevBatchUsed | kDevKicks | 2;
  h.rewind = 2;
  s.push_back(dev_seed<ring::SplitDriver>(h, four_chains));

  // 200 one-descriptor chains in a 256 ring, avail idx wrapping 16 bits.
  h = DevHeader{};
  h.size_sel = 8;
  h.feat = 1 << kDevMemShift;  // three regions
  h.avail_base = 0xfff0;
  h.avail_idx = 200;
  h.batch = 31;
  s.push_back(dev_seed<ring::SplitDriver>(h, [](const G& g, uint8_t* body, uint8_t*) {
    for (uint16_t i = 0; i < 200; ++i) {
      put_split(body + 16u * i, data_addr(16u * i), 16, i & 1 ? F_WRITE : 0, 0);
      put_avail(body, g.n, static_cast<uint16_t>((0xfff0 + i) & (g.n - 1)), i);
    }
  }));

  // One slot, swapped memory halves.
  h = DevHeader{};
  h.size_sel = 0;
  h.feat = 2 << kDevMemShift;
  h.avail_idx = 1;
  s.push_back(dev_seed<ring::SplitDriver>(h, [](const G& g, uint8_t* body, uint8_t*) {
    put_split(body, data_addr(8), 8, F_WRITE, 0);
    put_avail(body, g.n, 0, 0);
  }));
  return s;
}

std::vector<Bytes> packed_device() {
  using G = DevGeometry<ring::PackedDriver>;
  std::vector<Bytes> s;
  DevHeader h;
  h.size_sel = 7;  // 8
  h.feat = kDevIndirect;
  s.push_back(dev_seed<ring::PackedDriver>(h, [](const G&, uint8_t* body, uint8_t* data) {
    put_packed(body + 0, data_addr(0), 64, 0, F_AVAIL | F_NEXT);
    put_packed(body + 16, data_addr(64), 128, 0, F_AVAIL | F_WRITE);
    put_packed(body + 32, data_addr(256), 32, 1, F_AVAIL);
    put_packed(body + 48, data_addr(1024), 48, 2, F_AVAIL | F_IND);
    indirect_table(data,
                   [](uint8_t* at, uint64_t a, uint32_t l, uint16_t fl, uint16_t) { put_packed(at, a, l, 0, fl); });
  }));

  // A chain across the end of a 5 ring (slots 3, 4, 0; slot 0 is next lap).
  h = DevHeader{};
  h.size_sel = 4;
  h.feat = kDevInOrder;
  h.avail_base = 3;
  h.batch = kDevBatchUsed | 3;
  s.push_back(dev_seed<ring::PackedDriver>(h, [](const G&, uint8_t* body, uint8_t*) {
    put_packed(body + 48, data_addr(0), 10, 4, F_AVAIL | F_NEXT);
    put_packed(body + 64, data_addr(32), 20, 4, F_AVAIL | F_NEXT | F_WRITE);
    put_packed(body + 0, data_addr(64), 30, 4, F_USED | F_WRITE);
  }));

  // 100 one-slot chains in a 256 ring, three memory regions, event idx.
  h = DevHeader{};
  h.size_sel = 255;
  h.feat = kDevEventIdx | 1 << kDevMemShift;
  h.batch = 15;
  s.push_back(dev_seed<ring::PackedDriver>(h, [](const G&, uint8_t* body, uint8_t*) {
    for (uint16_t i = 0; i < 100; ++i)
      put_packed(body + 16u * i, data_addr(32u * i), 32, i, static_cast<uint16_t>(F_AVAIL | (i & 1 ? F_WRITE : 0)));
  }));

  // Starting on a wrap-0 lap.
  h = DevHeader{};
  h.size_sel = 2;
  h.feat = kDevAvailWrap0;
  s.push_back(dev_seed<ring::PackedDriver>(
      h, [](const G&, uint8_t* body, uint8_t*) { put_packed(body, data_addr(0), 8, 0, F_USED); }));
  return s;
}

std::vector<Bytes> driver_used() {
  std::vector<Bytes> s;
  auto script = [](uint8_t cfg, uint8_t size_sel, std::initializer_list<uint8_t> ops) {
    Writer w;
    w.u8(cfg);
    w.u8(size_sel);
    for (uint8_t b : ops) w.u8(b);
    return w.b;
  };
  constexpr uint8_t kPacked = 1, kInd = 2, kEvt = 4, kInOrder = 8;
  // Fill, serve honestly, reap: split 8 and packed 8.
  s.push_back(script(0, 3, {kOpBulkAdd, 6, kOpDevice, 5, 10, kOpPoll, 40}));
  s.push_back(script(kPacked, 7, {kOpBulkAdd, 6, kOpDevice, 5, 10, kOpPoll, 40}));
  // Chains and indirect, then forged completions of the oldest buffer.
  for (uint8_t layout : {uint8_t{0}, kPacked}) {
    s.push_back(script(layout | kInd, layout ? 15 : 4, {kOpAdd,    0x16, 50,  // 3 segments, 1 writable, indirect
                                                        kOpAdd,    0x09, 7,   // 2 segments, both writable, direct
                                                        kOpAdd,    0x00, 3,   // 1 readable
                                                        kOpMisc,   0,    kOpMisc, 1, kOpForge, 0, 5, 0, kOpPoll, 1,
                                                        kOpSetIdx, 0,    0,       0, kOpForge, 0, 3, 0, kOpPoll, 10,
                                                        kOpSetIdx, 0,    0,       0, kOpForge, 0, 0, 0, kOpPoll, 10}));
  }
  // IN_ORDER: a batch of three completed by one used entry; honest batches.
  s.push_back(
      script(kPacked | kInd | kInOrder, 9,
             {kOpAdd, 0x16, 9,       kOpAdd, 0x04,      9, kOpAdd, 0x05, 9,        kOpAdd, 0x00, 9, kOpForge, 2,
              4,      0,    kOpPoll, 40,     kOpSetIdx, 0, 0,      0,    kOpForge, 0,      0,    0, kOpPoll,  40}));
  s.push_back(script(
      kInOrder | kEvt, 3,
      {kOpBulkAdd, 8, kOpMisc, 2, kOpDevice, 7, 0x90, kOpPoll, 40, kOpBulkAdd, 5, kOpForge, 4, 1, 0, kOpPoll, 40}));
  // Several laps of a small packed ring with event idx.
  s.push_back(script(kPacked | kEvt, 3,
                     {kOpMisc, 2,  kOpBulkAdd, 3, kOpDevice, 2, 64, kOpPoll, 40, kOpBulkAdd, 3, kOpDevice, 2, 64,
                      kOpPoll, 40, kOpBulkAdd, 3, kOpDevice, 2, 64, kOpPoll, 40, kOpBulkAdd, 3, kOpDevice, 2, 64,
                      kOpPoll, 40}));
  return s;
}

}  // namespace

// A frontend's handshake as fuzz_vhost_messages frames: features, protocol
// features, one 64 KiB memfd region, then NUM/BASE/ADDR/CALL/KICK and ENABLE
// for both rings of pair 0, and DRIVER_OK. Guest and user addresses differ.
static Bytes vhost_handshake(bool packed, bool protocol_features) {
  namespace vu = vhost_user;
  using vhost_in::frame;
  constexpr uint64_t kGpa = 0x40000000, kUva = 0x7f1200000000;
  constexpr uint32_t kMemSize = 64 << 10;  // memfd size class 4: 4 KiB << 4
  Writer w;
  auto u64 = [&](uint32_t req, uint64_t v, uint8_t flags = 0) { frame(w, req, &v, 8, flags); };
  auto state = [&](uint32_t req, uint32_t idx, uint32_t num) {
    const vu::VringState st{idx, num};
    frame(w, req, &st, sizeof st);
  };
  uint64_t features = virtio::bit(virtio::feat::VERSION_1) | virtio::bit(virtio::feat::EVENT_IDX) |
                      virtio::bit(virtio::feat::NET_MRG_RXBUF) | virtio::bit(virtio::feat::NET_MQ);
  if (packed) features |= virtio::bit(virtio::feat::RING_PACKED);
  if (protocol_features) features |= virtio::bit(virtio::feat::PROTOCOL_FEATURES);
  frame(w, vu::GET_FEATURES, nullptr, 0);
  frame(w, vu::SET_OWNER, nullptr, 0);
  if (protocol_features) {
    frame(w, vu::GET_PROTOCOL_FEATURES, nullptr, 0);
    u64(vu::SET_PROTOCOL_FEATURES, virtio::bit(vu::pf::MQ) | virtio::bit(vu::pf::REPLY_ACK) |
                                       virtio::bit(vu::pf::CONFIGURE_MEM_SLOTS) | virtio::bit(vu::pf::STATUS));
  }
  u64(vu::SET_FEATURES, features);
  vu::MemTable t{};
  t.nregions = 1;
  t.regions[0] = {kGpa, kMemSize, kUva, 0};
  frame(w, vu::SET_MEM_TABLE, &t, 8 + sizeof(vu::MemRegion), vhost_in::memfds(1, 4));
  for (uint32_t i = 0; i < 2; ++i) {
    // Ring i: descriptors, driver area and device area a page apart, 256 entries.
    const uint64_t b = kUva + 0x4000 * (i + 1);
    state(vu::SET_VRING_NUM, i, 256);
    state(vu::SET_VRING_BASE, i, packed ? 0x80008000u : 0u);
    const vu::VringAddr a{i, 0, b, b + 0x2000, b + 0x1000, 0};
    frame(w, vu::SET_VRING_ADDR, &a, sizeof a);
    const uint64_t index = i;
    frame(w, vu::SET_VRING_CALL, &index, 8, vhost_in::memfds(1, 0) | vhost_in::kEventFds);
    frame(w, vu::SET_VRING_KICK, &index, 8, vhost_in::memfds(1, 0) | vhost_in::kEventFds);
    if (protocol_features) state(vu::SET_VRING_ENABLE, i, 1);
  }
  if (protocol_features) {
    u64(vu::SET_STATUS, 0xf);
    state(vu::GET_VRING_BASE, 1, 0);  // stops ring 1: the link goes down
  }
  return w.b;
}

static std::vector<Bytes> vhost_messages() {
  std::vector<Bytes> s;
  for (bool packed : {false, true})
    for (bool pf : {false, true}) s.push_back(vhost_handshake(packed, pf));
  // ADD_MEM_REG / REM_MEM_REG after the handshake (CONFIGURE_MEM_SLOTS).
  namespace vu = vhost_user;
  Bytes b = vhost_handshake(false, true);
  Writer w;
  vu::SingleMemRegion reg{};
  reg.region = {0x80000000, 8192, 0x7f1300000000, 4096};
  vhost_in::frame(w, vu::ADD_MEM_REG, &reg, sizeof reg, vhost_in::memfds(1, 2));
  vhost_in::frame(w, vu::REM_MEM_REG, &reg, sizeof reg);
  b.insert(b.end(), w.b.begin(), w.b.end());
  s.push_back(b);
  return s;
}

// The recorded config spaces: as 256 B and 4 KiB binaries and as lspci text.
static std::vector<Bytes> pci_caps() {
  std::vector<Bytes> s;
  const std::filesystem::path dir = std::filesystem::path(VNET_FIXTURE_DIR) / "pci";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".hex") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::vector<uint8_t> cfg;
    if (pci::parse_hex_dump(text, &cfg) != 0) {
      std::fprintf(stderr, "fuzz_seeds: %s is not a config space dump\n", f.c_str());
      std::exit(1);
    }
    // mode, BAR sizes (512 KiB / 16 KiB: both windows layouts fit), noff
    auto seed = [&](uint8_t mode, uint8_t bar_log2, uint16_t noff, const void* body, size_t len) {
      Writer w;
      w.u8(mode);
      for (int i = 0; i < 6; ++i) w.u8(bar_log2);
      w.u16(noff);
      w.bytes(body, len);
      s.push_back(w.b);
    };
    seed(1 << pci_in::kSizeShift, 19, 0, cfg.data(), cfg.size());
    seed(2 << pci_in::kSizeShift, 14, 1, cfg.data(), cfg.size());
    seed(pci_in::kText, 19, 2, text.data(), text.size());
  }
  return s;
}

// A backend answering virtio-user: the replies go out before the call that
// reads them (the harness is one thread).
static std::vector<Bytes> user_replies() {
  namespace vu = vhost_user;
  using namespace user_in;
  std::vector<Bytes> s;
  const uint64_t features = virtio::bit(virtio::feat::VERSION_1) | virtio::bit(virtio::feat::NET_MRG_RXBUF) |
                            virtio::bit(virtio::feat::NET_MQ) | virtio::bit(virtio::feat::PROTOCOL_FEATURES) |
                            virtio::bit(virtio::feat::RING_PACKED) | virtio::bit(virtio::feat::EVENT_IDX);
  const uint64_t pf = virtio::bit(vu::pf::MQ) | virtio::bit(vu::pf::REPLY_ACK) |
                      virtio::bit(vu::pf::CONFIGURE_MEM_SLOTS) | virtio::bit(vu::pf::STATUS);
  const uint64_t ack_bit = virtio::bit(vu::pf::REPLY_ACK);
  auto ack = [](Writer& w, uint32_t req, uint64_t v = 0) { reply_u64(w, req, v); };
  // The start sequence of VhostUserTransport, acked (or not).
  auto session = [&](bool acks) {
    Writer w;
    w.u8(0);
    call(w, kSetOwner);
    reply_u64(w, vu::GET_FEATURES, features);
    call(w, kGetFeatures);
    reply_u64(w, vu::GET_PROTOCOL_FEATURES, pf);
    call(w, kGetProtocolFeatures);
    call(w, kSetProtocolFeatures, 0, acks ? pf : pf & ~ack_bit);
    reply_u64(w, vu::GET_QUEUE_NUM, 2);
    call(w, kGetQueueNum);
    if (acks) ack(w, vu::SET_FEATURES);
    call(w, kSetFeatures, 0, features);
    if (acks) ack(w, vu::SET_MEM_TABLE);
    call(w, kSetMemTable, 2, 0x7f0000000000);
    for (uint8_t q = 0; q < 2; ++q) {
      if (acks) ack(w, vu::SET_VRING_NUM);
      call(w, kSetVringNum, q, 256);
      if (acks) ack(w, vu::SET_VRING_BASE);
      call(w, kSetVringBase, q, 0);
      if (acks) ack(w, vu::SET_VRING_ADDR);
      call(w, kSetVringAddr, q, 0x7f0000100000 + q * 0x10000);
      if (acks) ack(w, vu::SET_VRING_KICK);
      call(w, kSetVringFd, static_cast<uint8_t>(q << 3 | 0));
      if (acks) ack(w, vu::SET_VRING_CALL);
      call(w, kSetVringFd, static_cast<uint8_t>(q << 3 | 1));
      if (acks) ack(w, vu::SET_VRING_ENABLE);
      call(w, kSetVringEnable, q, 1);
    }
    if (acks) ack(w, vu::SET_STATUS);
    call(w, kSetStatus, 0, 0xf);
    if (acks) ack(w, vu::SET_VRING_ENABLE);
    call(w, kSetVringEnable, 1, 0);
    const vu::VringState st{1, 77};
    reply(w, vu::GET_VRING_BASE, &st, sizeof st);
    call(w, kGetVringBase, 1);
    return w.b;
  };
  s.push_back(session(true));
  s.push_back(session(false));

  // A refusal keeps the connection; a reply that comes too late does not.
  Writer w;
  w.u8(0);
  call(w, kSetProtocolFeatures, 0, pf);
  ack(w, vu::SET_VRING_NUM, 1);
  call(w, kSetVringNum, 0, 256);
  ack(w, vu::ADD_MEM_REG);
  call(w, kAddMemReg, 0, 0x7f0000000000);
  reply_u64(w, vu::GET_STATUS, 0xf);
  call(w, kGetStatus);
  call(w, kGetMaxMemSlots);  // no reply yet: times out
  reply_u64(w, vu::GET_MAX_MEM_SLOTS, 32);
  call(w, kGetMaxMemSlots);  // must not take the late one
  s.push_back(w.b);

  // Replies carrying 3 fds and 9 (more than a message may: refused), a
  // cancelled wait, a backend that hangs up mid-header.
  w = Writer{};
  w.u8(0);
  reply(w, vu::GET_FEATURES, &features, 8, vu::FLAG_VERSION | vu::FLAG_REPLY, 2);
  call(w, kGetFeatures);
  reply(w, vu::GET_QUEUE_NUM, &features, 8, vu::FLAG_VERSION | vu::FLAG_REPLY, 3 | kEventFds);
  w.u8(kCancel);
  call(w, kGetQueueNum);
  s.push_back(w.b);
  w = Writer{};
  w.u8(0);
  w.u8(kFrame);
  w.u8(0);
  w.u16(6);
  w.u32(vu::GET_FEATURES);
  w.u16(vu::FLAG_VERSION | vu::FLAG_REPLY);
  w.u8(kHangup);
  call(w, kGetFeatures);
  call(w, kSetMemTable, 9);
  s.push_back(w.b);

  // The transport's handshake, with and without protocol features.
  for (const bool proto : {true, false}) {
    w = Writer{};
    w.u8(kModeTransport);
    reply_u64(w, vu::GET_FEATURES, proto ? features : features & ~virtio::bit(virtio::feat::PROTOCOL_FEATURES));
    if (proto) {
      reply_u64(w, vu::GET_PROTOCOL_FEATURES, pf);
      reply_u64(w, vu::GET_QUEUE_NUM, 1000);
    }
    s.push_back(w.b);
  }
  return s;
}

// Guests that behave: chains of every shape published the way a driver
// does, frames both ways, for each layout / mergeable / engine combination.
static std::vector<Bytes> vhost_bursts() {
  using namespace burst_in;
  std::vector<Bytes> s;
  auto chain = [](Writer& w, uint8_t ring, uint8_t spec, std::initializer_list<std::pair<uint16_t, uint16_t>> segs) {
    w.u8(kChain);
    w.u8(ring);
    w.u8(spec);
    for (const auto& [off, len] : segs) w.u16(off), w.u16(len);
  };
  auto enqueue = [](Writer& w, uint8_t count, uint16_t len, uint8_t shape = 0) {
    w.u8(kEnqueue), w.u8(count), w.u16(len), w.u8(shape);
  };
  auto dequeue = [](Writer& w, uint8_t count, uint8_t keep = 0) { w.u8(kDequeue), w.u8(count), w.u8(keep); };
  for (const bool packed : {false, true}) {
    for (const uint8_t variant : {0, 1, 2, 3}) {
      Header h;
      h.feat = static_cast<uint8_t>((packed ? kPacked : 0) | (variant & 1 ? kMrg : kHdr12) | kIndirect |
                                    (variant & 2 ? kEventIdx | kInOrder : 0) | (variant << kMemShift));
      h.size_sel = packed ? 15 : 4;  // 16 entries
      h.engine = variant & 2 ? static_cast<uint8_t>(kRxDma | kTxDma | 1 << kThresholdShift) : 0;
      h.rx_base = packed ? 0x8000 | 14 : 0xfffe;  // wraps soon
      h.tx_base = packed ? 0x8000 : 0;
      Writer w;
      h.write(w);
      if (h.engine) w.u8(kDma), w.u8(0);  // copies wait: records stay in flight until the policy changes
      // Rx: one-piece buffers, a buffer split over two descriptors, an indirect one, a tiny one.
      for (uint16_t i = 0; i < 4; ++i) chain(w, 0, 1u << 2, {{static_cast<uint16_t>(i * 2048), 2048}});
      chain(w, 0, 1 | 2u << 2, {{8192, 12}, {8204, 1500}});
      chain(w, 0, 2 | 3u << 2 | kChainIndirect, {{10240, 100}, {10340, 100}, {10440, 1400}});
      chain(w, 0, 1u << 2, {{12288, 8}});
      enqueue(w, 3, 60);
      enqueue(w, 2, 3000, 1);  // multi-segment mbufs, bigger than one buffer
      enqueue(w, 2, 1400, kShapeGrow);
      // Tx: header + frame in one piece, split over descriptors, indirect, header only.
      chain(w, 1, 0, {{16384, 74}});
      chain(w, 1, 2, {{17000, 12}, {17100, 700}, {18000, 800}});
      chain(w, 1, 1 | kChainIndirect, {{19000, 12}, {19100, 1500}});
      chain(w, 1, 0, {{20000, 12}});
      dequeue(w, 2, kKeep);
      w.u8(kDma), w.u8(1);  // one completion per poll
      dequeue(w, 32);
      w.u8(kDrive);
      w.u8(kFree);
      w.u8(kReset), w.u8(1), w.u16(packed ? 0x8000 : 7);
      chain(w, 1, 0, {{16384, 1000}});
      dequeue(w, 1);
      s.push_back(w.b);
    }
    // A mergeable frame dropped mid-way (the next buffer cannot hold a
    // header) while one of its DMA copies fails: counted once.
    Header h;
    h.feat = static_cast<uint8_t>((packed ? kPacked : 0) | kMrg);
    h.size_sel = packed ? 15 : 4;
    h.engine = kRxDma;
    Writer w;
    h.write(w);
    chain(w, 0, 1u << 2, {{0, 2048}});
    chain(w, 0, 1u << 2, {{2048, 8}});
    w.u8(kDma), w.u8(kDmaFail);  // nothing completes; the next copy will fail
    enqueue(w, 1, 3000);
    s.push_back(w.b);
  }
  return s;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <fuzz target> <seed dir>\n", argv[0]);
    return 2;
  }
  const std::string target = argv[1];
  std::vector<Bytes> seeds;
  if (target == "fuzz_split_device") {
    seeds = split_device();
  } else if (target == "fuzz_packed_device") {
    seeds = packed_device();
  } else if (target == "fuzz_driver_used") {
    seeds = driver_used();
  } else if (target == "fuzz_vhost_messages") {
    seeds = vhost_messages();
  } else if (target == "fuzz_pci_caps") {
    seeds = pci_caps();
  } else if (target == "fuzz_user_replies") {
    seeds = user_replies();
  } else if (target == "fuzz_vhost_bursts") {
    seeds = vhost_bursts();
  } else {
    std::fprintf(stderr, "fuzz_seeds: unknown target %s\n", target.c_str());
    return 2;
  }
  const std::filesystem::path dir = argv[2];
  std::filesystem::create_directories(dir);
  for (size_t i = 0; i < seeds.size(); ++i) {
    const auto path = dir / ("seed-" + std::to_string(i));
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(seeds[i].data(), 1, seeds[i].size(), f) != seeds[i].size() || std::fclose(f) != 0) {
      std::perror(path.c_str());
      return 1;
    }
  }
  return 0;
}
