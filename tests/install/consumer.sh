#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# An application of the installed vnet: consumer.c is compiled and linked by
# the C compiler with nothing but `pkg-config --cflags --libs libvnet` from
# the staging prefix, then run under EAL with a net_vnet_vhost port.
# usage: consumer.sh <staging prefix> <work dir> <C compiler>
set -euo pipefail
stage=$1 work=$2 cc=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pc=$(find "$stage" -path '*/pkgconfig/libvnet.pc' | head -n1)
[[ -n $pc ]] || { echo "FAIL: no libvnet.pc under $stage"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
cflags=$(pkg-config --cflags libvnet)
libs=$(pkg-config --libs libvnet)
echo "pkg-config --cflags libvnet: $cflags"
echo "pkg-config --libs libvnet: $libs"
mkdir -p "$work"
# DPDK's C warning set (config/meson.build), so the public header is held to it.
warn="-Wall -Wextra -Werror -Wcast-qual -Wdeprecated -Wformat-nonliteral -Wformat-security -Wmissing-declarations
      -Wmissing-prototypes -Wnested-externs -Wold-style-definition -Wpointer-arith -Wsign-compare
      -Wstrict-prototypes -Wundef -Wwrite-strings"
# shellcheck disable=SC2086 # word splitting is what these flags need
"$cc" -std=gnu11 $warn $cflags "$here/consumer.c" -o "$work/consumer" $libs
rm -f "$work/c.sock"
"$work/consumer" --no-huge -m 256 --no-pci --file-prefix="vnet-consumer-$$" --vdev "net_vnet_vhost0,iface=$work/c.sock"
