"""A bounded soak: ringproxy (2 workers) over 4 real redis-server shards, ten concurrent clients
with a mixed workload, while a chaos thread kills (SIGKILL, restart on the same port: the data
is lost) or freezes (SIGSTOP, then SIGCONT) one random shard at a time.

Every write stores a value unique to it ("<key>|<client>|<sequence>"), and each key is written
by one client only, so every reply can be checked by content against what that client may
legitimately see:
- a value this key may hold: the last one written, or, while the outcome of an earlier write
  is unknown (it failed) or the shard lost its data since, one of those;
- one of the proxy's documented errors for an unavailable server (UNAVAILABLE), and only when
  a shard the command touches was disturbed while it was in flight.
Never another key's value, another request's reply or an error outside such a window.

Windows are defined by events, not by time: the chaos thread gives each shard a generation,
odd from just before the signal until the shard is settled again (it serves, every batch a
client sent before that has been answered, and the shard holds no connection the proxy has
closed, so no request that timed out can still be executed). A batch of commands whose shards
have the same even generation before it was sent and after its last reply came was served by
one undisturbed server instance: it must succeed, and its reads narrow what each key may hold.

RINGPROXY_SOAK_SECONDS sets how long the chaos goes on (default 180). Every wait is bounded; the
summary (requests, errors by kind, restarts, RSS) is printed whether the test passes or not.
"""

import itertools
import os
import random
import signal
import threading
import time
import traceback

import pytest
import redis

import harness
import proxy_testing
from proxy_testing import RawConnection, ReplyError, metric, metrics, parse

SOAK_SECONDS = float(os.environ.get("RINGPROXY_SOAK_SECONDS", "180"))
SHARDS = 4
WORKERS = 2
# The pool's timeout: a frozen shard's requests fail after it. Long enough that a healthy shard
# on a loaded 2-core machine never reaches it.
POOL_TIMEOUT_MS = 2000
CLIENT_IO_TIMEOUT = 60.0  # no reply takes this long unless the proxy hangs
STEP_TIMEOUT = 90.0  # bound on each event the chaos thread waits for
OBSERVE_TIMEOUT = 20.0  # bound on waiting for the proxy to notice a fault (not required)
PROGRESS_BATCHES = 3  # batches every client completes between two faults, all undisturbed
RSS_GROWTH_BOUND_KIB = 64 * 1024
# What a client may get for a request to a server that is down, frozen or restarting (README).
UNAVAILABLE = frozenset(["ERR Connection refused", "ERR Connection reset by peer",
                         "ERR Connection timed out"])
SCRIPT = ("redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[2]) "
          "return redis.call('MGET', KEYS[1], KEYS[2])")

TICKETS = itertools.count(1)  # orders client batches against the chaos thread's events


class Board:
    """Each shard's generation (odd while disturbed) and the odd generations at which it lost
    its data. Written by the chaos thread only; tuples read by clients are consistent enough:
    each element only grows."""

    def __init__(self, shards):
        self.generation = [0] * shards
        self.kills = [[] for _ in range(shards)]

    def snapshot(self):
        return tuple(self.generation)

    def disturb(self, shard, kill):
        self.generation[shard] += 1
        if kill:
            self.kills[shard].append(self.generation[shard])

    def settle(self, shard):
        self.generation[shard] += 1

    def wiped(self, shard, since, until):
        return any(since <= g <= until for g in self.kills[shard])


class Window:
    """The generations seen before a batch was sent (g0) and after its last reply (g1)."""

    def __init__(self, board, g0, g1):
        self.board, self.g0, self.g1 = board, g0, g1

    def clean(self, shard):
        return self.g0[shard] == self.g1[shard] and self.g0[shard] % 2 == 0

    def begin(self, key):
        """Before a reply about `key` is judged: its shard may have lost its data since the
        last command that looked at the key was sent."""
        if self.board.wiped(key.shard, key.since, self.g1[key.shard]):
            key.cand.add(0 if key.counter else None)

    def end(self, key):
        key.since = self.g0[key.shard]


