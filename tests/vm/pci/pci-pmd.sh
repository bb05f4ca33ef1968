#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# tests/vm/pci/pci-pmd.sh — our net_vnet PCI PMD inside the QEMU guest on the
# guest's virtio-net-pci, against a host backend that reflects every frame:
# over vhost-user, dpdk-testpmd (io forwarding, loop topology) with our own
# net_vnet_vhost ("vnet") or DPDK's net_vhost ("dpdk"); or, with no
# vhost-user at all, QEMU's own device model on a `-netdev socket` (UDP) to
# udp-reflector.py, which checks and counts every frame ("qemu"). In the guest,
# tools/vnet-pci first must refuse to unbind the NIC while it carries a
# route, then binds it to uio_pci_generic; vnet-vm-pci-guest sends
# sequence-numbered frames and checks every one that comes back. Passes when
# the guest's tally is exact and the packet and byte counters of both sides
# reconcile: guest tx == host rx, host tx == guest rx. With uio_pci_generic
# the host then takes the link down and up (QEMU monitor set_link) and the
# guest must see both as link-state interrupts; then (backend qemu) the host
# toggles the link in a burst (VNET_PCI_FLAPS changes at random sub-3 ms intervals, so
# some land between the PMD's ISR read and its INTx unmask), takes it down,
# and the guest must still see that final down and the up after it. Every
# uio run also fails on an interrupt storm on the NIC's line (the kernel's
# "nobody cared", or far more interrupts than uio events).
#
# usage: pci-pmd.sh vnet|dpdk|qemu split|packed|legacy <workdir> [uio|vfio] [QUEUES]
#   QUEUES (default 1): queue pairs over vhost-user (vnet or dpdk): the
#         backend's queues=QUEUES with testpmd --rxq/--txq=QUEUES (io
#         forwarding sends queue i back on queue i), QEMU's netdev
#         queues=QUEUES and device mq=on, the PMD's devarg queues=QUEUES;
#         the guest checks each pair's frames and counters on their own
#         (VNET_PCI_COUNT is split between the pairs).
#   uio (default): uio_pci_generic, --iova-mode=pa.
#   vfio: q35 with an emulated intel-iommu, the device behind it
#         (iommu_platform=on), vfio-pci and --iova-mode=va; a vhost-user
#         backend must translate through IOTLB messages (DPDK's,
#         iommu-support=1); QEMU's own model (qemu) translates itself and
#         keeps MSI-X, so link changes arrive on MSI-X vector 0.
#   env VNET_PLUGIN     build/<preset>/plugins/librte_net_vnet.so (backend vnet)
#       VNET_PCI_GUEST  the vnet-vm-pci-guest binary
#       VNET_PCI_TOOL   the vnet-pci binary
#       VNET_VM_LIB     directory of host-lib.sh and vm-boot.sh (default: ..)
#       VNET_PCI_COUNT  frames per length (default 2000)
#       VNET_PCI_DEVARGS more devargs for the PMD (e.g. ",cq=1")
#       VNET_PCI_FLAPS  link changes in the burst (default: 200 with backend
#                       qemu; 0, no burst, over vhost-user, where each change
#                       also stops or starts QEMU's vhost-user device)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=${VNET_VM_LIB:-$(cd "$HERE/.." && pwd)}
# shellcheck source=../host-lib.sh
. "$LIB/host-lib.sh"

USAGE="usage: pci-pmd.sh vnet|dpdk|qemu split|packed|legacy <workdir> [uio|vfio] [QUEUES]"
BACKEND=${1:?$USAGE} RING=${2:?$USAGE} WORK=${3:?$USAGE} KDRV=${4:-uio} QUEUES=${5:-1}
[[ $QUEUES =~ ^[1-9][0-9]*$ ]] || vm_fail "QUEUES=$QUEUES: a positive number"
COUNT=$(( ${VNET_PCI_COUNT:-2000} / QUEUES ))
LENS=64,1514
# legacy: a transitional device without its modern interface (virtio 0.9.5
# over the I/O BAR), which only has split rings.
case $RING in
    split) PACKED=() DEVARGS="" DEVOPTS=() NEG=split ;;
    packed) PACKED=(--packed) DEVARGS=",packed_vq=1" DEVOPTS=() NEG=packed ;;   # QEMU offers it, our PMD asks for it
    legacy) PACKED=() DEVARGS="" DEVOPTS=(--device-opts "disable-modern=on,disable-legacy=off") NEG=split ;;
    *) vm_fail "ring $RING: split, packed or legacy" ;;
