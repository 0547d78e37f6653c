#!/usr/bin/python3
"""End-to-end comparison: direct Redis, nutcracker and ringproxy on one machine, in one run.

    /usr/bin/python3 bench/e2e/compare.py [--ringproxy build-release/proxy/ringproxy] \
        [--callgrind] [--idle-clients 5000] [--json out.json] [--repeat 3] [--workers 1[,2,...]]

What it starts (all on 127.0.0.1, ports found free at run time, every process a child stopped by
its pid when the script ends, also on Ctrl-C or an error):
  - 4 redis-server shards and one more redis-server, "direct", the baseline without a proxy;
  - nutcracker -v 4 (its fastest log level: at the default -v 5 it spends ~3,600 instructions per
    request in a log call) and ringproxy, on the same pool: fnv1a_64, ketama, named servers. The
    two configuration files differ only in the listen port. --workers 1,2,4 adds a ringproxy
    per further worker count (ringproxy-w2, ...) to the matrix, for scaling runs.

What it measures, per case of the matrix (redis-benchmark -c 50 -r 100000 by default, one run per
target in turn, direct -> nutcracker -> ringproxy, repeated R times, median of R):
  - throughput and p50/p99 latency, from redis-benchmark --csv;
  - the target process's CPU time (utime+stime of /proc/PID/stat, all threads) over the run,
    divided by the requests it served: microseconds of CPU per request;
  - its VmRSS after the run.
Only ratios within one run mean anything: the machine's absolute speed drifts.

The keys a case reads are written first (SET key:%012d with the case's value size, through direct
and through nutcracker, which places keys exactly as ringproxy does), so GET -d 1024 really moves
1 KiB values and MGET finds its keys.

--callgrind counts instructions per pipelined GET: each proxy runs under callgrind twice, with one
client sending -P 16 GETs, -n N1 then -n N2; (Ir2 - Ir1) / (N2 - N1) cancels startup and shutdown.

--idle-clients N: a fresh instance of each proxy (and the matrix's direct Redis): RSS before;
with N clients that all connected, then all sent one GET at once and read the reply, then stay
idle; and after they all disconnected (each RSS read once it has not changed for a second).
RLIMIT_NOFILE is raised for the script and so for everything it starts.

Measure a Release build, as users run it (the default binary, build-release/proxy/ringproxy):
    cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
    cmake --build build-release --target ringproxy
The report names the binary measured.

The ringproxy binary is copied to the work directory first, so a rebuild during the run does not
change what is measured.

The script exits 1 if any cell could not be measured; it asserts nothing about speed.
"""

import argparse
import csv
import datetime
import io
import json
import os
import platform
import resource
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
# Starting, watching and stopping children by their pid, as the test harness does.
from child_processes import (  # noqa: E402  pylint: disable=wrong-import-position
    Children, Interrupted, ProcessError, accepted_connections, free_port, listening_ports,
    log_tail, rss_bytes, wait_until)

HOST = "127.0.0.1"
SHARDS = 4
PROXIES = ("nutcracker", "ringproxy")
CLK_TCK = os.sysconf("SC_CLK_TCK")

START_TIMEOUT = 20.0  # seconds for a process to listen (x10 under valgrind)
STOP_TIMEOUT = 10.0  # seconds for a process to exit after a signal, before SIGKILL
KEYS_PER_COMMAND = 10  # MGET / MSET


class BenchError(ProcessError):
    """Something could not be started or measured; the message says what and where."""


# ---------------------------------------------------------------------------------------------
# The matrix


class Case:
    """One row group of the table: a redis-benchmark invocation and the value size it reads."""

    def __init__(self, name, pipeline, size, n_full, n_quick, test=None, command=None):
        self.name = name
        self.pipeline = pipeline
        self.size = size
        self.n_full = n_full
        self.n_quick = n_quick
        self.test = test  # a redis-benchmark -t test, or
        self.command = command  # a custom command (list of words)

    def n(self, args):
        """-n for this case under the command line's --quick, --scale and --requests."""
        if args.requests:
            return args.requests
        return self.n_quick if args.quick else int(self.n_full * args.scale)

    def benchmark_args(self):
        args = ["-P", str(self.pipeline), "-d", str(self.size)]
        if self.test:
            return args + ["-t", self.test]
        return args + self.command  # custom commands go last: options after them are arguments


def _multi_key(verb, size):
    words = [verb]
    for _ in range(KEYS_PER_COMMAND):
        words.append("key:__rand_int__")  # redis-benchmark draws a new number for each one
        if verb == "MSET":
            words.append("v" * size)  # __data__ is not substituted in custom commands
    return words


