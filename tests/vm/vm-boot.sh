#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# tests/vm/vm-boot.sh — boots the vm label's QEMU guest (TCG) once, runs one
# command inside it and exits with that command's status. The guest sees the
# host's whole tree read-only at / (9p), so the command can be anything on the
# host: a script in the build tree, dpdk-testpmd, a test binary.
#
# usage: vm-boot.sh --workdir DIR [options] -- <command> [args...]
#   --workdir DIR      where the generated guest script and console.log go; must
#                      be visible to the guest (not under /run, /proc, /sys,
#                      /dev: the guest mounts its own there). Required.
#   --vhost-user SOCK  add a virtio-net-pci device (modern only, no MSI-X:
#                      vectors=0, see RECIPES) on a vhost-user netdev whose
#                      backend listens on SOCK. Repeatable; guest NIC i gets
#                      MAC 52:54:00:00:00:0<i+1>.
#   --packed           packed=on on every vhost-user virtio-net-pci device
#   --queues N         N queue pairs on every vhost-user NIC (the netdev's
#                      queues=N, the device's mq=on; still vectors=0: the
#                      PMDs poll, so the queues need no MSI-X vectors)
#   --device-opts STR  appended to each such -device (e.g. mrg_rxbuf=off)
#   --qemu-arg ARG     one more raw QEMU argument, placed before the NICs
#                      (repeatable; e.g. -netdev socket,... -device ...)
#   --machine TYPE     QEMU machine (default pc; q35 for an intel-iommu)
#   --append STR       more kernel command line (e.g. intel_iommu=on)
#   --smp N            guest vCPUs (default 2)   --mem MB  guest RAM (default 2048)
#   --hugepages N      2 MiB hugepages reserved in the guest (default 256),
#                      mounted at /dev/hugepages
#   --timeout SEC      QEMU is killed after SEC seconds (default 300)
#   --initrd FILE      default: $VNET_VM_INITRD (set by ctest), else built by
#                      make-initramfs.sh into the kernel dir
#   --kernel-dir DIR   default: $VNET_VM_KERNEL_DIR, else <repo>/build/deps/vm
#                      (tools/setup.sh)
# Inside the guest: modules virtio_net, uio_pci_generic, vfio-pci loaded; the
# command runs as root in a chroot of the host tree with fresh /proc /sys /dev,
# a writable tmpfs /run (TMPDIR=/run/tmp); stdout/stderr go to the console.
# Exit status: the command's; 124 when QEMU was killed by the timeout; 125
# when the guest ended without reporting (boot failure, panic); 2 on bad usage.
# The console is in <workdir>/console.log and is printed (prefixed "guest| ").
#
# Example (a PMD test): the host side starts a backend on $SOCK (host-lib.sh:
# vm_testpmd), writes <workdir>/g.sh, then runs
#   vm-boot.sh --workdir <workdir> --vhost-user $SOCK [--packed] -- <workdir>/g.sh
# where g.sh (bash, runs in the guest) sources tests/vm/host-lib.sh, calls
# vm_init, binds the NIC with `bdf=$(tests/vm/guest-bind.sh uio_pci_generic)`,
# copies the plugin with vm_plugin (set VNET_PLUGIN in g.sh: the guest command
# starts with a clean environment; EAL's -d check passes under the guest's
# /run wherever the clone lives) and runs dpdk-testpmd -a $bdf --iova-mode=pa
# with vm_testpmd; guest-dpdk-virtio.sh is a complete example. For vfio-pci:
# --machine q35 --qemu-arg -device --qemu-arg intel-iommu,intremap=on
# --append intel_iommu=on (IOVA as VA over vhost-user would also need
# iommu_platform=on on the device and IOTLB support in the backend).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORKDIR="" PACKED=0 QUEUES=1 DEVOPTS="" APPEND="" MACHINE=pc SMP=2 MEM=2048 HP=256 TIMEOUT=300
INITRD=${VNET_VM_INITRD:-} KDIR=${VNET_VM_KERNEL_DIR:-$ROOT/build/deps/vm}
SOCKS=() EXTRA=()

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { printf 'vm-boot: error: %s\n' "$*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --workdir) WORKDIR=$2; shift 2 ;;
        --vhost-user) SOCKS+=("$2"); shift 2 ;;
        --packed) PACKED=1; shift ;;
        --queues) QUEUES=$2; shift 2 ;;
        --device-opts) DEVOPTS=$2; shift 2 ;;
        --qemu-arg) EXTRA+=("$2"); shift 2 ;;
        --machine) MACHINE=$2; shift 2 ;;
        --append) APPEND=$2; shift 2 ;;
        --smp) SMP=$2; shift 2 ;;
        --mem) MEM=$2; shift 2 ;;
        --hugepages) HP=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --initrd) INITRD=$2; shift 2 ;;
        --kernel-dir) KDIR=$2; shift 2 ;;
        --) shift; break ;;
        -h | --help) usage ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[[ $# -gt 0 ]] || die "no guest command (see --help)"
[[ -n $WORKDIR ]] || die "--workdir is required"
[[ $QUEUES =~ ^[1-9][0-9]*$ ]] || die "--queues $QUEUES: a positive number"
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd -P)
case $WORKDIR in
    /run | /run/* | /proc/* | /sys/* | /dev/*) die "--workdir $WORKDIR is hidden from the guest" ;;
    *[[:space:]]*) die "--workdir must not contain whitespace (it goes on the kernel command line)" ;;
esac
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing: run tools/setup.sh"
[[ -f $KDIR/vmlinuz ]] || die "$KDIR/vmlinuz missing: run tools/setup.sh"
if [[ -z $INITRD ]]; then
    INITRD=$KDIR/initrd.gz
    "$HERE/make-initramfs.sh" "$KDIR" "$INITRD" >&2
fi
[[ -f $INITRD ]] || die "initrd $INITRD missing"

# The command, as a script the guest's init executes.
GUEST_SCRIPT=$WORKDIR/guest-cmd.sh
{
    printf '#!/bin/bash\n# generated by vm-boot.sh\n'
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
} >"$GUEST_SCRIPT"
chmod 0755 "$GUEST_SCRIPT"

LOG=$WORKDIR/console.log
rm -f "$LOG"
args=(-accel tcg -cpu max -machine "$MACHINE" -m "$MEM" -smp "$SMP"
      -nodefaults -display none -no-reboot -serial "file:$LOG"
      -kernel "$KDIR/vmlinuz" -initrd "$INITRD"
      -append "console=ttyS0 quiet panic=-1 guestcmd=$GUEST_SCRIPT guesthugepages=$HP${APPEND:+ $APPEND}"
      -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap
      # vhost-user needs the guest RAM in a shareable fd.
      -object "memory-backend-memfd,id=mem,size=${MEM}M,share=on" -numa node,memdev=mem)
args+=("${EXTRA[@]}")
i=0
for s in "${SOCKS[@]}"; do
    dev="virtio-net-pci,netdev=vn$i,disable-legacy=on,vectors=0,romfile=,mac=52:54:00:00:00:0$((i + 1))"
    [[ $PACKED -eq 1 ]] && dev+=",packed=on"
    netdev="vhost-user,id=vn$i,chardev=vu$i"
    if [[ $QUEUES -gt 1 ]]; then dev+=",mq=on" netdev+=",queues=$QUEUES"; fi
    [[ -n $DEVOPTS ]] && dev+=",$DEVOPTS"
    args+=(-chardev "socket,id=vu$i,path=$s" -netdev "$netdev" -device "$dev")
    i=$((i + 1))
done

printf 'vm-boot: %s %s\n' "$QEMU" "${args[*]}" >&2
t0=$SECONDS
rc=0
timeout --kill-after=5 "$TIMEOUT" "$QEMU" "${args[@]}" </dev/null >"$WORKDIR/qemu.out" 2>&1 || rc=$?
dt=$((SECONDS - t0))
sed 's/^/guest| /' "$LOG" 2>/dev/null || true
if [[ -s $WORKDIR/qemu.out ]]; then sed 's/^/qemu| /' "$WORKDIR/qemu.out"; fi
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    echo "vm-boot: QEMU killed after the ${TIMEOUT} s timeout" >&2
    exit 124
fi
res=$(sed -n 's/^VNET-GUEST-RESULT rc=\([0-9]*\).*/\1/p' "$LOG" 2>/dev/null | tail -n1)
if [[ -z $res ]]; then
    echo "vm-boot: the guest ended without a result (QEMU exit $rc after $dt s)" >&2
    exit 125
fi
echo "vm-boot: guest command exited $res (QEMU exit $rc, $dt s)" >&2
exit "$res"
