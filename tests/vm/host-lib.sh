# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# tests/vm/host-lib.sh — sourced by the vm case scripts (on the host, and in
# the guest, which sees the same file through the shared tree):
# a private run directory, cleanup that always runs, and dpdk-testpmd driven
# through a FIFO (start, send commands, read port counters, quit).
#
#   vm_init                      make $VM_RUN (0700 dir under /run: sockets,
#                                plugin copy, logs) and install the EXIT trap
#   vm_on_exit CMD...            run CMD at exit (last added runs first)
#   vm_plugin                    path of a copy of our plugin EAL accepts for -d
#                                (needs VNET_PLUGIN = build/<preset>/plugins/librte_net_vnet.so)
#   vm_free_tap                  prints an unused "<tapname> <n>"; use 10.99.<n>.0/24
#   vm_testpmd NAME EAL.. -- APP..  start dpdk-testpmd EAL.. -- APP.. -i in the background,
#                                stdin from a FIFO, output in $VM_RUN/NAME.log;
#                                waits for its first prompt (fails after
#                                $VM_TESTPMD_UP_SECS, default 60 s)
#   vm_testpmd_cmd NAME LINE     send one command line
#   vm_testpmd_wait NAME REGEX N wait until REGEX matched N lines of the log
#   vm_port_id NAME DEVNAME      port id of a device (from `show port summary all`)
#   vm_port_stats NAME PORT      prints "rx_pkts rx_bytes tx_pkts tx_bytes" (fresh
#                                `show port stats PORT`)
#   vm_port_errors NAME PORT     prints "rx_errors tx_errors" of the block the
#                                last vm_port_stats for PORT printed
#   vm_testpmd_quit NAME         stop, quit; killed if still alive after 20 s
# Everything started here is stopped and removed by the EXIT trap, also on
# failure or timeout. Invariant: no process, tap or socket outlives the script.

VM_RUN=""
VM_EXIT_CMDS=()
declare -A VM_PID VM_FD

vm_log() { printf '[vm] %s\n' "$*"; }
vm_fail() { printf '[vm] FAIL: %s\n' "$*" >&2; exit 1; }

vm_on_exit() { VM_EXIT_CMDS+=("$*"); }