esac
DEVARGS+=${VNET_PCI_DEVARGS:-}
[[ -x ${VNET_PCI_GUEST:-} ]] || vm_fail "VNET_PCI_GUEST=${VNET_PCI_GUEST:-} is not the guest program"
[[ -x ${VNET_PCI_TOOL:-} ]] || vm_fail "VNET_PCI_TOOL=${VNET_PCI_TOOL:-} is not vnet-pci"

vm_init
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd -P)
SOCK=$VM_RUN/vhost.sock
VHOST_OPTS="" BOOT=() GUEST_DRV=uio_pci_generic IOVA=pa WARMUP=0 LSC=1
FLAPS=${VNET_PCI_FLAPS:-$([[ $BACKEND == qemu ]] && echo 200 || echo 0)}
[[ $FLAPS =~ ^[0-9]+$ ]] || vm_fail "VNET_PCI_FLAPS=$FLAPS: a count"
MON=$VM_RUN/mon.sock
case $KDRV in
    uio) ;;
    vfio)
        [[ $RING != legacy ]] || vm_fail "legacy devices cannot sit behind the IOMMU"
        # DPDK's vhost drops what it cannot yet translate while its IOTLB fills.
        # No INTx/MSI-X LSC under vfio here (vectors=0): link status is polled.
        VHOST_OPTS=",iommu-support=1" GUEST_DRV=vfio-pci IOVA=va WARMUP=1024 LSC=0
        DEVOPTS=(--device-opts "iommu_platform=on,ats=on")
        # The emulated IOMMU must precede the NIC; the kernel needs intel_iommu=on
        # (a later -append replaces vm-boot.sh's own, so it repeats guestcmd=).
        BOOT=(--machine q35 --qemu-arg -device --qemu-arg intel-iommu
              --qemu-arg -append --qemu-arg "console=ttyS0 quiet panic=-1 intel_iommu=on guestcmd=$WORK/guest-cmd.sh guesthugepages=256")
        ;;
    *) vm_fail "kernel driver $KDRV: uio or vfio" ;;
esac
NIC=(--vhost-user "$SOCK") MQ=() TESTPMD_MQ=() MQ_OPTS=""
if [[ $QUEUES -gt 1 ]]; then
    [[ $BACKEND != qemu ]] || vm_fail "QUEUES=$QUEUES: only over vhost-user (vnet or dpdk)"
    NIC+=(--queues "$QUEUES") DEVARGS+=",queues=$QUEUES" MQ=(--queues "$QUEUES")
    MQ_OPTS=",queues=$QUEUES" TESTPMD_MQ=(--rxq="$QUEUES" --txq="$QUEUES")
