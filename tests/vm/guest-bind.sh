#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# tests/vm/guest-bind.sh — runs INSIDE the vm guest: hands the virtio-net PCI
# device(s) to a userspace I/O driver so a DPDK PMD can drive them.
#
# usage: guest-bind.sh [uio_pci_generic|vfio-pci] [vendor:device ...]
#   default driver uio_pci_generic, default devices 1af4:1041 (modern) and
#   1af4:1000 (transitional). Prints the bound BDFs, one per line, on stdout
#   (messages on stderr). Exit 1 when no device was bound.
# Uses driver_override, so only the named devices move (never the 9p device).
set -u
DRV=${1:-uio_pci_generic}
[[ $# -gt 0 ]] && shift
IDS=("$@")
[[ ${#IDS[@]} -gt 0 ]] || IDS=(1af4:1041 1af4:1000)
bound=0
for d in /sys/bus/pci/devices/*; do
    id="$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")"
    match=0
    for want in "${IDS[@]}"; do [[ $id == "$want" ]] && match=1; done
    [[ $match -eq 1 ]] || continue
    bdf=${d##*/}
    # The 9p transport is virtio too (1af4:1009): the ids above never match it.
    cur=$(readlink "$d/driver" 2>/dev/null); cur=${cur##*/}
    if [[ $cur != "$DRV" ]]; then
        [[ -n $cur ]] && echo "$bdf" >"$d/driver/unbind"
        echo "$DRV" >"$d/driver_override"
        echo "$bdf" >/sys/bus/pci/drivers_probe
        cur=$(readlink "$d/driver" 2>/dev/null); cur=${cur##*/}
    fi
    if [[ $cur == "$DRV" ]]; then
        echo "guest-bind: $bdf ($id) -> $DRV" >&2
        echo "$bdf"
        bound=$((bound + 1))
    else
        echo "guest-bind: $bdf ($id) did not bind to $DRV (driver: ${cur:-none})" >&2
    fi
done
[[ $bound -gt 0 ]]