CASES = [
    Case("GET -P 16 -d 64", 16, 64, 1_000_000, 5000, test="get"),
    Case("SET -P 16 -d 64", 16, 64, 1_000_000, 5000, test="set"),
    Case("GET -P 1 -d 64", 1, 64, 200_000, 2000, test="get"),
    Case("GET -P 16 -d 1024", 16, 1024, 600_000, 5000, test="get"),
    Case("MGET 10 keys -P 16", 16, 64, 200_000, 2000, command=_multi_key("MGET", 64)),
    Case("MSET 10 keys -P 16", 16, 64, 200_000, 2000, command=_multi_key("MSET", 64)),
]

# The performance targets, ringproxy against nutcracker -v 4 in the same run: (case names, bound).
CPU_GOALS = [
    (("GET -P 16 -d 64", "SET -P 16 -d 64", "GET -P 16 -d 1024"), 1 / 3),
    (("GET -P 1 -d 64",), 2 / 3),
    (("MGET 10 keys -P 16", "MSET 10 keys -P 16"), 1 / 4),
]
THROUGHPUT_GOALS = [
    (("GET -P 16 -d 64", "SET -P 16 -d 64", "GET -P 16 -d 1024"), 1.5),
    (("MGET 10 keys -P 16", "MSET 10 keys -P 16"), 3.0),
    (("GET -P 1 -d 64",), 1.2),
]
ADDED_P99_GOAL = 0.5
INSTRUCTIONS_GOAL = 1500
IDLE_BYTES_GOAL = 1024
RSS_RETURN_GOAL = 0.10

# ---------------------------------------------------------------------------------------------
# Processes


# Polled less often than in the tests: the polls share the CPUs with the processes measured.
POLL = {"interval": 0.01, "max_interval": 0.1}


def cpu_seconds(pid):
    """utime + stime of the whole process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid, encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


class Server:
    """A started process that listens on `port`: a Redis or a proxy."""

    def __init__(self, name, proc, port, log):
        self.name = name
        self.proc = proc
        self.port = port
        self.log = log

    @property
    def pid(self):
        return self.proc.pid


def start_listening(children, name, make_argv, ports_of, log, cpus, timeout=START_TIMEOUT):
    """Starts make_argv(ports) with fresh ports until it listens on all of them (port races)."""
    for attempt in range(5):
        ports = ports_of()
        proc = children.spawn(name, make_argv(ports), cpus=cpus)

        def ready(proc=proc, ports=ports):
            if proc.poll() is not None:
                return "exited"
            return set(ports) <= listening_ports(proc.pid)

        try:
            state = wait_until(ready, timeout, "%s to listen on %s" % (name, ports), **POLL)
        except ProcessError as e:
            children.stop(proc)
            raise BenchError("%s\n%s" % (e, log_tail(log()))) from e
        if state is True:
            return proc, ports
        status = children.stop(proc)
        text = log_tail(log())
        if "in use" not in text or attempt == 4:
            raise BenchError("%s exited at start with status %s: %s\n%s" %
                             (name, status, shlex.join(proc.args), text))
    raise AssertionError("unreachable")


def start_redis(children, workdir, name, cpus):
    logfile = os.path.join(workdir, name + ".log")
    argv = lambda ports: [  # noqa: E731
        REDIS_SERVER, "--port", str(ports[0]), "--bind", HOST, "--save", "", "--appendonly", "no",
        "--daemonize", "no", "--logfile", logfile, "--dir", workdir, "--dbfilename",
        name + ".rdb"]
    proc, ports = start_listening(children, name, argv, lambda: [free_port(HOST)],
                                  lambda: logfile, cpus)
    return Server(name, proc, ports[0], logfile)


def render_pool(listen_port, shard_ports):
    lines = ["bench:", "  listen: %s:%d" % (HOST, listen_port), "  hash: fnv1a_64",
             "  distribution: ketama", "  redis: true", "  servers:"]
    lines += ["   - %s:%d:1 shard-%d" % (HOST, port, i) for i, port in enumerate(shard_ports)]
    return "\n".join(lines) + "\n"


def proxy_argv(kind, binary, config, stats_port, log, args, workers):
    argv = [binary, "-c", config, "-s", str(stats_port), "-a", HOST, "-o", log,
            "-v", str(args.verbosity)]
    if kind == "ringproxy":
        argv += ["--workers", str(workers)]
    return argv


def start_proxy(children, workdir, kind, shard_ports, args, wrapper=(), tag="", workers=None):
    """nutcracker or ringproxy on the shards, optionally under a wrapper (valgrind).

    ringproxy gets --workers `workers`, by default the first of the command line's --workers.
    """
    name = kind + tag
    workers = workers or args.workers[0]
    config = os.path.join(workdir, name + ".yml")
    log = os.path.join(workdir, name + ".log")
    binary = args.nutcracker if kind == "nutcracker" else args.ringproxy

    def argv(ports):
        with open(config, "w", encoding="utf-8") as f:
            f.write(render_pool(ports[0], shard_ports))
        return list(wrapper) + proxy_argv(kind, binary, config, ports[1], log, args, workers)

    def output():  # the proxy's own log, or what it printed before it had one
        out = os.path.join(workdir, name + ".out")
        return log if os.path.exists(log) and os.path.getsize(log) else out

    timeout = START_TIMEOUT * (10 if wrapper else 1)
    proc, ports = start_listening(children, name, argv, lambda: [free_port(HOST), free_port(HOST)],
                                  output, args.proxy_cpus, timeout)
    return Server(name, proc, ports[0], log)


# ---------------------------------------------------------------------------------------------
# A small RESP client: sanity checks, writing the keys, idle clients


class RespError(str):
    pass


INCOMPLETE = object()


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if not isinstance(arg, bytes):
            arg = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def parse_reply(buf, pos):
    """(reply, next position) of the RESP2 reply at buf[pos:], or (INCOMPLETE, pos)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return INCOMPLETE, pos
    kind, line = buf[pos:pos + 1], bytes(buf[pos + 1:end])
    if kind == b"+":
        return line.decode(), end + 2
    if kind == b"-":
        return RespError(line.decode()), end + 2
    if kind == b":":
        return int(line), end + 2
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, end + 2
        if len(buf) < end + 2 + length + 2:
            return INCOMPLETE, pos
        return bytes(buf[end + 2:end + 2 + length]), end + 4 + length
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, end + 2
        items, at = [], end + 2
        for _ in range(count):
            item, at = parse_reply(buf, at)
            if item is INCOMPLETE:
                return INCOMPLETE, pos
            items.append(item)
        return items, at
    raise BenchError("not a RESP reply: %r" % bytes(buf[pos:pos + 40]))