fi
case $BACKEND in
    vnet) VDEV=(-d "$(vm_plugin)" --vdev "net_vnet_vhost0,iface=$SOCK$MQ_OPTS"); DEVNAME=net_vnet_vhost0 ;;
    dpdk) VDEV=(--vdev "net_vhost0,iface=$SOCK$VHOST_OPTS$MQ_OPTS"); DEVNAME=net_vhost0 ;;
    qemu)
        DEVNAME=udp-reflector VPORT=
        HPORT=$((20000 + RANDOM % 20000)) QPORT=$((HPORT + 1))
        dev="virtio-net-pci,netdev=vn0,romfile=,mac=52:54:00:00:00:01"
        if [[ $KDRV == vfio ]]; then
            # QEMU's own device model translates through the IOMMU itself (no
            # IOTLB warm-up), and keeps MSI-X: link changes on vector 0.
            dev+=",iommu_platform=on,ats=on" WARMUP=0 LSC=1
        else
            dev+=",vectors=0"
        fi
        case $RING in
            legacy) dev+=",disable-modern=on,disable-legacy=off" ;;
            packed) dev+=",disable-legacy=on,packed=on" ;;
            *) dev+=",disable-legacy=on" ;;
        esac
        NIC=(--qemu-arg -netdev --qemu-arg "socket,id=vn0,udp=127.0.0.1:$HPORT,localaddr=127.0.0.1:$QPORT"
             --qemu-arg -device --qemu-arg "$dev")
        PACKED=() DEVOPTS=()
        ;;
    *) vm_fail "backend $BACKEND: vnet, dpdk or qemu" ;;
esac

if [[ $BACKEND == qemu ]]; then
    python3 "$HERE/udp-reflector.py" --listen "127.0.0.1:$HPORT" --reply "127.0.0.1:$QPORT" \
        --stats "$VM_RUN/reflector.stats" >"$VM_RUN/reflector.log" 2>&1 &
    REFL=$!
    vm_on_exit "kill -KILL $REFL"
    for ((i = 0; i < 50; i++)); do [[ -s $VM_RUN/reflector.stats ]] && break; sleep 0.1; done
    [[ -s $VM_RUN/reflector.stats ]] || vm_fail "udp-reflector did not start: $(cat "$VM_RUN/reflector.log")"
else
    vm_testpmd host -l 0,1 --no-huge -m 512 --no-pci --file-prefix="vnetpci$$" "${VDEV[@]}" \
        --log-level=pmd.net.vnet*:info \
        -- --total-num-mbufs=16384 --forward-mode=io --port-topology=loop "${TESTPMD_MQ[@]}"
    [[ -S $SOCK ]] || vm_fail "$DEVNAME did not listen on $SOCK"
    VPORT=$(vm_port_id host "$DEVNAME")
    vm_testpmd_cmd host "start"
fi
# "rx_pkts rx_bytes tx_pkts tx_bytes" of the host side.
host_stats() {
    if [[ $BACKEND == qemu ]]; then
        local before
        before=$(stat -c %Y.%s "$VM_RUN/reflector.stats" 2>/dev/null || true)
        kill -USR1 "$REFL"
        for ((i = 0; i < 50; i++)); do
            [[ $(stat -c %Y.%s "$VM_RUN/reflector.stats" 2>/dev/null) != "$before" ]] && break
            sleep 0.1
        done
        sleep 0.2
        cut -d' ' -f1-4 "$VM_RUN/reflector.stats"
    else
        vm_port_stats host "$VPORT"
    fi
}
vm_log "host: $DEVNAME${VPORT:+ port $VPORT} reflects frames; ring $RING; guest $GUEST_DRV, IOVA as ${IOVA^^}"

# Runs inside the guest (it sees the host's tree read-only).
cat >"$WORK/guest.sh" <<EOF
#!/bin/bash
# generated by pci-pmd.sh: bind the virtio-net function to uio_pci_generic
# with vnet-pci (after checking it refuses while a route exists), then run
# our PMD on it.
set -u
tool=$VNET_PCI_TOOL
bdf=\$(\$tool list | awk '\$3 == "virtio-net" { print \$1; exit }')
[[ -n \$bdf ]] || { echo "no virtio-net PCI function"; \$tool list --all; exit 10; }
\$tool list
\$tool show \$bdf
ifn=\$(\$tool list | awk -v b=\$bdf '\$1 == b { sub("net=", "", \$6); print \$6 }')
if [[ -n \$ifn && \$ifn != - ]]; then
    # No IPv6 (router solicitations, MLD): the kernel must send nothing that
    # would show up in the backend's counters.
    echo 1 >/proc/sys/net/ipv6/conf/\$ifn/disable_ipv6
    ip link set \$ifn up && ip addr add 10.98.0.2/24 dev \$ifn
    \$tool bind \$bdf $GUEST_DRV; rc=\$?
    [[ \$rc -eq 3 ]] || { echo "vnet-pci bind of a routed \$ifn exited \$rc, want 3 (refused)"; exit 11; }
    ip addr flush dev \$ifn; ip link set \$ifn down
