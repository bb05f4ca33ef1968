#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# tests/vnet-pci-cli.sh — tools/vnet-pci end to end on a fake sysfs tree built
# from the recorded config spaces (libpci reads it through --sysfs) and the
# build host's recorded route tables (--proc): list, show, decode, and bind /
# unbind refusing a routed interface (exit 3, nothing written) until --force.
# usage: vnet-pci-cli.sh <vnet-pci binary> <fixtures dir>
set -euo pipefail
TOOL=${1:?usage: vnet-pci-cli.sh <vnet-pci> <fixtures>}
FIX=${2:?usage: vnet-pci-cli.sh <vnet-pci> <fixtures>}
T=$(mktemp -d "${TMPDIR:-/tmp}/vnet-pci-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

SYS=$T/sys PCI=$T/sys/bus/pci
mkdir -p "$PCI/drivers/virtio-pci" "$PCI/drivers/uio_pci_generic"
: >"$PCI/drivers/virtio-pci/unbind"
: >"$PCI/drivers/uio_pci_generic/unbind"
: >"$PCI/drivers_probe"
# device BDF FIXTURE DRIVER [IFNAME]
device() {
    local d=$PCI/devices/$1
    mkdir -p "$d"
    python3 - "$FIX/pci/$2.hex" "$d/config" <<'EOF'
import re, sys
b = bytearray(256)
for line in open(sys.argv[1]):
    m = re.match(r"^([0-9a-f]+): ((?:[0-9a-f]{2} ?)+)$", line.rstrip("\n") + " ")
    if m:
        off = int(m.group(1), 16)
        for i, x in enumerate(m.group(2).split()):
            b[off + i] = int(x, 16)
open(sys.argv[2], "wb").write(b)
EOF
    printf '0x%02x%02x\n' "$(od -An -tu1 -j1 -N1 "$d/config")" "$(od -An -tu1 -j0 -N1 "$d/config")" >"$d/vendor"
    printf '0x%02x%02x\n' "$(od -An -tu1 -j3 -N1 "$d/config")" "$(od -An -tu1 -j2 -N1 "$d/config")" >"$d/device"
    echo 0x020000 >"$d/class"
    echo "(null)" >"$d/driver_override"
    ln -s "../../drivers/$3" "$d/driver"
    [[ -z ${4:-} ]] || mkdir -p "$d/virtio1/net/$4"
}
device 0000:00:03.0 qemu-modern virtio-pci eth0
device 0000:00:04.0 qemu-legacy virtio-pci eth1
RUN=("$TOOL" --sysfs "$SYS" --proc "$FIX/pci/proc-host")

out=$("${RUN[@]}" list)
echo "$out"
grep -Eq '^0000:00:03.0 1af4:1041 virtio-net +modern +driver=virtio-pci +net=eth0$' <<<"$out" || fail "list: modern device"
grep -Eq '^0000:00:04.0 1af4:1000 virtio-net +legacy-only +driver=virtio-pci +net=eth1$' <<<"$out" || fail "list: legacy device"

out=$("${RUN[@]}" show 0000:00:03.0)
echo "$out"
grep -Eq '0x70 +notify +4 +0x00003000 0x00001000 multiplier 4' <<<"$out" || fail "show: notify capability"
grep -Eq 'net eth0: [0-9]+ active routes, e.g. ipv4 0.0.0.0/0' <<<"$out" || fail "show: routes of eth0"

out=$("${RUN[@]}" decode "$FIX/pci/qemu-transitional.hex")
grep -q 'transitional (legacy I/O BAR 0)' <<<"$out" || fail "decode: transitional"
grep -Eq '0x40 +common +4 +0x00000000 0x00001000' <<<"$out" || fail "decode: common capability"

# eth0 carries the host's default route: refused, nothing written.
rc=0; "${RUN[@]}" bind 0000:00:03.0 uio_pci_generic || rc=$?
[[ $rc -eq 3 ]] || fail "bind of a routed device exited $rc, want 3"
[[ ! -s $PCI/drivers/virtio-pci/unbind && ! -s $PCI/drivers_probe ]] || fail "a refused bind wrote to sysfs"
[[ $(cat "$PCI/devices/0000:00:03.0/driver_override") == "(null)" ]] || fail "a refused bind set driver_override"
rc=0; "${RUN[@]}" unbind 0000:00:03.0 || rc=$?
[[ $rc -eq 3 && ! -s $PCI/drivers/virtio-pci/unbind ]] || fail "unbind of a routed device: exit $rc or wrote"

# eth1 has no route: bind goes ahead (the fake kernel does not rebind: exit 1).
rc=0; "${RUN[@]}" bind 0000:00:04.0 uio_pci_generic || rc=$?
[[ $(cat "$PCI/drivers/virtio-pci/unbind") == 0000:00:04.0 ]] || fail "bind did not unbind 0000:00:04.0"
[[ $(cat "$PCI/devices/0000:00:04.0/driver_override") == uio_pci_generic ]] || fail "bind did not set driver_override"
[[ $(cat "$PCI/drivers_probe") == 0000:00:04.0 ]] || fail "bind did not probe"
[[ $rc -eq 1 ]] || fail "bind reported $rc though the driver did not change"

# --force overrides the route check.
: >"$PCI/drivers/virtio-pci/unbind"
"${RUN[@]}" unbind --force 0000:00:03.0
[[ $(cat "$PCI/drivers/virtio-pci/unbind") == 0000:00:03.0 ]] || fail "forced unbind did not write"
echo PASS