class Key:
    """What one key may hold now, from its only writer's point of view.

    cand: the values it may hold (None: absent; counters hold ints, 0 when absent).
    pending: values of writes that failed and so may still be applied (counters: how many).
    """

    __slots__ = ("name", "shard", "counter", "step", "cand", "pending", "since")

    def __init__(self, name, shard, counter=False, step=0):
        self.name, self.shard, self.counter, self.step = name, shard, counter, step
        self.cand = {0} if counter else {None}
        self.pending = 0 if counter else set()
        self.since = 0

    def wrote(self, value, clean):
        if clean:
            self.cand, self.pending = {value}, set()
        else:
            self.cand = {value} | self.pending

    def write_failed(self, value):
        self.cand.add(value)
        self.pending.add(value)

    def read(self, value, clean):
        """Narrows to what was read (returns False if the key could not hold it)."""
        if not (value is None or isinstance(value, bytes)) or value not in self.cand:
            return False
        self.wrote(value, clean)
        return True

    def incremented(self, result, clean):
        if result not in {c + self.step for c in self.cand}:
            return False
        if clean:
            self.cand, self.pending = {result}, 0
        else:
            self.cand = {result + self.step * j for j in range(self.pending + 1)}
        return True

    def increment_failed(self):
        self.cand |= {c + self.step for c in self.cand}
        self.pending += 1


class Op:
    """One command, its keys, and how to judge its reply."""

    def __init__(self, kind, args, keys, values=()):
        self.kind, self.args, self.keys, self.values = kind, args, keys, list(values)
        self.shards = {k.shard for k in keys}

    def judge(self, reply, window, record):
        for key in self.keys:
            window.begin(key)
        if isinstance(reply, ReplyError):
            text = str(reply)
            record.error(self, text)
            if text not in UNAVAILABLE:
                record.violation("unexpected error", self, reply)
            elif all(window.clean(s) for s in self.shards):
                record.violation("error outside a disruption window", self, reply)
            self._failed()
        else:
            self._answered(reply, window, record)
        for key in self.keys:
            window.end(key)

    def _failed(self):
        if self.kind == "INCRBY":
            self.keys[0].increment_failed()
        elif self.kind in ("SET", "MSET", "HSET", "EVAL", "DEL"):
            for key, value in zip(self.keys, self.values):
                key.write_failed(value)

    def _answered(self, reply, window, record):
        kind = self.kind
        if kind in ("GET", "HGET", "MGET"):
            values = [reply] if kind != "MGET" else reply
            if not isinstance(values, list) or len(values) != len(self.keys):
                record.violation("another request's reply", self, reply)
                return
            for key, value in zip(self.keys, values):
                if not key.read(value, window.clean(key.shard)):
                    record.violation(_misread(key, value), self, reply)
        elif kind in ("SET", "MSET"):
            if reply != b"OK":
                record.violation("another request's reply", self, reply)
                return
            for key, value in zip(self.keys, self.values):
                key.wrote(value, window.clean(key.shard))
        elif kind == "HSET":
            key = self.keys[0]
            if reply not in ((1,) if key.cand == {None} else (0, 1) if None in key.cand else (0,)):
                record.violation("another request's reply", self, reply)
                return
            key.wrote(self.values[0], window.clean(key.shard))
        elif kind == "DEL":
            low = sum(1 for k in self.keys if None not in k.cand)
            high = sum(1 for k in self.keys if k.cand != {None})
            if not isinstance(reply, int) or not low <= reply <= high:
                record.violation("another request's reply", self, reply)
                return
            for key in self.keys:
                key.wrote(None, window.clean(key.shard))
        elif kind == "INCRBY":
            key = self.keys[0]
            if not isinstance(reply, int) or not key.incremented(reply, window.clean(key.shard)):
                record.violation("another request's reply", self, reply)
        elif kind == "EVAL":
            if reply != self.values:
                record.violation("another request's reply", self, reply)
                return
            for key, value in zip(self.keys, self.values):
                key.wrote(value, window.clean(key.shard))