fi
\$tool bind \$bdf $GUEST_DRV || exit 12
$VNET_PCI_GUEST -l 0 -n 1 --iova-mode=$IOVA --file-prefix=guest -a \$bdf$DEVARGS \\
    --log-level=pmd.net.vnet*:info -- --count $COUNT --lens $LENS --timeout 120 --warmup $WARMUP --lsc $LSC --lsc-flaps $((LSC && FLAPS > 0)) ${MQ[*]}
rc=\$?
# Every run, pass or fail (a failure is judged against the passes): the
# interrupt line's count, the UIO event count (interrupts the kernel handed
# to the PMD), and the function's PCI command and status registers.
grep -E 'CPU|uio|virtio' /proc/interrupts || true
for u in /sys/bus/pci/devices/\$bdf/uio/uio*; do [[ -e \$u/event ]] && echo "\${u##*/} events \$(cat \$u/event)"; done
echo "pci command/status: \$(od -An -tx2 -j4 -N4 /sys/bus/pci/devices/\$bdf/config)"
\$tool bind \$bdf kernel >/dev/null || true
exit \$rc
EOF
chmod 0755 "$WORK/guest.sh"

s0=$(host_stats)
rc=0
rm -f "$WORK/host-after-warmup" "$WORK/console.log"
if [[ $WARMUP -gt 0 ]]; then
    # The counted phases start 5 s after the guest's marker: take the host's
    # starting counters in between (warm-up losses stay out of the books).
    (
        for ((i = 0; i < 4000; i++)); do
            grep -q '^VNET-PCI-WARM-DONE' "$WORK/console.log" 2>/dev/null && break
            sleep 0.1
        done
        sleep 1
        host_stats >"$WORK/host-after-warmup"
    ) &
    SNAP=$!