class RespClient:
    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(encode(*c) for c in commands))
        replies = []
        while len(replies) < len(commands):
            reply, at = parse_reply(self.buf, self.pos)
            if reply is INCOMPLETE:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise BenchError("connection closed after %d of %d replies" %
                                     (len(replies), len(commands)))
                self.buf += data
                continue
            replies.append(reply)
            self.pos = at
            if self.pos > (1 << 20):
                del self.buf[:self.pos]
                self.pos = 0
        return replies

    def call(self, *args):
        return self.pipeline([args])[0]


def key(i):
    return "key:%012d" % i  # what redis-benchmark makes of key:__rand_int__


def write_keys(port, keyspace, size, chunk=1000):
    """SET every key of the keyspace to a value of `size` bytes through port."""
    value = b"v" * size
    client = RespClient(port)
    try:
        for start in range(0, keyspace, chunk):
            replies = client.pipeline([("SET", key(i), value)
                                       for i in range(start, min(start + chunk, keyspace))])
            bad = [r for r in replies if r != "OK"]
            if bad:
                raise BenchError("SET through port %d answered %r" % (port, bad[0]))
    finally:
        client.close()


def check_target(name, port):
    """A round trip of each command kind the matrix uses, so a broken target fails loudly."""
    client = RespClient(port)
    try:
        keys = ["e2e:check:%s:%d" % (name, i) for i in range(KEYS_PER_COMMAND)]
        values = [("%s-%d" % (name, i)).encode() for i in range(KEYS_PER_COMMAND)]
        mset = ["MSET"] + [x for pair in zip(keys, values) for x in pair]
        got = client.pipeline([("SET", keys[0], b"one"), ("GET", keys[0]), mset,
                               ["MGET"] + keys, ["DEL"] + keys])
        want = ["OK", b"one", "OK", values, len(keys)]
        if got != want:
            raise BenchError("%s answers %r, expected %r" % (name, got, want))
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# redis-benchmark


def run_benchmark(children, port, case_args, n, args, clients=None):
    """One redis-benchmark run (-c `clients`, by default --clients); returns (rps, p50, p99 ms)."""
    argv = [REDIS_BENCHMARK, "-h", HOST, "-p", str(port), "-c", str(clients or args.clients),
            "-r", str(args.keyspace), "-n", str(n), "--csv"]
    if args.bench_threads > 1:
        argv += ["--threads", str(args.bench_threads)]
    argv += case_args
    proc = children.spawn("redis-benchmark", argv, cpus=args.load_cpus, capture=True)
    timeout = 120 + n / 2000  # at least 2,000 requests per second, or something is wrong
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        children.stop(proc, signal.SIGKILL)
        raise BenchError("redis-benchmark took over %.0f s: %s" %
                         (timeout, shlex.join(argv))) from e
    children.stop(proc)
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise BenchError("redis-benchmark exited %d: %s\n%s%s" % (
            proc.returncode, shlex.join(argv), text, err.decode("utf-8", "replace")[-2000:]))
    rows = list(csv.DictReader(io.StringIO(text)))
    if len(rows) != 1:
        raise BenchError("redis-benchmark printed %d result rows: %r" % (len(rows), text))
    row = rows[0]
    return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def measure(children, server, case_args, n, args, clients=None):
    """A benchmark run against `server` with its CPU time and RSS around it."""
    cpu0 = cpu_seconds(server.pid)
    rps, p50, p99 = run_benchmark(children, server.port, case_args, n, args, clients)
    cpu1 = cpu_seconds(server.pid)
    if server.proc.poll() is not None:
        raise BenchError("%s exited during the run:\n%s" % (server.name, log_tail(server.log)))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": n,
            "cpu_s": cpu1 - cpu0, "cpu_us_per_request": (cpu1 - cpu0) / n * 1e6,
            "rss_bytes": rss_bytes(server.pid)}