def _misread(key, value):
    if isinstance(value, bytes) and b"|" in value:
        owner = value.split(b"|", 1)[0].decode()
        return "stale or reordered value" if owner == key.name else "another key's value"
    return "another request's reply"


class Record:
    """Counts shared by every client: commands, errors by text and by op, violations."""

    def __init__(self):
        self.lock = threading.Lock()
        self.commands = 0
        self.batches = 0
        self.errors = {}  # error text -> count
        self.errored_ops = {}  # command name -> count
        self.violations = {}  # kind -> count
        self.samples = []

    def batch(self, commands):
        with self.lock:
            self.commands += commands
            self.batches += 1

    def error(self, op, text):
        with self.lock:
            self.errors[text] = self.errors.get(text, 0) + 1
            self.errored_ops[op.kind] = self.errored_ops.get(op.kind, 0) + 1

    def violation(self, kind, op, reply):
        with self.lock:
            self.violations[kind] = self.violations.get(kind, 0) + 1
            if len(self.samples) < 20:
                self.samples.append((kind, op.args[:6], reply,
                                     [(k.name, k.shard, sorted(map(repr, k.cand)))
                                      for k in op.keys[:3]]))


class Workload:
    """One client's keys (all its own) and a random mix of commands over them."""

    def __init__(self, label, keys, rng):
        self.label = label
        self.strings, self.counters = keys["strings"], keys["counters"]
        self.hashes, self.groups = keys["hashes"], keys["groups"]
        self.rng = rng
        self.sequence = 0
        self.mix = list(itertools.chain.from_iterable(
            [kind] * weight for kind, weight in (
                ("GET", 22), ("SET", 18), ("MGET", 10), ("MSET", 8), ("DEL", 6), ("INCRBY", 10),
                ("HSET", 5), ("HGET", 5), ("EVAL", 5), ("GROUP_MGET", 4), ("GROUP_GET", 3))))

    def _value(self, key):
        self.sequence += 1
        return ("%s|%s|%d" % (key.name, self.label, self.sequence)).encode()

    def op(self):
        kind = self.rng.choice(self.mix)
        rng = self.rng
        if kind == "GET":
            key = rng.choice(self.strings)
            return Op("GET", ["GET", key.name], [key])
        if kind == "SET":
            key = rng.choice(self.strings)
            value = self._value(key)
            return Op("SET", ["SET", key.name, value], [key], [value])
        if kind == "MGET":
            keys = rng.sample(self.strings, rng.randint(2, 6))
            return Op("MGET", ["MGET"] + [k.name for k in keys], keys)
        if kind == "MSET":
            keys = rng.sample(self.strings, rng.randint(2, 6))
            values = [self._value(k) for k in keys]
            args = ["MSET"] + [x for k, v in zip(keys, values) for x in (k.name, v)]
            return Op("MSET", args, keys, values)
        if kind == "DEL":
            keys = rng.sample(self.strings, rng.randint(1, 3))
            return Op("DEL", ["DEL"] + [k.name for k in keys], keys, [None] * len(keys))
        if kind == "INCRBY":
            key = rng.choice(self.counters)
            return Op("INCRBY", ["INCRBY", key.name, key.step], [key])
        if kind == "HSET":
            key = rng.choice(self.hashes)
            value = self._value(key)
            return Op("HSET", ["HSET", key.name, "field", value], [key], [value])
        if kind == "HGET":
            key = rng.choice(self.hashes)
            return Op("HGET", ["HGET", key.name, "field"], [key])
        group = rng.choice(self.groups)
        if kind == "EVAL":
            values = [self._value(k) for k in group]
            return Op("EVAL", ["EVAL", SCRIPT, 2, group[0].name, group[1].name] + values,
                      list(group), values)
        if kind == "GROUP_MGET":
            return Op("MGET", ["MGET", group[0].name, group[1].name], list(group))
        key = rng.choice(group)
        return Op("GET", ["GET", key.name], [key])


