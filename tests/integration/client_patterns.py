"""Helpers for the client-pattern tests (test_clients_*.py): the patterns applications run every
day (transactions, WATCH loops, scripts by SHA, stream consumer groups, big pipelines and
replies, half-close), each run by real clients at their default options: redis-py (Debian's) in
this process, ioredis 5 and 6 and node-redis 4, 5 and 6 through
tests/clients/client_patterns.mjs.
The RESP3 clients (node-redis 6 and ioredis 6 at their defaults, node-redis 5 with RESP: 3) run
through the proxy like the others; RINGPROXY_PATTERNS_RESP3=0 leaves them out there.

The target is ringproxy over four real redis-server shards. RINGPROXY_PATTERNS_TARGET=redis
runs the same tests against one plain redis-server instead: that is how the tests themselves are
checked, since Redis defines what each pattern must do. Tests that only make sense with shards
(a transaction across shards) are skipped there.

Where a pattern must have applied nothing (a refused transaction), that is checked on the
backends directly: their keys and their command counters.
"""

import json
import os
import shutil
import subprocess
import threading
import time

import pytest
import redis

import harness
import proxy_testing

TARGET = os.environ.get("RINGPROXY_PATTERNS_TARGET", "ringproxy")
if TARGET not in ("ringproxy", "redis"):
    raise harness.HarnessError("RINGPROXY_PATTERNS_TARGET must be ringproxy or redis, not %r" %
                               TARGET)
DIRECT = TARGET == "redis"
SHARDS = 4

CLIENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "clients")
NODE_SCRIPT = os.path.join(CLIENTS_DIR, "client_patterns.mjs")

# Whether RESP3 clients run against ringproxy (by default they do; 0 leaves them out while
# working on something else). Against a plain redis-server they always run.
RESP3_THROUGH_PROXY = os.environ.get("RINGPROXY_PATTERNS_RESP3", "1") == "1"


class Client:
    """One client library at default options. `resp` is node-redis's RESP option or ioredis 6's
    protocol option (None: the library's default); `resp3` says whether the connection speaks
    RESP3 then."""

    def __init__(self, name, resp=None, resp3=False):
        self.name = name
        self.resp = resp
        self.resp3 = resp3

    @property
    def id(self):
        if self.name in ("redis-py", "ioredis", "redis4"):
            return self.name
        return "%s-%s" % (self.name, "default" if self.resp is None else "resp%d" % self.resp)

    @property
    def is_node(self):
        return self.name != "redis-py"

    def __repr__(self):
        return self.id


REDIS_PY = Client("redis-py")
# RESP2: ioredis 5 and node-redis 4 (RESP2 only), node-redis 5 and 6 told RESP: 2.
NODE_CLIENTS = [Client("ioredis"), Client("redis4"), Client("redis5", resp=2),
                Client("redis6", resp=2)]
# RESP3: node-redis 5 with RESP: 3, and node-redis 6 and ioredis 6 with no options at all (both
# default to RESP3; ioredis 6 falls back to RESP2 when HELLO 3 is refused, which
# test_clients_resp3.py catches).
RESP3_CLIENTS = [Client("redis5", resp=3, resp3=True), Client("redis6", resp=None, resp3=True),
                 Client("ioredis6", resp=None, resp3=True)]


def param(client):
    """The pytest parameter of one client (a RESP3 one skipped through ringproxy when
    RINGPROXY_PATTERNS_RESP3=0)."""
    if not client.resp3:
        return pytest.param(client, id=client.id)
    skip_resp3 = pytest.mark.skipif(
        not DIRECT and not RESP3_THROUGH_PROXY,
        reason="RINGPROXY_PATTERNS_RESP3=0 leaves the RESP3 clients out through the proxy")
    return pytest.param(client, id=client.id, marks=skip_resp3)


def client_params(with_redis_py=True, node=True):
    """pytest parameters: redis-py, the RESP2 node clients, and the RESP3 ones."""
    params = [param(REDIS_PY)] if with_redis_py else []
    if node:
        params += [param(c) for c in NODE_CLIENTS + RESP3_CLIENTS]
    return params


def node_modules():
    path = os.environ.get("RINGPROXY_CLIENTS_NODE_MODULES") or os.path.join(
        harness.build_dir(), "tests", "clients", "npm", "node_modules")
    if not os.path.isdir(path):
        raise harness.HarnessError(
            "the node clients are not installed at %s: ctest runs clients.node_modules first, or "
            "run tests/clients/install_node_modules.sh DIR and export "
            "RINGPROXY_CLIENTS_NODE_MODULES=DIR/node_modules" % path)
    return path


def pattern_value(key, size):
    """`size` bytes that name `key` first: a reply given to the wrong request is caught. The
    same bytes as patternValue() in client_patterns.mjs."""
    head = ("<%s>" % key).encode()
    return head + b"x" * max(0, size - len(head))


