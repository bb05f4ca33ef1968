#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
"""Host end of QEMU's `-netdev socket,udp=...` for the vm PCI cases: every
datagram is one Ethernet frame from the guest's virtio-net device. Each frame
is checked (the tests/traffic.h format: ethertype 0x88b5, sequence number,
length, FNV-1a checksum over the payload), counted, and sent back. On SIGUSR1
or SIGTERM the counters go to --stats as "rx_pkts rx_bytes tx_pkts tx_bytes
bad" (SIGTERM then exits).

usage: udp-reflector.py --listen HOST:PORT --reply HOST:PORT --stats FILE
"""
import argparse
import signal
import socket
import struct
import sys

ETHERTYPE = 0x88B5
HDR, META = 14, 16


def frame_ok(f: bytes) -> bool:
    if len(f) < HDR + META or f[12] != ETHERTYPE >> 8 or f[13] != ETHERTYPE & 0xFF:
        return False
    _seq, length, csum = struct.unpack_from("<QII", f, HDR)
    if length != len(f):
        return False
    h = 2166136261
    for b in f[HDR + META:]:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h == csum


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--reply", required=True)
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()
    lh, lp = a.listen.rsplit(":", 1)
    rh, rp = a.reply.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((lh, int(lp)))
    reply = (rh, int(rp))
    st = {"rx": 0, "rxb": 0, "tx": 0, "txb": 0, "bad": 0}

    def dump(signum, _frame):
        with open(a.stats + ".tmp", "w") as f:
            f.write(f"{st['rx']} {st['rxb']} {st['tx']} {st['txb']} {st['bad']}\n")
        import os
        os.replace(a.stats + ".tmp", a.stats)
        if signum == signal.SIGTERM:
            sys.exit(0)

    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGTERM, dump)
    dump(signal.SIGUSR1, None)  # ready: the stats file exists
    while True:
        try:
            f = s.recv(65536)
        except InterruptedError:
            continue
        st["rx"] += 1
        st["rxb"] += len(f)
        if not frame_ok(f):
            st["bad"] += 1
        n = s.sendto(f, reply)
        st["tx"] += 1
        st["txb"] += n


if __name__ == "__main__":
    sys.exit(main())