def _normalise(value):
    """A redis-py result as proxy_testing.parse would give the raw reply."""
    if value is True:
        return b"OK"
    if isinstance(value, redis.exceptions.ResponseError):
        if type(value) is redis.exceptions.ResponseError:  # pylint: disable=unidiomatic-typecheck
            return ReplyError("ERR " + str(value))
        return ReplyError("%s %s" % (type(value).__name__, value))
    return value


class RawTransport:
    """Raw RESP over a socket: a batch is one write, then its replies in order."""

    name = "raw"

    def __init__(self, port):
        self.conn = RawConnection(port, timeout=CLIENT_IO_TIMEOUT)

    def run(self, commands):
        return [parse(r) for r in self.conn.pipeline(commands)]

    def close(self):
        self.conn.close()


class RedisPyTransport:
    """The redis package: one command at a time, or a non-transactional pipeline."""

    name = "redis-py"

    def __init__(self, port):
        self.client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=CLIENT_IO_TIMEOUT,
                                  socket_connect_timeout=10)

    def run(self, commands):
        if len(commands) == 1:
            try:
                return [_normalise(self.client.execute_command(*commands[0]))]
            except redis.exceptions.ResponseError as exc:
                return [_normalise(exc)]
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return [_normalise(r) for r in pipe.execute(raise_on_error=False)]

    def close(self):
        self.client.connection_pool.disconnect()  # close() only returns it to the pool


class SoakClient(threading.Thread):
    """Sends batches (pipelines of 1..max_batch commands) until stopped and judges every
    reply. A dropped connection, a hang or a malformed reply ends it (`problem`)."""

    def __init__(self, label, transport, workload, max_batch, board, record):
        super().__init__(daemon=True, name=label)
        self.label, self.transport, self.workload = label, transport, workload
        self.max_batch, self.board, self.record = max_batch, board, record
        self.ticket = None  # set while a batch is outstanding
        self.batches = 0
        self.commands = 0
        self.problem = None
        self.stopping = threading.Event()

    def run(self):
        rng = self.workload.rng
        try:
            while not self.stopping.is_set():
                ops = [self.workload.op() for _ in range(rng.randint(1, self.max_batch))]
                self.ticket = next(TICKETS)
                g0 = self.board.snapshot()
                replies = self.transport.run([op.args for op in ops])
                g1 = self.board.snapshot()
                self.ticket = None
                window = Window(self.board, g0, g1)
                for op, reply in zip(ops, replies):
                    op.judge(reply, window, self.record)
                self.commands += len(ops)
                self.batches += 1
                self.record.batch(len(ops))
                self.stopping.wait(0.001)  # a few threads must not starve the proxy
        except Exception:  # pylint: disable=broad-except
            self.problem = traceback.format_exc()
        finally:
            self.ticket = None
            self.transport.close()


def _live_local_ports(pid):
    """Local TCP ports of the sockets process `pid` holds open now."""
    return {s.local_port for s in harness.tcp_sockets(pid)}


