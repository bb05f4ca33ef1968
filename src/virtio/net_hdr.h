// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2026 The vnet authors
// The virtio-net header (virtio 1.x section 5.1.6) in its three sizes: basic,
// with num_buffers (MRG_RXBUF or VERSION_1), and with the hash report.
// Layout pinned by static_assert; flags and GSO types are plain constants.
#pragma once

#include <cstddef>
#include <cstdint>

#include "virtio/endian.h"
#include "virtio/features.h"

namespace vnet::virtio {

inline constexpr uint8_t NET_HDR_F_NEEDS_CSUM = 1;
inline constexpr uint8_t NET_HDR_F_DATA_VALID = 2;
inline constexpr uint8_t NET_HDR_F_RSC_INFO = 4;

inline constexpr uint8_t NET_HDR_GSO_NONE = 0;
inline constexpr uint8_t NET_HDR_GSO_TCPV4 = 1;
inline constexpr uint8_t NET_HDR_GSO_UDP = 3;
inline constexpr uint8_t NET_HDR_GSO_TCPV6 = 4;
inline constexpr uint8_t NET_HDR_GSO_UDP_L4 = 5;
inline constexpr uint8_t NET_HDR_GSO_ECN = 0x80;

struct NetHdr {
  uint8_t flags;
  uint8_t gso_type;
  le16 hdr_len;
  le16 gso_size;
  le16 csum_start;
  le16 csum_offset;
};
static_assert(sizeof(NetHdr) == 10);
static_assert(offsetof(NetHdr, hdr_len) == 2 && offsetof(NetHdr, csum_offset) == 8);

struct NetHdrMrg {
  NetHdr hdr;
  le16 num_buffers;
};
static_assert(sizeof(NetHdrMrg) == 12);
static_assert(offsetof(NetHdrMrg, num_buffers) == 10);

struct NetHdrHash {
  NetHdrMrg mrg;
  le32 hash_value;
  le16 hash_report;
  le16 padding_reserved;
};
static_assert(sizeof(NetHdrHash) == 20);
static_assert(offsetof(NetHdrHash, hash_value) == 12 && offsetof(NetHdrHash, hash_report) == 16);

// The header size both sides must use for the negotiated features.
constexpr size_t net_hdr_size(uint64_t features) noexcept {
  if (has(features, feat::NET_HASH_REPORT)) return sizeof(NetHdrHash);
  if (has(features, feat::NET_MRG_RXBUF) || has(features, feat::VERSION_1)) return sizeof(NetHdrMrg);
  return sizeof(NetHdr);
}
static_assert(net_hdr_size(bit(feat::VERSION_1)) == 12);
static_assert(net_hdr_size(0) == 10);
static_assert(net_hdr_size(bit(feat::NET_MRG_RXBUF)) == 12);

// Net device config space (5.1.4), read through the transport.
struct NetConfig {
  uint8_t mac[6];
  le16 status;
  le16 max_virtqueue_pairs;
  le16 mtu;
  le32 speed;
  uint8_t duplex;
  uint8_t rss_max_key_size;
  le16 rss_max_indirection_table_length;
  le32 supported_hash_types;
};
static_assert(offsetof(NetConfig, status) == 6);
static_assert(offsetof(NetConfig, max_virtqueue_pairs) == 8);
static_assert(offsetof(NetConfig, mtu) == 10);
static_assert(offsetof(NetConfig, speed) == 12);
static_assert(offsetof(NetConfig, duplex) == 16);
static_assert(offsetof(NetConfig, supported_hash_types) == 20);
static_assert(sizeof(NetConfig) == 24);

inline constexpr uint16_t NET_S_LINK_UP = 1;
inline constexpr uint16_t NET_S_ANNOUNCE = 2;

}  // namespace vnet::virtio