fi
# One line to QEMU's human monitor. Waits for the first prompt, sends the
# line, and returns only once QEMU echoed it and printed the next prompt,
# i.e. ran it: the monitor reads its input a byte per main-loop turn and
# drops what it has not read when the client hangs up, so a fixed sleep
# could lose the command on a busy host. Prints what the command printed;
# exits non-zero after 60 s without that.
monitor() {
    python3 - "$MON" "$1" <<'PY'
import re, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
cmd = sys.argv[2].encode()
buf = b""
def until(done, what):
    global buf
    end = time.monotonic() + 60
    while not done():
        if time.monotonic() > end:
            sys.exit("monitor: no %s within 60 s; got %r" % (what, buf[-200:]))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            sys.exit("monitor: QEMU closed the connection; got %r" % buf[-200:])
        buf += chunk
until(lambda: buf.rstrip().endswith(b"(qemu)"), "prompt")
start = len(buf)
s.sendall(cmd + b"\n")
def ran():
    tail = buf[start:]
    at = tail.find(cmd)
    return at >= 0 and b"\n" in tail[at:] and tail.rstrip().endswith(b"(qemu)")
until(ran, "reply to %r" % cmd)
tail = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", buf[start:].decode(errors="replace"))
out = tail[tail.find(sys.argv[2]) + len(sys.argv[2]):].rsplit("(qemu)", 1)[0].strip()
print(out or "ok")
PY
}
# N set_link changes (off, on, off, ...; N even ends up) on one monitor
# connection, 0-3 ms apart; returns once QEMU ran them all (every command
# echoed, then its prompt).
monitor_flaps() {
    python3 - "$MON" "$1" <<'PY'
import random, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(0.001)
s.connect(sys.argv[1])
n = int(sys.argv[2])
buf = b""
def pump():
    global buf
    try:
        chunk = s.recv(65536)
    except (socket.timeout, BlockingIOError):
        return
    if not chunk:
        sys.exit("monitor: QEMU closed the connection")
    buf += chunk
end = time.monotonic() + 60
while b"(qemu)" not in buf:
    pump()
    if time.monotonic() > end:
        sys.exit("monitor: no prompt within 60 s")
for i in range(n):
    s.sendall(b"set_link vn0 %s\n" % (b"off" if i % 2 == 0 else b"on"))
    t = time.monotonic() + random.uniform(0, 0.003)
    while time.monotonic() < t:
        pump()
end = time.monotonic() + 60
while buf.count(b"(qemu)") < n + 1:
    pump()
    if time.monotonic() > end:
        sys.exit("monitor: %d of %d changes ran within 60 s" % (buf.count(b"(qemu)") - 1, n))
print("%d changes" % n)
PY
}
wait_console() {  # REGEX SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        grep -qE "$1" "$WORK/console.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
if [[ $LSC -eq 1 ]]; then
    BOOT+=(--qemu-arg -monitor --qemu-arg "unix:$MON,server=on,wait=off")
    (
        wait_console '^VNET-PCI-LSC-READY' 400 || exit 0
        sleep 1
        vm_log "host: set_link vn0 off: $(monitor 'set_link vn0 off' 2>&1)"
        wait_console '^VNET-PCI-LSC-DOWN-SEEN' 120 || exit 0
        vm_log "host: set_link vn0 on: $(monitor 'set_link vn0 on' 2>&1)"
        [[ $FLAPS -gt 0 ]] || exit 0
        wait_console '^VNET-PCI-FLAP-READY' 120 || exit 0
        sleep 0.5
        vm_log "host: link burst: $(monitor_flaps $(( (FLAPS + 1) / 2 * 2 )) 2>&1)"
        sleep 2
        vm_log "host: set_link vn0 off: $(monitor 'set_link vn0 off' 2>&1)"
        wait_console '^VNET-PCI-FLAP-DOWN-SEEN' 150 || exit 0
        vm_log "host: set_link vn0 on: $(monitor 'set_link vn0 on' 2>&1)"
    ) &
    LSCDRV=$!
fi
"$LIB/vm-boot.sh" --workdir "$WORK" "${NIC[@]}" "${PACKED[@]}" "${DEVOPTS[@]}" "${BOOT[@]}" --timeout 420 \
    --smp 1 --hugepages 256 ${VNET_VM_INITRD:+--initrd "$VNET_VM_INITRD"} \
    ${VNET_VM_KERNEL_DIR:+--kernel-dir "$VNET_VM_KERNEL_DIR"} -- "$WORK/guest.sh" || rc=$?
if [[ $LSC -eq 1 ]]; then
    kill "$LSCDRV" 2>/dev/null || true
    wait "$LSCDRV" 2>/dev/null || true
fi
if [[ $WARMUP -gt 0 ]]; then
    kill "$SNAP" 2>/dev/null || true
    wait "$SNAP" 2>/dev/null || true
    [[ -s $WORK/host-after-warmup ]] || vm_fail "no host counters after the guest's warm-up"
    s0=$(cat "$WORK/host-after-warmup")
fi
s1=$(host_stats)
if [[ $BACKEND == qemu ]]; then
    bad=$(cut -d' ' -f5 "$VM_RUN/reflector.stats")
    [[ $bad -eq 0 ]] || vm_fail "udp-reflector saw $bad malformed frames"
else
    vm_testpmd_quit host
    echo "---- host testpmd log (vnet / vhost / errors) ----"
    grep -Ei 'vnet|vhost|error|fail' "$VM_RUN/host.log" | tail -n 30 || true
fi

read -r rp0 rb0 tp0 tb0 <<<"$s0"
read -r rp1 rb1 tp1 tb1 <<<"$s1"
hrx=$((rp1 - rp0)) hrb=$((rb1 - rb0)) htx=$((tp1 - tp0)) htb=$((tb1 - tb0))
res=$(grep -E '^VNET-PCI-RESULT' "$WORK/console.log" | tail -n1 | tr -d '\r' || true)
[[ -n $res ]] || vm_fail "the guest program printed no result (guest exit $rc)"
declare -A G
for kv in ${res#VNET-PCI-RESULT }; do G[${kv%%=*}]=${kv#*=}; done
vm_log "guest ($RING, backend $BACKEND): tx ${G[tx_pkts]} pkts ${G[tx_bytes]} B, rx ${G[rx_pkts]} pkts ${G[rx_bytes]} B; frames sent ${G[sent]} received ${G[received]} bad ${G[bad]} dup ${G[dup]}"
vm_log "host  ($DEVNAME): rx $hrx pkts $hrb B, tx $htx pkts $htb B"
if [[ $LSC -eq 1 ]]; then
    lsc=$(grep -E '^guest: link-state interrupts' "$WORK/console.log" | tr -d '\r' | tail -n1 || true)
    vm_log "${lsc:-guest: no link-state report}"
    if [[ $FLAPS -gt 0 ]]; then
        flaps=$(grep -E '^guest: link flaps' "$WORK/console.log" | tr -d '\r' | tail -n1 || true)
        vm_log "${flaps:-guest: no link-flap report}"
    fi
fi
if [[ $GUEST_DRV == uio_pci_generic ]]; then
    # An INTx line left asserted with no cause pending in the device: the
    # handler keeps returning IRQ_NONE until the kernel disables the line.
    irqs=$(tr -d '\r' <"$WORK/console.log" | awk '/^ *[0-9]+: .*uio/ { print $2; exit }')
    events=$(tr -d '\r' <"$WORK/console.log" | awk '/^uio[0-9]+ events/ { print $3; exit }')
    vm_log "guest: INTx line fired ${irqs:-?} times for ${events:-?} uio events"
    ! grep -q 'nobody cared' "$WORK/console.log" || vm_fail "interrupt storm: the guest kernel disabled the NIC's line (nobody cared)"
    [[ -z $irqs || -z $events || $irqs -le $((2 * events + 16)) ]] ||
        vm_fail "interrupt storm: the line fired $irqs times for $events uio events"
fi
[[ $rc -eq 0 ]] || vm_fail "guest exited $rc"
grep -qE "vnet: port [0-9]+: features 0x[0-9a-f]+ \($NEG ring" "$WORK/console.log" ||
    vm_fail "the PMD did not negotiate a $NEG ring"
grep -q "Selected IOVA mode '${IOVA^^}'" "$WORK/console.log" || vm_fail "the guest EAL did not run with IOVA as ${IOVA^^}"
if [[ $QUEUES -gt 1 ]]; then
    grep -qE "vnet: port [0-9]+: control virtqueue: multi-queue" "$WORK/console.log" ||
        vm_fail "the PMD did not negotiate multi-queue"
    grep -E '^guest: queue [0-9]+ counters' "$WORK/console.log" | tr -d '\r' | while read -r l; do vm_log "$l"; done
fi
if [[ $RING == legacy ]]; then
    grep -q "virtio-pci legacy" "$WORK/console.log" || vm_fail "the PMD did not drive the device in legacy mode"
fi
[[ ${G[ok]} == 1 ]] || vm_fail "guest tally not exact, or link-state changes not seen"
[[ ${G[tx_pkts]} -eq $hrx && ${G[tx_bytes]} -eq $hrb ]] || vm_fail "guest -> host: guest sent ${G[tx_pkts]}/${G[tx_bytes]} B, host got $hrx/$hrb B"
[[ $htx -eq ${G[rx_pkts]} && $htb -eq ${G[rx_bytes]} ]] || vm_fail "host -> guest: host sent $htx/$htb B, guest got ${G[rx_pkts]}/${G[rx_bytes]} B"
vm_log "PASS ($BACKEND, $RING, $QUEUES queue pair(s))"
