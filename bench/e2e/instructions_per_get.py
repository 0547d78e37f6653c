#!/usr/bin/python3
"""Instructions per pipelined GET of ringproxy under callgrind, alone, for profiling work.

    /usr/bin/python3 bench/e2e/instructions_per_get.py [--ringproxy build-release/proxy/ringproxy] \
        [-n 50000,150000] [-P 16] [-d 64] [-R 3] [--nutcracker | --resp3] [--keep DIR] \
        [--dump-instr]

compare.py --callgrind measures the same figure at the end of its whole matrix; this runs only
that part, in about a minute, so it can be repeated after every change. It starts its processes
as compare.py does (tools/child_processes.py: every child stopped by its pid, also on Ctrl-C or
an error).

What it does: starts 4 redis-server shards on free loopback ports and writes the keyspace
(key:%012d, -d bytes each) into every shard, so every GET finds a value wherever the proxy routes
it. Then, for each -n: starts ringproxy --workers 1 under `valgrind --tool=callgrind` on a
nutcracker-style pool (fnv1a_64, ketama, the 4 shards), runs
`redis-benchmark -c 1 -P 16 -t get -r 100000 -d 64 -n N`, stops the proxy with SIGTERM and reads
the total instruction count. (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one GET: startup,
shutdown and connection setup cancel out. Callgrind counts instructions, so the figure does not
depend on the machine's load.

--keep DIR keeps the callgrind output files (callgrind.<proxy>.<n>.out) for
`callgrind_annotate --inclusive=yes DIR/callgrind.ringproxy.150000.out`; --dump-instr adds
per-instruction counts for `callgrind_annotate --auto=yes` or kcachegrind.

--resp3 measures the same GETs from a RESP3 client: redis-benchmark's own -3 makes its
connection send HELLO 3 before the first GET (it exits if the proxy refuses it), and after each
run every shard is asked (CLIENT LIST) whether the proxy reached it on a connection that speaks
RESP3, so that the figure is that of the RESP3 path. Run once without and once with --resp3 to
compare the two protocols; GET's reply is the same bulk string in both.
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  pylint: disable=wrong-import-position  (the sibling script)
from child_processes import (  # noqa: E402  pylint: disable=wrong-import-position
    Children, Interrupted, ProcessError, log_tail, tcp_sockets)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    # A Release build, as users run it (compare.py's docstring says how to build one).
    default_rp = os.path.join(here, "..", "..", "build-release", "proxy", "ringproxy")
    p.add_argument("--ringproxy", default=os.path.normpath(default_rp),
                   help="ringproxy binary (%(default)s)")
    p.add_argument("--nutcracker", nargs="?", const=shutil.which("nutcracker") or
                   "/usr/sbin/nutcracker", default=None,
                   help="also measure nutcracker (-v 4), this binary")
    p.add_argument("-n", "--requests", default="50000,150000",
                   help="the two redis-benchmark -n, comma-separated (%(default)s)")
    p.add_argument("-P", "--pipeline", type=int, default=16, help="redis-benchmark -P (16)")
    p.add_argument("-d", "--size", type=int, default=64, help="value size in bytes (64)")
    p.add_argument("-r", "--keyspace", type=int, default=100000, help="-r (100000)")
    p.add_argument("--workers", type=int, default=1, dest="workers_count", metavar="N",
                   help="ringproxy --workers (1)")
    p.add_argument("--repeat", "-R", type=int, default=1,
                   help="measure R times and report the median (1); the figure moves by a few "
                        "instructions with how requests and replies batch, which the machine's "
                        "load changes")
    p.add_argument("--keep", help="keep the callgrind output files in this directory")
    p.add_argument("--dump-instr", action="store_true",
                   help="callgrind --dump-instr=yes (per-instruction counts)")
    p.add_argument("--resp3", action="store_true",
                   help="the benchmark connection says HELLO 3 first (redis-benchmark -3)")
    args = p.parse_args(argv)
    if args.resp3 and args.nutcracker:
        p.error("--resp3 measures ringproxy only: nutcracker closes a connection that sends "
                "HELLO")
    try:
        args.counts = [int(x) for x in args.requests.split(",")]
    except ValueError:
        p.error("-n takes two integers, e.g. 50000,150000")
    if len(args.counts) != 2 or not 0 < args.counts[0] < args.counts[1]:
        p.error("-n takes two increasing counts, e.g. 50000,150000")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if not compare.VALGRIND:
        p.error("valgrind is not installed")
    if not os.access(args.ringproxy, os.X_OK):
        p.error("no ringproxy binary at %s: build a Release one (cmake -S . -B build-release -G "
                "Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-release --target "
                "ringproxy) or name one with --ringproxy" % args.ringproxy)
    # What compare.py's helpers read from its own command line.
    args.verbosity = 4
    args.proxy_cpus = None
    args.load_cpus = None
    args.bench_threads = 1
    args.clients = 1
    args.workers = [args.workers_count]
    return args


def measure(children, workdir, kind, shard_ports, args, rep):
    """Instruction totals of `kind` for each -n; returns (totals, per request)."""
    totals = []
    for n in args.counts:
        suffix = "" if args.repeat == 1 else ".%d" % (rep + 1)
        outfile = os.path.join(workdir, "callgrind.%s.%d%s.out" % (kind, n, suffix))
        wrapper = [compare.VALGRIND, "--tool=callgrind", "--callgrind-out-file=" + outfile]
        if args.dump_instr:
            wrapper.append("--dump-instr=yes")
        server = compare.start_proxy(children, workdir, kind, shard_ports, args, wrapper,
                                     tag="-%d" % n)
        try:
            compare.run_benchmark(children, server.port, ["-P", str(args.pipeline), "-d",
                                                          str(args.size), "-t", "get"] +
                                  (["-3"] if args.resp3 else []), n, args)
            if args.resp3:
                check_resp3_server_connections(shard_ports, server.pid)
        finally:
            # nutcracker exits through exit() only on SIGINT; ringproxy drains on either.
            sig = signal.SIGINT if kind == "nutcracker" else signal.SIGTERM
            status = children.stop(server.proc, sig, timeout=120)
        if status not in (0, 1):
            raise compare.BenchError("%s under callgrind exited %s:\n%s" % (
                kind, status, log_tail(os.path.join(workdir, server.name + ".out"))))
        totals.append(compare.callgrind_totals(outfile))
        print("  %-10s -n %-7d %d instructions" % (kind, n, totals[-1]), file=sys.stderr,
              flush=True)
    return totals, (totals[1] - totals[0]) / (args.counts[1] - args.counts[0])


def resp3_connections(port, pid):
    """How many of the connections a redis-server at `port` has from process `pid` speak
    RESP3, by CLIENT LIST's resp= and the connections' local ports of that process."""
    mine = {sock.local_port for sock in tcp_sockets(pid)}
    client = compare.RespClient(port)
    try:
        listing = client.call("CLIENT", "LIST")
    finally:
        client.close()
    if not isinstance(listing, bytes):
        raise compare.BenchError("CLIENT LIST on port %d answered %r" % (port, listing))
    count = 0
    for line in listing.decode().splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        peer_port = int(fields.get("addr", ":0").rsplit(":", 1)[1])
        if peer_port in mine and fields.get("resp") == "3":
            count += 1
    return count


def check_resp3_server_connections(shard_ports, pid):
    """Fails unless the proxy (`pid`) reaches every shard on a RESP3 connection: otherwise the
    figure would not be that of the RESP3 path."""
    counts = [resp3_connections(port, pid) for port in shard_ports]
    if not all(counts):
        raise compare.BenchError("after a RESP3 run the proxy has RESP3 connections to the "
                                 "shards %s: %s (each needs one)" % (shard_ports, counts))


def run(children, workdir, args):
    shards = [compare.start_redis(children, workdir, "shard-%d" % i, None)
              for i in range(compare.SHARDS)]
    shard_ports = [s.port for s in shards]
    for port in shard_ports:
        compare.write_keys(port, args.keyspace, args.size)
    kinds = ["ringproxy"] + (["nutcracker"] if args.nutcracker else [])
    results = {kind: [measure(children, workdir, kind, shard_ports, args, rep)
                      for rep in range(args.repeat)] for kind in kinds}
    print("redis-benchmark -c 1 -P %d -t get -d %d -r %d%s, -n %d and %d; --workers %d" % (
        args.pipeline, args.size, args.keyspace, " -3 (RESP3)" if args.resp3 else "",
        args.counts[0], args.counts[1], args.workers_count))
    for kind, runs in results.items():
        for totals, per_request in runs:
            print("%-10s Ir %d and %d: %.1f instructions per GET" % (kind, totals[0], totals[1],
                                                                      per_request))
        if len(runs) > 1:
            print("%-10s median of %d: %.1f instructions per GET" % (
                kind, len(runs), statistics.median(r[1] for r in runs)))


def main(argv):
    args = parse_args(argv)
    workdir = args.keep or tempfile.mkdtemp(prefix="ringproxy-cg-")
    os.makedirs(workdir, exist_ok=True)
    try:
        # Every child is stopped by its pid when the block ends, also on Ctrl-C or an error.
        with Children(workdir, stop_timeout=compare.STOP_TIMEOUT) as children:
            try:
                run(children, workdir, args)
            except (KeyboardInterrupt, Interrupted):
                print("interrupted: stopping everything started", file=sys.stderr)
                return 130
            except ProcessError as e:
                print("error: %s\n(work directory kept: %s)" % (e, workdir), file=sys.stderr)
                args.keep = workdir
                return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
