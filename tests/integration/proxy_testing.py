"""Helpers shared by the test_proxy_*.py files: a sharded ringproxy over real backends, where
placement_tool says each key lives, a raw RESP socket for byte-exact replies, and RSS readings.
"""

import os
import socket
import subprocess
import time
import warnings

from prometheus_client.parser import text_string_to_metric_families

import harness

RAW_TIMEOUT = 10.0  # seconds any single raw-socket read may wait


def placement_tool_path():
    path = os.environ.get("PLACEMENT_TOOL") or os.path.join(
        harness.build_dir(), "tests", "integration", "placement_tool")
    if not os.access(path, os.X_OK):
        raise harness.HarnessError("placement_tool not built at %s (ninja placement_tool)" % path)
    return path


def place(config_path, keys, pool_index=0):
    """The hashing name placement_tool gives each of `keys` (bytes or str) in that pool."""
    keys = [k.encode() if isinstance(k, str) else k for k in keys]
    stdin = "".join(k.hex() + "\n" for k in keys).encode("ascii")
    result = subprocess.run([placement_tool_path(), "--config", config_path, "--pool",
                             str(pool_index)], input=stdin, capture_output=True, timeout=60,
                            check=False)
    if result.returncode != 0:
        raise harness.HarnessError("placement_tool failed (%d): %s" % (
            result.returncode, result.stderr.decode("utf-8", "replace")))
    names = result.stdout.decode("utf-8").split("\n")
    if names[-1] != "" or len(names) != len(keys) + 1:
        raise harness.HarnessError("placement_tool printed %d lines for %d keys" %
                                   (len(names) - 1, len(keys)))
    return names[:-1]


def rss_kib(pid):
    """VmRSS of `pid` in KiB, from /proc/PID/status."""
    return harness.rss_bytes(pid) // 1024


def parse_metrics(text):
    """{(sample name, frozenset of labels): value} from Prometheus text."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def metrics(proxy):
    """The samples of the proxy's /metrics (always current), as parse_metrics() gives them; read
    single values with metric()."""
    response = harness.http_get(proxy.stats_port, "/metrics", timeout=10)
    if response.status != 200:
        raise harness.HarnessError("/metrics answered %d: %s" % (response.status,
                                                                 response.body[:200]))
    return parse_metrics(response.body)


def metric(samples, name, **labels):
    """The sum of `name` over the series whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def config_reloads(proxy):
    """(reloads applied, reloads rejected) as the proxy counts them."""
    samples = metrics(proxy)
    return (metric(samples, "ringproxy_config_reloads_total", kind="ok"),
            metric(samples, "ringproxy_config_reloads_total", kind="rejected"))


def rss_bounds_apply():
    """Whether the proxy's RSS says how much memory it holds. Not under ASan (freed memory waits
    in a quarantine, every allocation maps shadow memory) nor TSan (shadow memory several times
    the heap): a test then still runs and asserts everything else, and warns that its RSS bound
    went unchecked."""
    distorting = harness.sanitizers() & {"address", "thread", "memory"}
    if distorting:
        warnings.warn("RSS bound not asserted: ringproxy is built with %s, whose shadow memory "
                      "and quarantine make its RSS meaningless" % ",".join(sorted(distorting)))
    return not distorting


def _candidate_keys(prefix, count):
    # The counter goes first: nutcracker's fnv1a_64 keeps keys that differ only in their last
    # bytes close together on the ring, often on one server.
    return ["%d:%s" % (i, prefix) for i in range(count)]


class ShardedProxy:
    """A ringproxy pool over `backends`, each named s0, s1, ... (the hashing names), so that
    placement_tool's answer names the backend directly."""

    def __init__(self, group, backends, workers=2, verbosity=None, **pool_options):
        self.backends = list(backends)
        options = {"redis": True, "hash": "fnv1a_64", "distribution": "ketama",
                   "hash_tag": "{}", "timeout": 5000}
        options.update(pool_options)
        options = {k: v for k, v in options.items() if v is not None}  # None: leave it out
        options["servers"] = ["%s:1 s%d" % (b.address, i) for i, b in enumerate(self.backends)]
        self.pool_options = options
        self.proxy = group.ringproxy(pools={"shards": options}, workers=workers,
                                     verbosity=verbosity)
        self.by_name = {"s%d" % i: b for i, b in enumerate(self.backends)}

    @property
    def port(self):
        return self.proxy.port

    def client(self, **kwargs):
        return self.proxy.client(**kwargs)

    def owners(self, keys):
        """{key: backend} as placement_tool places them."""
        names = place(self.proxy.config_path, keys)
        return {k: self.by_name[n] for k, n in zip(keys, names)}

    def owner(self, key):
        return self.owners([key])[key]

    def keys_on_distinct_shards(self, count, prefix="k"):
        """`count` keys (str) placed on `count` different backends."""
        candidates = _candidate_keys(prefix, 200)
        chosen = {}
        for key, backend in self.owners(candidates).items():
            chosen.setdefault(backend.port, key)
            if len(chosen) == count:
                return list(chosen.values())
        raise harness.HarnessError("could not find keys on %d distinct shards" % count)

    def keys_per_backend(self, count, prefix="k"):
        """{backend port: `count` keys (str) placed on that backend}, for every backend."""
        candidates = _candidate_keys(prefix, 100 * count * len(self.backends))
        found = {b.port: [] for b in self.backends}
        for key, backend in self.owners(candidates).items():
            if len(found[backend.port]) < count:
                found[backend.port].append(key)
        if any(len(keys) < count for keys in found.values()):
            raise harness.HarnessError("some backend got fewer than %d keys" % count)
        return found

    def flush_backends(self):
        for b in self.backends:
            b.client().flushall()