def summarize(runs):
    """Median of each figure over the repeats."""
    out = {}
    for field in ("rps", "p50_ms", "p99_ms", "cpu_us_per_request", "rss_bytes"):
        out[field] = statistics.median(run[field] for run in runs)
    out["runs"] = runs
    return out


class Keys:
    """The keyspace's values as last written: each case reads values of its own size."""

    def __init__(self, ports, keyspace):
        self.ports = ports
        self.keyspace = keyspace
        self.size = None

    def ensure(self, size):
        if self.size != size:
            for port in self.ports:
                write_keys(port, self.keyspace, size)
            self.size = size


def run_matrix(children, targets, keys, cases, args):
    results = {}
    # One untimed run each first: connections, allocator pools and CPU caches warm up.
    keys.ensure(64)
    for name, server in targets.items():
        measure(children, server, ["-P", "16", "-t", "get"], max(1000, cases[0].n(args) // 10),
                args)
    for case in cases:
        keys.ensure(case.size)
        runs = {name: [] for name in targets}
        errors = {}
        for rep in range(args.repeat):
            for name, server in targets.items():
                if name in errors:
                    continue
                try:
                    run = measure(children, server, case.benchmark_args(), case.n(args), args)
                except ProcessError as e:
                    errors[name] = str(e)
                    print("error: %s / %s: %s" % (case.name, name, e), file=sys.stderr)
                    continue
                runs[name].append(run)
                print("  %-20s %-10s run %d: %9.0f rps  p50 %.3f  p99 %.3f ms  cpu %.2f us/req" %
                      (case.name, name, rep + 1, run["rps"], run["p50_ms"], run["p99_ms"],
                       run["cpu_us_per_request"]), file=sys.stderr, flush=True)
        results[case.name] = {
            name: ({"error": errors[name]} if name in errors else summarize(runs[name]))
            for name in targets}
    return results


# ---------------------------------------------------------------------------------------------
# Instructions per request under callgrind


def callgrind_totals(path):
    total = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("totals:") or (total is None and line.startswith("summary:")):
                total = int(line.split()[1])
    if total is None:
        raise BenchError("no totals in %s" % path)
    return total


def run_callgrind(children, workdir, shard_ports, args):
    n1, n2 = (2000, 6000) if args.quick else (args.callgrind_n, 6 * args.callgrind_n)
    case_args = ["-P", "16", "-d", "64", "-t", "get"]
    out = {"requests": [n1, n2]}
    for kind in PROXIES:
        totals = []
        for n in (n1, n2):
            outfile = os.path.join(workdir, "callgrind.%s.%d.out" % (kind, n))
            wrapper = [VALGRIND, "--tool=callgrind", "--callgrind-out-file=" + outfile]
            server = start_proxy(children, workdir, kind, shard_ports, args, wrapper,
                                 tag="-callgrind-%d" % n)
            try:
                run_benchmark(children, server.port, case_args, n, args, clients=1)
            finally:
                # nutcracker exits through exit() on SIGINT only; ringproxy drains on either.
                status = children.stop(server.proc, signal.SIGINT, timeout=120)
            if status not in (0, 1):
                output = log_tail(os.path.join(workdir, server.name + ".out"))
                raise BenchError("%s under callgrind exited %s:\n%s" % (kind, status, output))
            totals.append(callgrind_totals(outfile))
            print("  callgrind %-10s -n %d: %d instructions" % (kind, n, totals[-1]),
                  file=sys.stderr, flush=True)
        out[kind] = {"totals": totals,
                     "instructions_per_request": (totals[1] - totals[0]) / (n2 - n1)}
    return out


# ---------------------------------------------------------------------------------------------
# Idle clients and memory


def raise_nofile(wanted):
    """Raises the soft RLIMIT_NOFILE to `wanted` (and the hard one if allowed); returns the soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    if hard == resource.RLIM_INFINITY or hard >= wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    else:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))  # root may raise it
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_idle_clients(server, count, timeout=120.0):
    """count connections that each sent one GET and read its reply; returns the sockets.

    All connect first and then all send at once, as a burst of clients does: the proxy holds
    every request at the same time, and its memory peaks as it would in production.
    """
    deadline = time.monotonic() + timeout
    socks = []
    sel = selectors.DefaultSelector()
    try:
        for _ in range(count):
            left = max(1.0, deadline - time.monotonic())
            socks.append(socket.create_connection((HOST, server.port), timeout=left))
        wait_until(lambda: accepted_connections(server.pid, server.port) >= count,
                   max(1.0, deadline - time.monotonic()),
                   "%s to accept %d clients" % (server.name, count), **POLL)
        for i, s in enumerate(socks):
            s.sendall(encode("GET", key(i % 1000)))
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, bytearray())
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("%d of %d idle clients got no reply within %.0f s" %
                                 (len(sel.get_map()), count, timeout))
            for sk, _ in sel.select(min(left, 1.0)):
                _read_reply(sel, sk)
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise
    finally:
        sel.close()


def _read_reply(sel, sk):
    data = sk.fileobj.recv(65536)
    if not data:
        raise BenchError("an idle client's connection closed before its reply")
    sk.data.extend(data)
    reply, _ = parse_reply(sk.data, 0)
    if reply is INCOMPLETE:
        return
    if isinstance(reply, RespError):
        raise BenchError("an idle client's GET got %s" % reply)
    sel.unregister(sk.fileobj)


def settled_rss(pid, quiet=1.0, timeout=10.0):
    """RSS once it has not changed for `quiet` seconds (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    last, since = rss_bytes(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = rss_bytes(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def idle_clients_test(children, server, count):
    # One client first, so that the server connections exist before "before" is read.
    client = RespClient(server.port)
    client.call("GET", key(0))
    client.close()
    wait_until(lambda: accepted_connections(server.pid, server.port) == 0, 30,
               "%s to close the first client" % server.name, **POLL)
    before = settled_rss(server.pid)
    socks = open_idle_clients(server, count)
    try:
        during = settled_rss(server.pid)
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: accepted_connections(server.pid, server.port) == 0, 120,
               "%s to close %d clients" % (server.name, count), **POLL)
    after = settled_rss(server.pid, quiet=1.0, timeout=15.0)
    return {"clients": count, "rss_before": before, "rss_with_clients": during,
            "rss_after": after, "bytes_per_client": (during - before) / count,
            "after_over_before": after / before - 1.0}


def run_idle(children, workdir, shard_ports, direct, args):
    limit = raise_nofile(args.idle_clients + 1024)
    if limit < args.idle_clients + 256:
        raise BenchError("RLIMIT_NOFILE is %d: too low for %d clients" % (limit, args.idle_clients))
    out = {}
    for kind in PROXIES:
        server = start_proxy(children, workdir, kind, shard_ports, args, tag="-idle")
        try:
            out[kind] = idle_clients_test(children, server, args.idle_clients)
        finally:
            children.stop(server.proc)
    out["direct"] = idle_clients_test(children, direct, args.idle_clients)
    return out


# ---------------------------------------------------------------------------------------------
# Report


def _k(rps):
    return "%.0fk" % (rps / 1000) if rps >= 10000 else "%.1fk" % (rps / 1000)


def _ratio(a, b):
    return a / b if b else None


def _fmt(value, spec, none="-"):
    return none if value is None else format(value, spec)


def derive(results):
    """Ratios to nutcracker and to direct, added p99, per target and case."""
    for case, cell in results.items():
        nc, direct = cell.get("nutcracker", {}), cell.get("direct", {})
        for name, figures in cell.items():
            if "error" in figures:
                continue
            figures["rps_vs_nutcracker"] = _ratio(figures["rps"], nc.get("rps"))
            figures["rps_vs_direct"] = _ratio(figures["rps"], direct.get("rps"))
            figures["added_p99_ms"] = (figures["p99_ms"] - direct["p99_ms"]
                                       if "p99_ms" in direct else None)
            figures["cpu_vs_nutcracker"] = _ratio(figures["cpu_us_per_request"],
                                                  nc.get("cpu_us_per_request"))


def goals(results, callgrind, idle):
    """Each performance target: (what, measured, bound text, met)."""
    rows = []
    for cases, bound in CPU_GOALS:
        for case in (c for c in cases if c in results):
            rp = results[case].get("ringproxy", {})
            value = rp.get("cpu_vs_nutcracker")
            rows.append(("CPU per request vs nutcracker, " + case, _fmt(value, ".2f"),
                         "<= %.2f" % bound, value is not None and value <= bound))
    for cases, bound in THROUGHPUT_GOALS:
        for case in (c for c in cases if c in results):
            rp = results[case].get("ringproxy", {})
            value = rp.get("rps_vs_nutcracker")
            rows.append(("throughput vs nutcracker, " + case, _fmt(value, ".2f"),
                         ">= %.1f" % bound, value is not None and value >= bound))
    for case, cell in results.items():
        rp, nc = cell.get("ringproxy", {}), cell.get("nutcracker", {})
        a, b = rp.get("added_p99_ms"), nc.get("added_p99_ms")
        value = None if a is None or b is None else (a / b if b > 0 else None)
        text = ("%.3f / %.3f ms = %s" % (a, b, _fmt(value, ".2f")) if a is not None and
                b is not None else "-")
        met = a is not None and b is not None and (a <= ADDED_P99_GOAL * b)
        rows.append(("added p99 over direct vs nutcracker's, " + case, text,
                     "<= %.1f" % ADDED_P99_GOAL, met))
    if callgrind:
        value = callgrind["ringproxy"]["instructions_per_request"]
        rows.append(("instructions per pipelined GET (callgrind)", "%.0f" % value,
                     "<= %d" % INSTRUCTIONS_GOAL, value <= INSTRUCTIONS_GOAL))
    if idle:
        rp = idle["ringproxy"]
        rows.append(("RSS per idle client", "%.0f B" % rp["bytes_per_client"],
                     "< %d B" % IDLE_BYTES_GOAL, rp["bytes_per_client"] < IDLE_BYTES_GOAL))
        rows.append(("RSS after the clients left, over before", "%+.1f%%" %
                     (100 * rp["after_over_before"]), "<= +%d%%" % (100 * RSS_RETURN_GOAL),
                     rp["after_over_before"] <= RSS_RETURN_GOAL))
    return rows


def unmeasured(report):
    """Cells without a figure: what the smoke run fails on (it asserts nothing about speed)."""
    missing = []
    for case, cell in report["matrix"].items():
        for name in report["targets"]:
            figures = cell.get(name, {"error": "missing"})
            if "error" in figures or not figures["rps"] > 0 or not figures["p99_ms"] > 0:
                missing.append("%s / %s" % (case, name))
    for kind in PROXIES if "callgrind" in report else ():
        if not report["callgrind"][kind]["instructions_per_request"] > 0:
            missing.append("callgrind / %s" % kind)
    for name, m in report.get("idle_clients", {}).items():
        if not (m["rss_before"] > 0 and m["rss_with_clients"] > 0 and m["rss_after"] > 0):
            missing.append("idle clients / %s" % name)
    return missing


def render(report):
    out = []
    out.append("| case | target | rps | vs nutcracker | vs direct | p50 ms | p99 ms | "
               "+p99 ms over direct | CPU us/req | CPU vs nutcracker | RSS MB |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, cell in report["matrix"].items():
        for name in report["targets"]:
            f = cell.get(name)
            if f is None:
                continue
            if "error" in f:
                out.append("| %s | %s | error | | | | | | | | |" % (case, name))
                continue
            out.append("| %s | %s | %s | %s | %s | %.3f | %.3f | %s | %.2f | %s | %.1f |" % (
                case, name, _k(f["rps"]), _fmt(f["rps_vs_nutcracker"], ".2f"),
                _fmt(f["rps_vs_direct"], ".2f"), f["p50_ms"], f["p99_ms"],
                "-" if name == "direct" else _fmt(f["added_p99_ms"], "+.3f"),
                f["cpu_us_per_request"], _fmt(f["cpu_vs_nutcracker"], ".2f"),
                f["rss_bytes"] / 2**20))
    cg = report.get("callgrind")
    if cg:
        n1, n2 = cg["requests"]
        out.append("")
        out.append("Instructions per pipelined GET under callgrind (one client, -P 16; "
                   "(Ir at -n %d - Ir at -n %d) / %d):" % (n2, n1, n2 - n1))
        out.append("")
        out.append("| proxy | Ir, -n %d | Ir, -n %d | instructions per GET | vs nutcracker |" %
                   (n1, n2))
        out.append("|---|---:|---:|---:|---:|")
        for kind in PROXIES:
            c = cg[kind]
            out.append("| %s | %d | %d | %.0f | %.2f |" % (
                kind, c["totals"][0], c["totals"][1], c["instructions_per_request"],
                c["instructions_per_request"] / cg["nutcracker"]["instructions_per_request"]))
    idle = report.get("idle_clients")
    if idle:
        count = idle["ringproxy"]["clients"]
        out.append("")
        out.append("Memory with %d idle clients that each sent one GET (fresh proxies; direct is "
                   "the one Redis of the matrix, holding the keys):" % count)
        out.append("")
        out.append("| target | RSS before MB | with clients MB | per client | after they left MB "
                   "| after vs before |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for name in ("direct",) + PROXIES:
            m = idle[name]
            out.append("| %s | %.1f | %.1f | %.0f B | %.1f | %+.1f%% |" % (
                name, m["rss_before"] / 2**20, m["rss_with_clients"] / 2**20,
                m["bytes_per_client"], m["rss_after"] / 2**20, 100 * m["after_over_before"]))
    out.append("")
    out.append("Targets (ringproxy against nutcracker -v 4 in this run):")
    out.append("")
    out.append("| target | measured | goal | met |")
    out.append("|---|---:|---:|---|")
    for what, value, bound, met in report["goals"]:
        out.append("| %s | %s | %s | %s |" % (what, value, bound, "yes" if met else "**no**"))
    return "\n".join(out)


def version(argv):
    try:
        done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout + done.stderr).decode("utf-8", "replace").strip().splitlines()
    return text[0] if text else None


def machine():
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            os_name = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line
                           ).get("PRETTY_NAME", "").strip('"')
    except OSError:
        os_name = platform.platform()
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)), "cpu": cpu,
            "os": os_name, "kernel": platform.release(), "loadavg_start": os.getloadavg()}