class PatternTarget:
    """Where the clients connect (`port`), and the redis-servers that hold the data
    (`backends`): ringproxy over SHARDS shards, or one redis-server (RINGPROXY_PATTERNS_TARGET).
    """

    def __init__(self, group, redis_args=(), **pool_options):
        self.group = group
        if DIRECT:
            self.backends = [group.redis(extra_args=redis_args)]
            self.sharded = None
            self.process = self.backends[0]
        else:
            self.backends = group.redis_many(SHARDS, extra_args=redis_args)
            self.sharded = proxy_testing.ShardedProxy(group, self.backends, workers=2,
                                                      **pool_options)
            self.process = self.sharded.proxy
        self.port = self.backends[0].port if DIRECT else self.sharded.port

    @property
    def name(self):
        return TARGET

    @property
    def pid(self):
        """The process that relays the traffic (ringproxy), or the redis-server itself."""
        return self.process.pid

    @property
    def log_path(self):
        return self.process.log_path

    def client(self, **kwargs):
        """A redis-py client of the target, default options but bounded waits."""
        kwargs.setdefault("socket_timeout", 30.0)
        kwargs.setdefault("socket_connect_timeout", 5.0)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def owners(self, keys):
        """{key: the backend that holds it}."""
        if DIRECT:
            return {k: self.backends[0] for k in keys}
        return self.sharded.owners(keys)

    def owner(self, key):
        return self.owners([key])[key]

    def keys_on_every_shard(self, prefix):
        """One key (str) per backend, in backend order."""
        if DIRECT:
            return ["0:%s" % prefix]
        per_backend = self.sharded.keys_per_backend(1, prefix=prefix)
        return [per_backend[b.port][0] for b in self.backends]

    def keys_on_distinct_shards(self, count, prefix):
        """`count` keys (str) on `count` different shards (ringproxy only)."""
        if DIRECT:
            raise harness.HarnessError("one redis-server has no shards: skip this test there")
        return self.sharded.keys_on_distinct_shards(count, prefix=prefix)

    def pinned_connections(self):
        """Server connections the proxy has pinned to clients now (its /metrics), or None for a
        plain redis-server."""
        if DIRECT:
            return None
        samples = proxy_testing.metrics(self.process)
        return proxy_testing.metric(samples, "ringproxy_server_pinned_connections")

    def wait_unpinned(self, timeout=10.0):
        """Polls until no server connection is pinned (a pin is released once the client's last
        request on it is answered, which may be just after the client read its reply); returns
        the count then, 0 unless the wait ran out."""
        deadline = time.monotonic() + timeout
        pinned = self.pinned_connections()
        while pinned and time.monotonic() < deadline:
            time.sleep(0.05)
            pinned = self.pinned_connections()
        return pinned

    def reset(self):
        """Empties every backend and zeroes its counters (INFO commandstats and errorstats)."""
        for b in self.backends:
            c = b.client()
            c.flushall()
            c.config_resetstat()

    def command_calls(self, backend, command):
        """How many times `backend` executed `command` (INFO commandstats)."""
        stats = backend.client().info("commandstats")
        return int(stats.get("cmdstat_%s" % command.lower(), {}).get("calls", 0))

    def error_count(self, backend, prefix):
        """How many error replies starting with `prefix` `backend` has sent (INFO errorstats)."""
        stats = backend.client().info("errorstats").get("errorstat_%s" % prefix, {})
        if isinstance(stats, str):  # redis-py leaves "count=1" (no comma) unsplit
            stats = dict([stats.split("=", 1)])
        return int(stats.get("count", 0))

    def rss_kib(self):
        return proxy_testing.rss_kib(self.pid)


def run_node(client, target, pattern, args, deadline=20.0):
    """Runs `pattern` with the node `client` against `target`; returns the JSON it printed.
    The script stops itself at `deadline` seconds (its result then says where it was stuck)."""
    node = shutil.which("node")
    if node is None:
        raise harness.HarnessError("node is not on PATH (the machine's Node.js)")
    spec = {"client": client.name, "resp": client.resp, "port": target.port,
            "pattern": pattern, "args": args, "deadline_ms": int(deadline * 1000)}
    result = subprocess.run([node, NODE_SCRIPT, node_modules(), json.dumps(spec)],
                            capture_output=True, text=True, timeout=deadline + 15, check=False)
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise AssertionError("%s %s printed nothing (exit %d): %s" % (
            client.id, pattern, result.returncode, result.stderr[-2000:]))
    out = json.loads(lines[-1])
    out["exit_status"] = result.returncode
    return out


def node_ok(out):
    """Asserts that a node run finished on its own; returns its result."""
    assert out["exit_status"] == 0, "node pattern failed: %s" % json.dumps(out)[:3000]
    return out


class RssSampler:
    """Samples a process's VmRSS every few milliseconds in a thread while a `with` block runs;
    `peak` and `before` are in KiB."""

    def __init__(self, pid, interval=0.02):
        self.pid = pid
        self.interval = interval
        self.before = proxy_testing.rss_kib(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, proxy_testing.rss_kib(self.pid))
            except (OSError, harness.HarnessError):
                return  # the process is gone: its failure is reported elsewhere

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
