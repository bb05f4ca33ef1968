#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# loopback.chaos: our frontend and backend as two chaos_peer processes, one
# killed with SIGKILL mid-traffic and restarted, 20 rounds; owns the checks on
# the survivor (alive, link down, nothing lost, back up, no frame corrupted).
"""usage: chaos.py <chaos_peer binary> [--rounds N] [--seed N] [--victim alternate|frontend|backend]

Starts the backend (net_vnet_vhost, CPU 1), then the frontend (net_vnet_user
in client mode, CPU 0), waits for verified traffic both ways, then kills
frontend, backend, frontend, ... one per round (--victim: always the same
side, so that one survivor process sees every death), at a random moment
(--seed makes the moments repeatable) while frames move. In each round the
survivor must stay alive and keep reporting, read LINK-DOWN within LINK_S and
settle idle: no traffic, nothing held by the application, and its pool's
in-use count either 0 or exactly one Rx ring (buffers still posted), the same
for that role every round. Its open fds and mappings must be back where they
were before it ever had a peer (the backend's lines before its first LINK-UP)
and where they were after its own earlier rounds. Then it must read LINK-UP
once the killed side is restarted, and the frontend's verified receive count
must grow by RESUME_FRAMES again. No peer may ever report a corrupt or
duplicated frame. At the end both get SIGTERM and must print "RESULT ok"
(port closed, every mbuf back in the pool). Exit status 0 on success; on
failure the round, the side killed and the last lines of every peer's output.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROUNDS = 20
START_S = 30.0      # a peer's EAL start-up to READY (the machine may be loaded)
LINK_S = 10.0       # link down after a kill, link up after the restart
SETTLE_S = 10.0     # the survivor's mbuf count settling after link down
RESUME_S = 15.0     # traffic flowing again
STOP_S = 20.0       # SIGTERM to exit
SILENT_S = 5.0      # a live peer prints STATUS every 100 ms; this long without one is a hang
RESUME_FRAMES = 500  # verified frames the frontend must receive to count as "traffic flows"
RX_RING = 256       # chaos_peer's Rx ring: an idle port holds none of the pool's mbufs, or exactly this many
MAPS_SLACK = 4      # mappings an idle peer may have above its reference (glibc and EAL threads move a few)
DPDK_RUNTIME = "/var/run/dpdk"  # EAL's runtime directories, for root


class Failure(Exception):
    pass


class Timeout(Failure):
    """A condition polled for did not come true in time."""


class Peer:
    """One chaos_peer process; a thread collects and parses its output lines."""

    def __init__(self, binary, role, sock, cpu, prefix, ring=None):
        self.role = role
        self.prefix = prefix
        self.ring = ring
        self.lines = []      # (time, text), every line
        self.status = []     # (time, line index, {field: value}) of the STATUS lines
        self.alarms = []     # CORRUPT and DUP lines: a peer saw a bad frame
        self.lock = threading.Lock()
        args = [binary, "--role", role, "--sock", sock, "--cpu", str(cpu), "--prefix", prefix]
        if ring:
            args += ["--ring", ring]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            t = time.monotonic()
            text = line.rstrip("\n")
            st = None
            if text.startswith("STATUS "):
                st = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}
            with self.lock:
                if st is not None:
                    self.status.append((t, len(self.lines), st))
                elif text.startswith("CORRUPT") or text.startswith("DUP"):
                    self.alarms.append(text)
                self.lines.append((t, text))

    def name(self):
        return "%s (pid %d%s)" % (self.role, self.proc.pid, ", %s ring" % self.ring if self.ring else "")

    def alive(self):
        return self.proc.poll() is None

    def mark(self):
        with self.lock:
            return len(self.lines)

    def find(self, mark, prefix):
        """Index of the first line from `mark` on starting with `prefix`, or None."""
        with self.lock:
            for i in range(mark, len(self.lines)):
                if self.lines[i][1].startswith(prefix):
                    return i
        return None

    def line(self, i):
        with self.lock:
            return self.lines[i][1]

    def statuses(self, mark=0):
        """STATUS lines from line `mark` on: [(time, fields)]."""
        with self.lock:
            return [(t, st) for t, i, st in self.status if i >= mark]

    def statuses_before(self, mark):
        """STATUS fields of the lines before line `mark`."""
        with self.lock:
            return [st for t, i, st in self.status if i < mark]

    def last_status(self):
        with self.lock:
            return self.status[-1][2] if self.status else None

    def last_status_time(self):
        with self.lock:
            return self.status[-1][0] if self.status else None

    def tail(self, n=30):
        with self.lock:
            return [text for _, text in self.lines[-n:]]

    def kill(self):
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=5)

    def runtime_dir(self):
        return os.path.join(DPDK_RUNTIME, self.prefix)


class Chaos:
    def __init__(self, binary, rounds, seed, victims="alternate"):
        self.binary = binary
        self.rounds = rounds
        self.seed = seed
        self.rng = random.Random(seed)
        self.dir = None
        self.peers = []        # every peer started, for cleanup and the failure report
        self.fe = self.be = None
        self.round = 0
        self.victim = "-"
        self.victims = victims
        self.idle_inuse = {}   # role -> in-use count of an idle survivor (its first round)
        self.idle_ref = {}     # peer -> {"fds", "maps"} it must come back to when idle
        self.n = {"frontend": 0, "backend": 0}
        two = (os.cpu_count() or 1) >= 2
        self.cpu = {"frontend": 0, "backend": 1 if two else 0}

    # ---- peers -----------------------------------------------------------
    def start(self, role):
        n = self.n[role]
        self.n[role] += 1
        prefix = "vnet-chaos-%d-%s%d" % (os.getpid(), role[:2], n)
        ring = None
        if role == "frontend":
            ring = "packed" if n % 2 == 0 else "split"  # each restart the other ring layout
        p = Peer(self.binary, role, os.path.join(self.dir, "vhost.sock"), self.cpu[role], prefix, ring)
        self.peers.append(p)
        setattr(self, "fe" if role == "frontend" else "be", p)
        self.wait(lambda: p.find(0, "READY") is not None, START_S, "%s to start (READY)" % p.name())
        return p

    def live(self):
        return [p for p in (self.fe, self.be) if p is not None]

    # ---- checks ----------------------------------------------------------
    def check(self, live):
        """What must hold at every moment: the live peers run and report; no peer saw a bad frame."""
        now = time.monotonic()
        for p in live:
            if not p.alive():
                raise Failure("%s exited (status %s) while it should be running" % (p.name(), p.proc.returncode))
            last = p.last_status_time() or p.started + START_S
            if now - last > SILENT_S:
                raise Failure("%s printed no STATUS for %.1f s: hung" % (p.name(), now - last))
        for p in self.peers:  # killed ones too: what they saw before they died counts
            if p.alarms:
                raise Failure("%s: %s" % (p.name(), p.alarms[0]))
            s = p.last_status() or {}
            if s.get("bad", 0) or s.get("dup", 0):
                raise Failure("%s reports bad=%d dup=%d" % (p.name(), s.get("bad", 0), s.get("dup", 0)))

    def wait(self, cond, timeout, what, live=None):
        """Poll `cond` until it returns something true; Failure after `timeout` seconds."""
        live = self.live() if live is None else live
        end = time.monotonic() + timeout
        while True:
            self.check(live)
            r = cond()
            if r:
                return r
            if time.monotonic() > end:
                raise Timeout("no %s within %.0f s" % (what, timeout))
            time.sleep(0.05)

    def flowing(self, min_frames=RESUME_FRAMES, fe_base=None):
        """Verified frames grow on both sides: the frontend by min_frames from fe_base
        (its count now if None), the backend by at least a burst."""
        f0 = self.fe.last_status() or {}
        b0 = self.be.last_status() or {}
        fe_from = f0.get("rx", 0) if fe_base is None else fe_base
        be_from = b0.get("rx", 0)

        def grown():
            f = self.fe.last_status() or {}
            b = self.be.last_status() or {}
            return f.get("link") == 1 and b.get("link") == 1 and \
                f.get("rx", 0) >= fe_from + min_frames and b.get("rx", 0) >= be_from + 32
        self.wait(grown, RESUME_S, "traffic both ways (frontend rx +%d verified frames)" % min_frames)

    def settle(self, p, mark):
        """After its LINK-DOWN (line `mark`) the survivor settles idle; see the module doc.
        fds must come back exactly, mappings within MAPS_SLACK (glibc and EAL move a
        few). Returns the last STATUS fields."""
        want = self.idle_inuse.get(p.role)
        ref = self.idle_ref.get(p)
        if ref is None:
            # Before its first LINK-UP (a backend waiting for its first frontend).
            up = p.find(0, "LINK-UP")
            pre = p.statuses_before(up) if up is not None else []
            pre = [s for s in pre if s["link"] == 0]
            if pre:
                ref = {"fds": min(s["fds"] for s in pre), "maps": min(s["maps"] for s in pre)}
        seen = []

        def idle():
            st = [s for _, s in p.statuses(mark)]
            seen[:] = ["inuse %d fds %d maps %d" % (s["inuse"], s["fds"], s["maps"]) for s in st[-4:]]
            last = st[-3:]
            if len(last) < 3 or any(s["link"] != 0 or s["held"] != 0 for s in last):
                return None
            counts = {s["inuse"] for s in last}
            if len(counts) != 1:
                return None
            c = counts.pop()
            if c not in (0, RX_RING) or (want is not None and c != want):
                return None
            if ref is not None and (last[-1]["fds"] > ref["fds"] or last[-1]["maps"] > ref["maps"] + MAPS_SLACK):
                return None
            return last
        try:
            last = self.wait(idle, SETTLE_S, "idle state")
        except Timeout as e:
            raise Failure("%s: %s; last seen %s; want in use 0 or %d%s, fds and maps at most %s (+%d maps): "
                          "mbufs, fds or mappings not given back" %
                          (p.name(), e, seen, RX_RING, "" if want is None else " (%d as in earlier rounds)" % want,
                           ref, MAPS_SLACK))
        self.idle_inuse.setdefault(p.role, last[-1]["inuse"])
        # The lowest of the three: a reconnect attempt's socket may be open at one of them.
        now = {"fds": min(s["fds"] for s in last), "maps": min(s["maps"] for s in last)}
        self.idle_ref[p] = now if ref is None else {k: min(ref[k], now[k]) for k in now}
        return last[-1]

    # ---- the test --------------------------------------------------------
    def run(self):
        t0 = time.monotonic()
        self.start("backend")
        self.start("frontend")
        self.wait(lambda: self.fe.find(0, "LINK-UP") is not None and self.be.find(0, "LINK-UP") is not None,
                  LINK_S, "link up on both sides")
        self.flowing(fe_base=0)
        print("chaos: both peers up, traffic verified both ways (%.1f s); kill times from seed %d (--seed)" %
              (time.monotonic() - t0, self.seed), flush=True)

        for r in range(1, self.rounds + 1):
            self.round = r
            tr = time.monotonic()
            victim_role = self.victims if self.victims != "alternate" else "frontend" if r % 2 == 1 else "backend"
            self.victim = victim_role
            victim = self.fe if victim_role == "frontend" else self.be
            survivor = self.be if victim_role == "frontend" else self.fe
            self.flowing(min_frames=64)  # mid-traffic: frames are moving right now
            # ... and the kill lands at a different point of it each round.
            time.sleep(self.rng.uniform(0, 0.5))
            mark = survivor.mark()
            before = survivor.last_status()
            t_kill = time.monotonic()
            victim.kill()  # SIGKILL
            if victim.proc.returncode != -signal.SIGKILL:
                raise Failure("%s had exited by itself (status %s) before it was killed" %
                              (victim.name(), victim.proc.returncode))
            shutil.rmtree(victim.runtime_dir(), ignore_errors=True)
            if victim_role == "frontend":
                self.fe = None
            else:
                self.be = None

            self.wait(lambda: survivor.find(mark, "LINK-DOWN") is not None, LINK_S, "LINK-DOWN from the survivor")
            t_down = time.monotonic() - t_kill
            down = survivor.find(mark, "LINK-DOWN")
            idle = self.settle(survivor, down)

            t_start = time.monotonic()
            fresh = self.start(victim_role)
            self.wait(lambda: survivor.find(down, "LINK-UP") is not None and fresh.find(0, "LINK-UP") is not None,
                      LINK_S, "LINK-UP on both sides after the restart")
            t_up = time.monotonic() - t_start
            self.flowing(fe_base=0 if victim_role == "frontend" else None)
            after = survivor.last_status()
            print("chaos: round %2d: killed %-8s survivor %-8s rx %d, down after %.2f s, idle inuse %d fds %d "
                  "maps %d, up %.2f s after the restart, rx %d; round %.1f s" %
                  (r, victim_role, survivor.role, before["rx"], t_down, idle["inuse"], idle["fds"], idle["maps"],
                   t_up, after["rx"],
                   time.monotonic() - tr), flush=True)

        self.round = "end"
        self.victim = "-"
        for p in (self.fe, self.be):  # the frontend first: it talks to the backend while it stops
            p.proc.send_signal(signal.SIGTERM)
            try:
                p.proc.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                raise Failure("%s did not exit within %.0f s of SIGTERM" % (p.name(), STOP_S))
            p.reader.join(timeout=5)
            res = p.find(0, "RESULT")
            text = p.line(res) if res is not None else "no RESULT line"
            if p.proc.returncode != 0 or text.split()[:2] != ["RESULT", "ok"]:
                raise Failure("%s at SIGTERM: %s (exit status %d)" % (p.name(), text, p.proc.returncode))
            print("chaos: %s: %s" % (p.name(), text), flush=True)
            if p is self.fe:
                self.fe = None
            else:
                self.be = None
        print("chaos: %d rounds passed in %.1f s" % (self.rounds, time.monotonic() - t0), flush=True)

    def report(self, msg):
        print("chaos: FAILED in round %s (side killed: %s): %s" % (self.round, self.victim, msg), flush=True)
        shown = []
        for p in reversed(self.peers):  # the current peers and the last killed one of each role
            if sum(1 for q in shown if q.role == p.role) >= 2:
                continue
            shown.append(p)
            state = "running" if p.alive() else "exited %s" % p.proc.returncode
            print("---- last lines of %s, %s ----" % (p.name(), state))
            for line in collapse(p.tail(60))[-30:]:
                print("   " + line)
        sys.stdout.flush()

    def cleanup(self):
        for p in self.peers:
            p.kill()
            shutil.rmtree(p.runtime_dir(), ignore_errors=True)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def collapse(lines):
    """Runs of identical STATUS lines as one line with a count."""
    out = []
    for line in lines:
        if out and line.startswith("STATUS ") and out[-1][0] == line:
            out[-1][1] += 1
        else:
            out.append([line, 1])
    return [t if n == 1 else "%s   (x%d)" % (t, n) for t, n in out]


def private_dir():
    for base in ("/run", "/var/tmp"):
        try:
            return tempfile.mkdtemp(prefix="vnet-chaos-", dir=base)  # 0700
        except OSError:
            continue
    raise Failure("cannot create a private directory under /run or /var/tmp")


def main():
    args = sys.argv[1:]
    opts = {"--rounds": ROUNDS, "--seed": random.randrange(1 << 31), "--victim": "alternate"}
    for o in opts:
        if o in args:
            i = args.index(o)
            opts[o] = args[i + 1] if o == "--victim" else int(args[i + 1])
            del args[i:i + 2]
    if opts["--victim"] not in ("alternate", "frontend", "backend"):
        args = []
    if len(args) != 1 or not os.access(args[0], os.X_OK):
        print(__doc__, file=sys.stderr)
        return 2

    def on_signal(signum, _):
        raise Failure("interrupted by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    c = Chaos(args[0], opts["--rounds"], opts["--seed"], opts["--victim"])
    try:
        c.dir = private_dir()
        c.run()
        return 0
    except Failure as e:
        c.report(str(e))
        return 1
    finally:
        c.cleanup()


if __name__ == "__main__":
    sys.exit(main())