# ---------------------------------------------------------------------------------------------


def cpu_list(text):
    cpus = set()
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            cpus.update(range(int(lo), int(hi) + 1))
        elif part:
            cpus.add(int(part))
    return cpus


def int_list(text):
    values = [int(part) for part in text.split(",") if part]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive counts")
    return values


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    default_rp = os.path.normpath(os.path.join(here, "..", "..", "build-release", "proxy",
                                               "ringproxy"))
    p = argparse.ArgumentParser(
        description="Direct Redis vs nutcracker -v 4 vs ringproxy, same shards, same machine.")
    p.add_argument("--ringproxy", default=default_rp, help="ringproxy binary (%(default)s)")
    p.add_argument("--nutcracker", default=shutil.which("nutcracker") or "/usr/sbin/nutcracker")
    p.add_argument("--workers", type=int_list, default=[1],
                   help="ringproxy --workers (1); a list such as 1,2,4 adds a ringproxy per "
                        "count (ringproxy-w2, ...) to the matrix; the first is the one compared "
                        "with the targets, run under callgrind and in the memory test")
    p.add_argument("--verbosity", type=int, default=4,
                   help="-v of both proxies (4: nutcracker's fastest)")
    p.add_argument("--repeat", "-R", type=int, default=None,
                   help="runs per cell, the median counts (3; --quick: 1)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every case's -n")
    p.add_argument("--requests", "-n", type=int, default=0, help="one -n for every case")
    p.add_argument("--keyspace", type=int, default=0, help="-r (100000; --quick: 10000)")
    p.add_argument("--cases", default="", help="comma-separated case names (default: all): " +
                   ", ".join(c.name for c in CASES))
    p.add_argument("--quick", action="store_true",
                   help="small -n, one run per cell, small keyspace: the test suite's smoke run")
    p.add_argument("--callgrind", action="store_true",
                   help="instructions per pipelined GET of each proxy under callgrind")
    p.add_argument("--callgrind-n", type=int, default=20000,
                   help="requests of the shorter callgrind run; the longer has 6x")
    p.add_argument("--idle-clients", type=int, default=0, help="memory test with N idle clients")
    p.add_argument("--clients", "-c", type=int, default=50, help="redis-benchmark -c (50)")
    p.add_argument("--bench-threads", type=int, default=1, help="redis-benchmark --threads")
    p.add_argument("--proxy-cpus", type=cpu_list, default=None,
                   help="pin both proxies to these CPUs, e.g. 0-3 (for scaling runs)")
    p.add_argument("--load-cpus", type=cpu_list, default=None,
                   help="pin Redis and redis-benchmark to these CPUs, e.g. 4-15")
    p.add_argument("--json", help="write the results here as JSON")
    args = p.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.keyspace = args.keyspace or (10000 if args.quick else 100000)
    if not os.access(args.ringproxy, os.X_OK):
        p.error("no ringproxy at %s: build a Release one (cmake -S . -B build-release -G Ninja "
                "-DCMAKE_BUILD_TYPE=Release && cmake --build build-release --target ringproxy) "
                "or name one with --ringproxy" % args.ringproxy)
    for binary in (args.nutcracker, REDIS_SERVER, REDIS_BENCHMARK):
        if not (binary and os.access(binary, os.X_OK)):
            p.error("not an executable: %s" % binary)
    if args.callgrind and not VALGRIND:
        p.error("--callgrind needs valgrind")
    args.ringproxy = os.path.abspath(args.ringproxy)
    return args


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
VALGRIND = shutil.which("valgrind")