class Chaos(threading.Thread):
    """Kills or freezes one random shard at a time until `deadline`, settling it (see the module
    docstring) and letting every client complete PROGRESS_BATCHES batches before the next."""

    def __init__(self, sharded, backends, clients, board, deadline, rng):
        super().__init__(daemon=True, name="chaos")
        self.sharded, self.backends, self.clients = sharded, backends, clients
        self.board, self.deadline, self.rng = board, deadline, rng
        self.events = []  # (seconds since start, shard, action, noticed by the proxy)
        self.kills = [0] * len(backends)
        self.freezes = [0] * len(backends)
        self.rss_peak = 0
        self.problem = None
        self.started = time.monotonic()

    def _check_clients(self):
        for client in self.clients:
            if client.problem:
                raise harness.HarnessError("client %s: %s" % (client.label, client.problem))

    def _wait(self, predicate, what, timeout=STEP_TIMEOUT):
        def done():
            self._check_clients()
            return predicate()
        harness.wait_until(done, timeout, what)

    def _noticed(self, shard, kind, before):
        """Waits (bounded, not required) until the proxy counts an error of `kind` for the
        shard; a fault nobody happened to send to is still a fault."""
        try:
            self._wait(lambda: self._errors(shard, kind) > before,
                       "the proxy to count a %s on s%d" % (kind, shard), OBSERVE_TIMEOUT)
            return True
        except harness.WaitTimeout:
            return False

    def _errors(self, shard, kind):
        return metric(metrics(self.sharded.proxy), "ringproxy_server_errors_total",
                      server="s%d" % shard, kind=kind)

    def _settle(self, shard):
        backend = self.backends[shard]
        ticket = next(TICKETS)
        self._wait(lambda: all(c.ticket is None or c.ticket > ticket for c in self.clients),
                   "every batch sent before s%d recovered to be answered" % shard)
        direct = backend.client(socket_timeout=10)
        proxy_pid = self.sharded.proxy.pid

        def no_stale_connection():
            live = _live_local_ports(proxy_pid)
            return all(int(c["addr"].rsplit(":", 1)[1]) in live for c in direct.client_list()
                       if c["cmd"] != "client|list")

        self._wait(no_stale_connection, "s%d to drop the connections the proxy closed" % shard)
        self.board.settle(shard)
        counts = [c.batches for c in self.clients]
        self._wait(lambda: all(c.batches >= n + PROGRESS_BATCHES
                               for c, n in zip(self.clients, counts)),
                   "every client to complete %d batches after s%d settled" % (
                       PROGRESS_BATCHES, shard))

    def _kill(self, shard):
        backend = self.backends[shard]
        before = self._errors(shard, "connect_failure")
        self.board.disturb(shard, kill=True)
        backend.kill(signal.SIGKILL)
        backend.wait()
        noticed = self._noticed(shard, "connect_failure", before)
        backend.restart()
        self.kills[shard] += 1
        return noticed

    def _freeze(self, shard):
        backend = self.backends[shard]
        before = self._errors(shard, "timeout")
        self.board.disturb(shard, kill=False)
        backend.kill(signal.SIGSTOP)
        try:
            noticed = self._noticed(shard, "timeout", before)
        finally:
            backend.kill(signal.SIGCONT)
        self.freezes[shard] += 1
        return noticed

    def run(self):
        try:
            while time.monotonic() < self.deadline:
                shard = self.rng.randrange(len(self.backends))
                action = self.rng.choice(("kill", "freeze"))
                at = time.monotonic() - self.started
                noticed = self._kill(shard) if action == "kill" else self._freeze(shard)
                self._settle(shard)
                self.events.append((at, shard, action, noticed))
                self.rss_peak = max(self.rss_peak, proxy_testing.rss_kib(self.sharded.proxy.pid))
        except Exception:  # pylint: disable=broad-except
            self.problem = traceback.format_exc()
        finally:
            for backend in self.backends:
                if backend.running():
                    backend.kill(signal.SIGCONT)