vm_cleanup() {
    local rc=$? i f
    if [[ $rc -ne 0 && -n $VM_RUN ]]; then   # a failure: show what testpmd said
        for f in "$VM_RUN"/*.log; do
            [[ -f $f ]] || continue
            echo "---- last lines of $(basename "$f" .log) testpmd (exit $rc) ----"
            tail -n 60 "$f"
        done
    fi
    for ((i = ${#VM_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
        eval "${VM_EXIT_CMDS[$i]}" >/dev/null 2>&1 || true
    done
    [[ -n $VM_RUN ]] && rm -rf "$VM_RUN"
}

vm_init() {
    [[ $(id -u) -eq 0 ]] || vm_fail "the vm tests need root (tap devices, QEMU, EAL)"
    # /run is root's and not world-writable, which EAL requires of every
    # ancestor of a -d plugin; it also keeps the socket paths short.
    # Run dirs of runs that were SIGKILLed (a ctest timeout) go first.
    local d
    for d in /run/vnet-vm.*; do
        [[ -f $d/pid ]] && ! kill -0 "$(<"$d/pid")" 2>/dev/null && rm -rf "$d"
    done
    VM_RUN=$(mktemp -d /run/vnet-vm.XXXXXX) || vm_fail "cannot create a run dir under /run"
    echo $$ >"$VM_RUN/pid"
    [[ -n ${VM_KEEP:-} ]] || trap vm_cleanup EXIT
    trap 'exit 130' INT TERM
}

vm_plugin() {
    [[ -f ${VNET_PLUGIN:-} ]] || vm_fail "VNET_PLUGIN=${VNET_PLUGIN:-} is not our built plugin"
    # EAL refuses plugins under world-writable directories (a clone in /tmp):
    # a copy in $VM_RUN (0700, under /run) always passes its check.
    if [[ ! -f $VM_RUN/librte_net_vnet.so ]]; then
        install -m 0644 "$VNET_PLUGIN" "$VM_RUN/librte_net_vnet.so"
    fi
    printf '%s\n' "$VM_RUN/librte_net_vnet.so"
}

vm_free_tap() {
    local n
    for _ in $(seq 1 50); do
        n=$((RANDOM % 200 + 20))
        if ! ip link show "vnettap$n" >/dev/null 2>&1 &&
           ! ip -4 addr show | grep -q "inet 10\.99\.$n\."; then
            printf 'vnettap%s %s\n' "$n" "$n"
            return
        fi
    done
    vm_fail "no free vnettapN / 10.99.N.0/24 found"
}

vm_testpmd() {
    local name=$1; shift
    local fifo=$VM_RUN/$name.in log=$VM_RUN/$name.log fd
    mkfifo "$fifo"
    # Keep a writer open so testpmd never sees EOF on its stdin.
    exec {fd}<>"$fifo"
    VM_FD[$name]=$fd
    # stdbuf: testpmd printf()s into a file would sit in a stdio buffer.
    setsid stdbuf -oL -eL dpdk-testpmd "$@" -i <"$fifo" >"$log" 2>&1 &
    VM_PID[$name]=$!
    vm_on_exit "kill -KILL -- -${VM_PID[$name]}; kill -KILL ${VM_PID[$name]}"
    vm_log "testpmd $name (pid ${VM_PID[$name]}): dpdk-testpmd $* -i"
    if ! vm_testpmd_wait "$name" '^testpmd> ' 1 "${VM_TESTPMD_UP_SECS:-60}"; then
        cat "$log"
        vm_fail "testpmd $name did not come up"
    fi
}

vm_testpmd_cmd() { printf '%s\n' "$2" >&"${VM_FD[$1]}"; }

# vm_testpmd_wait NAME REGEX COUNT [SECONDS=30]: fails if the process died.
vm_testpmd_wait() {
    local name=$1 re=$2 count=$3 secs=${4:-30} end
    end=$((SECONDS + secs))   # wall time: under TCG each round is slow
    while true; do
        if [[ $(grep -cE -- "$re" "$VM_RUN/$name.log" 2>/dev/null || true) -ge $count ]]; then return 0; fi
        kill -0 "${VM_PID[$name]}" 2>/dev/null || return 1
        [[ $SECONDS -lt $end ]] || return 1
        sleep 0.1
    done
}

vm_port_id() {
    local name=$1 dev=$2 n id
    n=$(grep -c 'Number of available ports' "$VM_RUN/$name.log" || true)
    vm_testpmd_cmd "$name" "show port summary all"
    vm_testpmd_wait "$name" 'Number of available ports' $((n + 1)) || vm_fail "testpmd $name: no port summary"
    sleep 0.3
    id=$(awk -v d="$dev" '$3 == d { print $1 }' "$VM_RUN/$name.log" | tail -n1)
    [[ -n $id ]] || { cat "$VM_RUN/$name.log"; vm_fail "testpmd $name has no port $dev"; }
    printf '%s\n' "$id"
}

vm_port_stats() {
    local name=$1 port=$2 n log
    log=$VM_RUN/$name.log
    n=$(grep -c "NIC statistics for port $port " "$log" || true)
    vm_testpmd_cmd "$name" "show port stats $port"
    vm_testpmd_wait "$name" "NIC statistics for port $port " $((n + 1)) || vm_fail "testpmd $name: no stats"
    vm_testpmd_wait "$name" 'Tx-bps' $((n + 1)) 5 || true
    # The last block: RX-packets .. RX-bytes on one line, TX-packets .. TX-bytes on another.
    awk -v p="$port" '
        $0 ~ "NIC statistics for port " p " " { blk = 1; next }
        blk && /RX-packets:/ { rp = $2; rb = $6 }
        blk && /TX-packets:/ { tp = $2; tb = $6; blk = 0 }
        END { print rp, rb, tp, tb }' "$log"
}

vm_port_errors() {
    awk -v p="$2" '
        $0 ~ "NIC statistics for port " p " " { blk = 1; next }
        blk && /RX-errors:/ { re = $2 }
        blk && /TX-packets:/ { te = $4; blk = 0 }
        END { print re, te }' "$VM_RUN/$1.log"
}

vm_testpmd_quit() {
    local name=$1 pid=${VM_PID[$1]}
    vm_testpmd_cmd "$name" "stop" || true
    vm_testpmd_cmd "$name" "quit" || true
    local end=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && [[ $SECONDS -lt $end ]]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        vm_log "testpmd $name did not quit in 20 s: killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