def measure_all(children, workdir, args, cases, report):
    """Starts everything, measures, fills `report`; returns the cells that were not measured."""
    # A private copy: a rebuild of the tree during the run must not swap the binary under it.
    report["ringproxy_binary"] = {"path": args.ringproxy,
                                  "mtime": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(
                                      os.stat(args.ringproxy).st_mtime))}
    try:
        args.ringproxy = shutil.copy2(args.ringproxy, os.path.join(workdir, "ringproxy"))
    except OSError as e:
        raise BenchError("cannot copy %s: %s" % (args.ringproxy, e)) from e
    shards = [start_redis(children, workdir, "shard-%d" % i, args.load_cpus)
              for i in range(SHARDS)]
    shard_ports = [s.port for s in shards]
    direct = start_redis(children, workdir, "direct", args.load_cpus)
    targets = {"direct": direct}
    for kind in PROXIES:
        targets[kind] = start_proxy(children, workdir, kind, shard_ports, args)
    for workers in args.workers[1:]:  # more worker counts, side by side in the same run
        name = "ringproxy-w%d" % workers
        targets[name] = start_proxy(children, workdir, "ringproxy", shard_ports, args,
                                    tag="-w%d" % workers, workers=workers)
    report["targets"] = list(targets)
    for name, server in targets.items():
        check_target(name, server.port)
    print("matrix: %d cases x %d targets x %d runs" % (len(cases), len(targets), args.repeat),
          file=sys.stderr, flush=True)
    # Keys are written through direct and through nutcracker: the proxies share the shards.
    keys = Keys([direct.port, targets["nutcracker"].port], args.keyspace)
    report["matrix"] = run_matrix(children, targets, keys, cases, args)
    derive(report["matrix"])
    keys.ensure(64)  # what the callgrind GETs and the idle clients read
    for server in targets.values():  # the matrix proxies go before the others start
        if server is not direct:
            children.stop(server.proc)
    if args.callgrind:
        report["callgrind"] = run_callgrind(children, workdir, shard_ports, args)
    if args.idle_clients:
        report["idle_clients"] = run_idle(children, workdir, shard_ports, direct, args)
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["goals"] = goals(report["matrix"], report.get("callgrind"), report.get("idle_clients"))
    failed = unmeasured(report)
    for what in failed:
        print("error: not measured: %s" % what, file=sys.stderr)
    return failed