def _keyspaces(sharded, labels, single_shard):
    """{label: keys} for each client; a label in `single_shard` gets keys of that shard only."""
    primes = (p for p in itertools.count(1000) if all(p % d for d in range(2, int(p ** 0.5) + 1)))
    wanted = {"strings": 40, "counters": 6, "hashes": 6, "groups": 6}
    spaces = {}
    for label in labels:
        scale = 8 if label in single_shard else 1  # candidates, of which a quarter fit
        names = {kind: ["%d:%s:%s" % (i, label, kind) for i in range(count * scale)]
                 for kind, count in wanted.items() if kind != "groups"}
        tags = ["%d:%s:g" % (i, label) for i in range(wanted["groups"] * scale)]
        flat = [n for kind in names.values() for n in kind] + ["{%s}a" % t for t in tags]
        shard_of = {k: int(s[1:]) for k, s in zip(flat, proxy_testing.place(
            sharded.proxy.config_path, flat))}
        fits = (lambda k: shard_of[k] == single_shard[label]) if label in single_shard else (
            lambda k: True)
        space = {}
        for kind, keys in names.items():
            chosen = [k for k in keys if fits(k)][:wanted[kind]]
            assert len(chosen) == wanted[kind], (label, kind)
            space[kind] = [Key(k, shard_of[k], counter=kind == "counters",
                               step=next(primes) if kind == "counters" else 0) for k in chosen]
        groups = [t for t in tags if fits("{%s}a" % t)][:wanted["groups"]]
        assert len(groups) == wanted["groups"], (label, "groups")
        space["groups"] = [(Key("{%s}a" % t, shard_of["{%s}a" % t]),
                            Key("{%s}b" % t, shard_of["{%s}a" % t])) for t in groups]
        spaces[label] = space
    return spaces


def _summary(seed, clients, chaos, record, samples, rss_start, rss_end):
    server_errors = {
        "s%d %s" % (s, kind): int(v) for s in range(SHARDS)
        for kind in ("eof", "error", "timeout", "connect_failure")
        for v in [metric(samples, "ringproxy_server_errors_total", server="s%d" % s, kind=kind)]
        if v}
    lines = [
        "soak: %.0f s of chaos, seed %d, %d clients, ringproxy %d workers over %d shards "
        "(pool timeout %d ms)" % (SOAK_SECONDS, seed, len(clients), WORKERS, SHARDS,
                                  POOL_TIMEOUT_MS),
        "requests: %d commands in %d batches; per client: %s" % (
            record.commands, record.batches,
            ", ".join("%s %d" % (c.label, c.commands) for c in clients)),
        "faults: %d kills %s, %d freezes %s (per shard); seen counted by the proxy: %d of %d" % (
            sum(chaos.kills), chaos.kills, sum(chaos.freezes), chaos.freezes,
            sum(1 for e in chaos.events if e[3]), len(chaos.events)),
        "error replies by text: %s; by command: %s" % (record.errors, record.errored_ops),
        "violations: %s" % (record.violations or "none"),
        "proxy: requests_total %d, forward_errors_total %d, in_flight %d; server errors: %s" % (
            metric(samples, "ringproxy_requests_total"),
            metric(samples, "ringproxy_forward_errors_total"),
            metric(samples, "ringproxy_in_flight_requests"), server_errors),
        "ringproxy VmRSS KiB: start %d, peak between faults %d, end %d" % (
            rss_start, chaos.rss_peak, rss_end),
    ]
    lines += ["violation: %r" % (sample,) for sample in record.samples]
    return "\n".join(lines)


@pytest.fixture
def soak(processes):
    backends = processes.redis_many(SHARDS)
    sharded = proxy_testing.ShardedProxy(processes, backends, workers=WORKERS,
                                         timeout=POOL_TIMEOUT_MS)
    return sharded, backends


