#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# tests/vm/make-initramfs.sh — builds the vm label's guest initramfs: static
# busybox, the kernel modules the guest needs (with their dependencies, in load
# order) and tests/vm/guest-init as /init.
#
# usage: make-initramfs.sh <kernel-dir> <out.cpio.gz> [extra-module ...]
#   <kernel-dir>  build/deps/vm from tools/setup.sh (kver, lib/modules/<kver>/)
#   VNET_VM_EXTRA_MODULES (env, space separated) adds modules too.
# Rebuilds only when an input is newer than the output. Invariant: every module
# named in modules.order is in the image and loads after its dependencies.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KDIR=${1:?usage: make-initramfs.sh <kernel-dir> <out.cpio.gz> [module ...]}
OUT=${2:?usage: make-initramfs.sh <kernel-dir> <out.cpio.gz> [module ...]}
shift 2

# virtio PCI + 9p for the host tree; uio/vfio for a DPDK PMD on the guest's
# NIC; failover + virtio_net for the guest kernel's own driver.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         netfs fscache 9pnet 9pnet_virtio 9p
         uio uio_pci_generic vfio vfio_iommu_type1 vfio-pci
         failover net_failover virtio_net)
# shellcheck disable=SC2206  # word splitting wanted
MODULES+=("$@" ${VNET_VM_EXTRA_MODULES:-})

die() { printf 'make-initramfs: error: %s\n' "$*" >&2; exit 1; }

[[ -f $KDIR/kver ]] || die "$KDIR/kver missing: run tools/setup.sh"
KVER=$(<"$KDIR/kver")
MODDIR=$KDIR/lib/modules/$KVER
[[ -f $MODDIR/modules.dep ]] || die "$MODDIR/modules.dep missing: run tools/setup.sh"
BUSYBOX=/bin/busybox   # from busybox-static: the initramfs has no libc
[[ -x $BUSYBOX ]] || die "busybox missing: run tools/setup.sh (package busybox-static)"
command -v cpio >/dev/null || die "cpio missing: run tools/setup.sh"

# Up to date? (inputs: this script, the init, the module list, the kernel stamp)
LIST="$OUT.modules"
want="$KVER ${MODULES[*]}"
if [[ -f $OUT && -f $LIST && $(<"$LIST") == "$want" && $OUT -nt "$HERE/guest-init" &&
      $OUT -nt "${BASH_SOURCE[0]}" && $OUT -nt "$KDIR/stamp" && $OUT -nt "$BUSYBOX" ]]; then
    exit 0
fi

# modules.dep: "kernel/a/x.ko: kernel/b/y.ko kernel/c/z.ko"; names use '_'
# for '-'. Resolve each wanted module depth-first so dependencies come first.
declare -A PATH_OF DEPS_OF
while IFS= read -r line; do
    mod=${line%%:*}
    name=$(basename "$mod"); name=${name%%.ko*}; name=${name//-/_}
    PATH_OF[$name]=$mod
    DEPS_OF[$name]=${line#*:}
done <"$MODDIR/modules.dep"

declare -A SEEN
ORDER=()
visit() {
    local n=${1//-/_} d dn
    [[ -n ${SEEN[$n]:-} ]] && return 0
    SEEN[$n]=1
    if [[ -z ${PATH_OF[$n]:-} ]]; then
        # Built into the kernel (modules.builtin) needs no file.
        if grep -Eq "/${n//_/[_-]}\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; then return 0; fi
        die "module $n is neither in modules.dep nor built in ($KVER)"
    fi
    for d in ${DEPS_OF[$n]}; do
        dn=$(basename "$d"); dn=${dn%%.ko*}
        visit "$dn"
    done
    ORDER+=("$n")
}
for m in "${MODULES[@]}"; do visit "$m"; done

STAGE=$(mktemp -d "$(dirname "$OUT")/initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,host,lib/mods}
cp "$BUSYBOX" "$STAGE/bin/busybox"
install -m 0755 "$HERE/guest-init" "$STAGE/init"
: >"$STAGE/lib/mods/order"
for n in "${ORDER[@]}"; do
    src=$MODDIR/${PATH_OF[$n]}
    case $src in
        *.ko) cp "$src" "$STAGE/lib/mods/$n.ko" ;;
        *.ko.xz) xz -dc "$src" >"$STAGE/lib/mods/$n.ko" ;;
        *.ko.zst) zstd -qdc "$src" >"$STAGE/lib/mods/$n.ko" ;;
        *.ko.gz) gzip -dc "$src" >"$STAGE/lib/mods/$n.ko" ;;
        *) die "unknown module format: $src" ;;
    esac
    echo "$n" >>"$STAGE/lib/mods/order"
done
mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
printf '%s' "$want" >"$LIST"
echo "make-initramfs: $OUT ($KVER, ${#ORDER[@]} modules: ${ORDER[*]})"