def main(argv):
    args = parse_args(argv)
    cases = CASES
    if args.cases:
        wanted = [c.strip() for c in args.cases.split(",")]
        cases = [c for c in CASES if c.name in wanted]
        if len(cases) != len(wanted):
            raise SystemExit("unknown case in --cases; cases: %s" %
                             ", ".join(c.name for c in CASES))
    if args.idle_clients:
        raise_nofile(args.idle_clients + 1024)  # before any child starts: they inherit it

    started = datetime.datetime.now(datetime.timezone.utc)
    report = {
        "command": shlex.join([sys.executable, sys.argv[0]] + argv),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": {"redis-server": version([REDIS_SERVER, "--version"]),
                     "redis-benchmark": version([REDIS_BENCHMARK, "--version"]),
                     "nutcracker": version([args.nutcracker, "-V"]),
                     "ringproxy": version([args.ringproxy, "-V"])},
        "settings": {"clients": args.clients, "keyspace": args.keyspace, "repeat": args.repeat,
                     "workers": args.workers, "verbosity": args.verbosity,
                     "requests": {c.name: c.n(args) for c in cases}},
    }
    workdir = tempfile.mkdtemp(prefix="ringproxy-e2e-")
    keep_workdir = False
    try:
        # Every child is stopped by its pid when the block ends, also on Ctrl-C or an error.
        with Children(workdir, stop_timeout=STOP_TIMEOUT) as children:
            try:
                failed = measure_all(children, workdir, args, cases, report)
            except (KeyboardInterrupt, Interrupted) as e:
                print("interrupted (%s): stopping everything started" % (e or "Ctrl-C"),
                      file=sys.stderr)
                return 130
            except ProcessError as e:
                print("error: %s\n(work directory kept: %s)" % (e, workdir), file=sys.stderr)
                keep_workdir = True
                return 1
    finally:
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    m = report["machine"]
    print("%s; %d CPUs (%s), %s, kernel %s; load average %.2f at start, %.2f at end" % (
        report["date"], m["cpus"], m["cpu"], m["os"], m["kernel"], m["loadavg_start"][0],
        m["loadavg_end"][0]))
    print("%s; ringproxy --workers %s; -c %d -r %d; median of %d" % (
        ", ".join("%s" % v for v in report["versions"].values() if v),
        ",".join(map(str, args.workers)), args.clients, args.keyspace, args.repeat))
    print("command: %s" % report["command"])
    print()
    print(render(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    if failed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