def test_soak_under_shard_kills_and_freezes(soak, capsys):
    sharded, backends = soak
    proxy = sharded.proxy
    seed = int(os.environ.get("RINGPROXY_SOAK_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    board, record = Board(SHARDS), Record()
    # (label, transport, largest batch): pipelined and unpipelined, raw and redis-py, spread
    # over every shard, and one pipelined client per shard that talks to that shard only.
    plan = [("raw-pipe-%d" % i, RawTransport, 64) for i in range(3)]
    plan += [("raw-single", RawTransport, 1), ("redispy-single", RedisPyTransport, 1),
             ("redispy-pipe", RedisPyTransport, 64)]
    single_shard = {"shard%d-only" % s: s for s in range(SHARDS)}
    plan += [(label, RawTransport, 16) for label in single_shard]
    spaces = _keyspaces(sharded, [p[0] for p in plan], single_shard)
    clients = [SoakClient(label, transport(sharded.port),
                          Workload(label, spaces[label], random.Random(rng.random())), size,
                          board, record) for label, transport, size in plan]
    rss_start = None
    chaos = None
    try:
        for client in clients:
            client.start()
        harness.wait_until(lambda: all(c.batches >= PROGRESS_BATCHES or c.problem
                                       for c in clients), STEP_TIMEOUT, "clients to warm up")
        rss_start = proxy_testing.rss_kib(proxy.pid)
        chaos = Chaos(sharded, backends, clients, board, time.monotonic() + SOAK_SECONDS,
                      random.Random(rng.random()))
        chaos.start()
        chaos.join(SOAK_SECONDS + 20 * STEP_TIMEOUT)
        assert not chaos.is_alive(), "the chaos thread did not finish"
    finally:
        for client in clients:
            client.stopping.set()
        for client in clients:
            client.join(CLIENT_IO_TIMEOUT + 10)
    hung = [c.label for c in clients if c.is_alive()]
    assert not hung, "clients still waiting for a reply: %s" % hung

    assert proxy.running(), "ringproxy exited with status %s" % proxy.proc.returncode
    try:
        harness.wait_until(lambda: metric(metrics(proxy), "ringproxy_client_connections") == 0,
                           STEP_TIMEOUT, "the proxy to see every client leave")
    finally:
        samples = metrics(proxy)
        rss_end = proxy_testing.rss_kib(proxy.pid)
        summary = _summary(seed, clients, chaos, record, samples, rss_start, rss_end)
        with capsys.disabled():
            print("\n" + summary)
    kills, freezes = sum(chaos.kills), sum(chaos.freezes)
    server_errors = {
        (s, kind): metric(samples, "ringproxy_server_errors_total", server="s%d" % s, kind=kind)
        for s in range(SHARDS) for kind in ("eof", "error", "timeout", "connect_failure")}
    forward_errors = metric(samples, "ringproxy_forward_errors_total")

    assert not chaos.problem, chaos.problem
    problems = {c.label: c.problem for c in clients if c.problem}
    assert not problems, problems
    assert not record.violations, (record.violations, record.samples[:5])
    assert kills + freezes >= 2, "too short a soak to have faults: %s" % chaos.events
    # The proxy's counters agree with what the clients saw.
    assert metric(samples, "ringproxy_requests_total") == record.commands
    assert forward_errors >= sum(record.errors.values())
    assert metric(samples, "ringproxy_in_flight_requests") == 0
    assert metric(samples, "ringproxy_server_in_queue_requests") == 0
    assert metric(samples, "ringproxy_server_out_queue_requests") == 0
    for s in range(SHARDS):
        lost = sum(server_errors[(s, kind)] for kind in ("eof", "error", "timeout",
                                                          "connect_failure"))
        if chaos.kills[s] + chaos.freezes[s] == 0:
            assert lost == 0, "s%d was never disturbed but lost connections" % s
        if chaos.freezes[s] == 0:
            assert server_errors[(s, "timeout")] == 0, "timeouts on s%d, never frozen" % s
    if kills:
        assert forward_errors > 0
        assert sum(server_errors[(s, "connect_failure")] for s in range(SHARDS)) > 0
    if freezes:
        assert sum(server_errors[(s, "timeout")] for s in range(SHARDS)) > 0
        assert record.errors.get("ERR Connection timed out", 0) > 0
    if proxy_testing.rss_bounds_apply():
        assert rss_end - rss_start < RSS_GROWTH_BOUND_KIB, (rss_start, rss_end)
