#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# Installs the build tree into a fresh staging prefix (cmake --install, as a
# user would, never the system) and checks that everything the install
# promises is there: the plugin in DPDK's plugin directory under the prefix,
# libvnet.a, the public headers, libvnet.pc.
# usage: stage.sh <cmake> <build dir> <staging prefix> <plugin dir, relative to the prefix>
set -euo pipefail
cmake=$1 build=$2 stage=$3 plugindir=$4
rm -rf "$stage"
"$cmake" --install "$build" --prefix "$stage"
bad=0
for f in "$plugindir/librte_net_vnet.so" include/vnet/rte_pmd_vnet_vhost.h; do
    [[ -f $stage/$f ]] || { echo "FAIL: $stage/$f not installed"; bad=1; }
done
for f in libvnet.a pkgconfig/libvnet.pc; do
    [[ -n $(find "$stage" -path "*/$f") ]] || { echo "FAIL: no $f under $stage"; bad=1; }
done
(cd "$stage" && find . -type f | sort)
[[ $bad -eq 0 ]] && echo PASS
exit $bad