def encode(*args):
    """A RESP array of bulk strings for `args` (str, bytes or int)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


# RESP2 and RESP3 reply types by how their length is given: a line (simple string, error,
# integer, null, boolean, double, big number), a length then bytes (bulk string, blob error,
# verbatim string), or a count of elements (array, set, push; a map counts pairs).
LINE_TYPES = (b"+", b"-", b":", b"_", b"#", b",", b"(")
BULK_TYPES = (b"$", b"!", b"=")
AGGREGATE_WIDTH = {b"*": 1, b"~": 1, b">": 1, b"%": 2}


class ReplyError(Exception):
    """An error reply read by RawConnection.reply()."""


class RawConnection:
    """A plain TCP connection that sends bytes and reads RESP replies as their exact bytes."""

    def __init__(self, port, host="127.0.0.1", timeout=RAW_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def command(self, *args):
        """Sends one command; returns its reply's raw bytes."""
        self.send(encode(*args))
        return self.reply_bytes()

    def pipeline(self, commands):
        """Sends every command (lists of arguments) in one write; returns their replies' raw
        bytes, in order."""
        self.send(b"".join(encode(*cmd) for cmd in commands))
        return [self.reply_bytes() for _ in commands]

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed by peer; unread: %r" % self.buf[:200])
        self.buf += chunk

    def _line(self, pos):
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end >= 0:
                return end
            self._fill()

    def _skip_reply(self, pos):
        """Position just after the reply starting at `pos` (reading as needed), RESP2 or RESP3.
        Iterative, so a reply nested thousands deep (a Lua table) is read like any other. An
        attribute (`|`) is read with the reply it is attached to; a push (`>`) is a reply of its
        own."""
        pending = [1]  # elements still to read, per open aggregate
        while pending:
            while len(self.buf) <= pos:
                self._fill()
            end = self._line(pos)
            kind = self.buf[pos:pos + 1]
            if kind in LINE_TYPES:
                pos = end + 2
            else:
                length = int(self.buf[pos + 1:end])
                pos = end + 2
                if kind in BULK_TYPES:
                    if length >= 0:
                        pos += length + 2
                    while len(self.buf) < pos:
                        self._fill()
                elif kind in AGGREGATE_WIDTH:
                    if length > 0:
                        pending.append(length * AGGREGATE_WIDTH[kind])
                        continue
                elif kind == b"|":
                    # Its pairs, then the reply it describes, which counts as one element.
                    pending.append(2 * length + 1)
                    continue
                else:
                    raise ValueError("not a RESP reply: %r" % self.buf[pos:pos + 50])
            pending[-1] -= 1
            while pending and pending[-1] == 0:
                pending.pop()
                if pending:
                    pending[-1] -= 1
        return pos

    def reply_bytes(self):
        """The raw bytes of the next reply."""
        stop = self._skip_reply(0)
        data, self.buf = self.buf[:stop], self.buf[stop:]
        return data

    def read_until_closed(self, timeout=RAW_TIMEOUT):
        """Everything the peer sends until it closes; raises TimeoutError if it stays open."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("peer kept the connection open; got %r" % self.buf[:200])
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout as exc:
                raise TimeoutError("peer kept the connection open; got %r" %
                                   self.buf[:200]) from exc
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                data, self.buf = self.buf, b""
                self.sock.settimeout(self.timeout)
                return data
            self.buf += chunk


def parse(data):
    """Python value of one RESP reply's raw bytes: bytes, int, list, None, or ReplyError; RESP3
    adds bool (`#`), float (`,`), dict (`%`, or a list of pairs when a key is a list), a set's
    and a push's elements as a list, and a verbatim string's text without its format. An
    attribute is dropped, its reply kept."""
    value, pos = _parse(data, 0)
    if pos != len(data):
        raise ValueError("trailing bytes after reply: %r" % data[pos:pos + 50])
    return value


def _parse(data, pos):
    end = data.index(b"\r\n", pos)
    kind, line = data[pos:pos + 1], data[pos + 1:end]
    if kind == b"+":
        return line, end + 2
    if kind == b"-":
        return ReplyError(line.decode("utf-8", "replace")), end + 2
    if kind in (b":", b"("):
        return int(line), end + 2
    if kind == b"_":
        return None, end + 2
    if kind == b"#":
        return line == b"t", end + 2
    if kind == b",":
        return float(line), end + 2
    length = int(line)
    if kind in BULK_TYPES:
        if length < 0:
            return None, end + 2
        body = data[end + 2:end + 2 + length]
        if kind == b"!":
            body = ReplyError(body.decode("utf-8", "replace"))
        elif kind == b"=":
            body = body[4:]  # "txt:" or "mkd:"
        return body, end + 2 + length + 2
    if kind in AGGREGATE_WIDTH or kind == b"|":
        if length < 0:
            return None, end + 2
        count = length * (1 if kind in (b"*", b"~", b">") else 2)
        items, pos = [], end + 2
        for _ in range(count):
            item, pos = _parse(data, pos)
            items.append(item)
        if kind == b"|":
            return _parse(data, pos)
        if kind == b"%":
            pairs = list(zip(items[::2], items[1::2]))
            try:
                return dict(pairs), pos
            except TypeError:  # a key that is itself a list: keep the pairs
                return pairs, pos
        return items, pos
    raise ValueError("not a RESP reply: %r" % data[pos:pos + 50])
