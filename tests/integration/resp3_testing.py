"""Helpers for the RESP3 tests (test_resp3_*.py): where they connect, a typed RESP3 reader and
writer for replies that must be compared byte for byte except where they name the server, and
HELLO on a raw connection.

The target is ringproxy over four real redis-server shards. RINGPROXY_RESP3_TARGET=redis runs
the same tests against one plain redis-server instead: that is how the tests themselves are
checked, since Redis defines every RESP3 reply. Each test compares the target with an oracle, a
separate plain redis-server given the same commands, so in that mode two redis-servers must
agree, which proves the comparison (and its exclusions) sound.
"""

import os

import harness
import proxy_testing
from proxy_testing import RawConnection

TARGET = os.environ.get("RINGPROXY_RESP3_TARGET", "ringproxy")
if TARGET not in ("ringproxy", "redis"):
    raise harness.HarnessError("RINGPROXY_RESP3_TARGET must be ringproxy or redis, not %r" %
                               TARGET)
DIRECT = TARGET == "redis"
SHARDS = 4


class Target:
    """Where the tests connect (`port`) and the redis-servers that hold the data (`backends`):
    ringproxy over SHARDS shards, or one redis-server (RINGPROXY_RESP3_TARGET=redis).
    `password` is the pool's redis_auth (the redis-server's requirepass in the direct mode)."""

    def __init__(self, group, password=None, redis_args=()):
        self.password = password
        if DIRECT:
            self.backends = [group.redis(extra_args=redis_args, password=password)]
            self.sharded = None
            self.port = self.backends[0].port
        else:
            self.backends = group.redis_many(SHARDS, extra_args=redis_args)
            self.sharded = proxy_testing.ShardedProxy(group, self.backends, workers=2,
                                                      redis_auth=password)
            self.port = self.sharded.port

    @property
    def name(self):
        return TARGET

    def owners(self, keys):
        """{key: the backend that holds it}."""
        if DIRECT:
            return {k: self.backends[0] for k in keys}
        return self.sharded.owners(keys)

    def owner(self, key):
        return self.owners([key])[key]

    def keys_on_distinct_shards(self, count, prefix):
        """`count` keys (str), each on a different shard (with one redis-server: distinct keys,
        so a test still runs, on one server)."""
        if DIRECT:
            return ["%d:%s" % (i, prefix) for i in range(count)]
        return self.sharded.keys_on_distinct_shards(count, prefix=prefix)

    def keys_per_backend(self, count, prefix):
        """`count` keys (str) per backend, all backends' keys in one list, backend by backend
        (with one redis-server: as many keys as SHARDS backends would have)."""
        if DIRECT:
            return ["%d:%s" % (i, prefix) for i in range(count * SHARDS)]
        found = self.sharded.keys_per_backend(count, prefix=prefix)
        return [k for b in self.backends for k in found[b.port]]

    def flush(self):
        """Empties every backend: keys, scripts and functions."""
        for b in self.backends:
            wipe(b)


def wipe(server):
    """FLUSHALL, SCRIPT FLUSH and FUNCTION FLUSH on one redis-server, directly."""
    c = server.client()
    c.flushall()
    c.script_flush()
    c.execute_command("FUNCTION", "FLUSH")


def hello(conn, version, *options, check=True):
    """Sends HELLO `version` `options` on a RawConnection; returns the reply's raw bytes, which
    must be the map of `version` (unless `check` is false)."""
    reply = conn.command("HELLO", version, *options)
    if check:
        want = b"%7\r\n" if int(version) == 3 else b"*14\r\n"
        assert reply.startswith(want), "HELLO %s was not accepted: %r" % (version, reply[:200])
    return reply


def connect(port, protocol, *hello_options):
    """A RawConnection to `port` that sent HELLO `protocol` (none for RESP2 without options).
    Returns (connection, the HELLO reply's bytes or None)."""
    conn = RawConnection(port)
    if protocol == 2 and not hello_options:
        return conn, None
    try:
        return conn, hello(conn, protocol, *hello_options, check=False)
    except Exception:
        conn.close()
        raise


# ---------------------------------------------------------------------------------------------
# A typed reply: what the bytes say, kept exactly, so that a reply can be taken apart, a field
# masked, and written back to the same bytes.

class Reply:
    """One RESP2/RESP3 reply. `kind` is its type byte (b"$", b"%", ...); a line or bulk type
    keeps its text in `data` (bytes, None for a RESP2 null); an aggregate keeps `items` (a map's
    keys and values alternating); an attribute keeps its pairs in `items` and the reply it is
    attached to in `attached`."""

    __slots__ = ("kind", "data", "items", "attached")

    def __init__(self, kind, data=None, items=None, attached=None):
        self.kind = kind
        self.data = data
        self.items = items
        self.attached = attached

    def encode(self):
        if self.kind in proxy_testing.LINE_TYPES:
            return self.kind + self.data + b"\r\n"
        if self.kind in proxy_testing.BULK_TYPES:
            if self.data is None:
                return self.kind + b"-1\r\n"
            return b"%s%d\r\n%s\r\n" % (self.kind, len(self.data), self.data)
        if self.items is None:
            return self.kind + b"-1\r\n"
        count = len(self.items) // 2 if self.kind in (b"%", b"|") else len(self.items)
        out = b"%s%d\r\n" % (self.kind, count) + b"".join(i.encode() for i in self.items)
        if self.kind == b"|":
            out += self.attached.encode()
        return out

    def map_pairs(self):
        """[(key Reply, value Reply)] of a map, or of a RESP2 array of alternating keys and
        values (HELLO 2's reply)."""
        return list(zip(self.items[::2], self.items[1::2]))

    def text(self):
        """The bytes of a line or bulk reply."""
        return self.data

    def __eq__(self, other):
        return isinstance(other, Reply) and self.encode() == other.encode()

    def __repr__(self):
        return "Reply(%r)" % self.encode()[:200]


def parse_reply(data):
    """A Reply for one reply's raw bytes (nothing may follow it)."""
    reply, pos = _parse(data, 0)
    if pos != len(data):
        raise ValueError("trailing bytes after reply: %r" % data[pos:pos + 50])
    return reply


def _parse(data, pos):
    end = data.index(b"\r\n", pos)
    kind, line = data[pos:pos + 1], data[pos + 1:end]
    if kind in proxy_testing.LINE_TYPES:
        return Reply(kind, line), end + 2
    length = int(line)
    if kind in proxy_testing.BULK_TYPES:
        if length < 0:
            return Reply(kind, None), end + 2
        return Reply(kind, data[end + 2:end + 2 + length]), end + 2 + length + 2
    if kind not in proxy_testing.AGGREGATE_WIDTH and kind != b"|":
        raise ValueError("not a RESP reply: %r" % data[pos:pos + 50])
    if length < 0:
        return Reply(kind, items=None), end + 2
    count = length * (2 if kind in (b"%", b"|") else 1)
    items, pos = [], end + 2
    for _ in range(count):
        item, pos = _parse(data, pos)
        items.append(item)
    if kind == b"|":
        attached, pos = _parse(data, pos)
        return Reply(kind, items=items, attached=attached), pos
    return Reply(kind, items=items), pos


def kinds(data):
    """Every type byte that occurs in one reply's raw bytes, nested ones included."""
    found = set()
    stack = [parse_reply(data)]
    while stack:
        r = stack.pop()
        found.add(r.kind)
        stack.extend(r.items or [])
        if r.attached is not None:
            stack.append(r.attached)
    return found


def hello_fields(data):
    """{field name (str): value Reply} of a HELLO reply (a RESP3 map or a RESP2 array), in
    order; asserts its shape."""
    reply = parse_reply(data)
    assert reply.kind in (b"%", b"*") and reply.items is not None, data
    assert len(reply.items) % 2 == 0, data
    return {k.text().decode(): v for k, v in reply.map_pairs()}


# ---------------------------------------------------------------------------------------------
# Fields that name the server that answers. Everything else is compared byte for byte; each of
# these keeps its type and its place and only its value is set aside (`MASK`), for the reason
# given.

MASK = b"<names the server>"

# HELLO's map: field -> (the type it must keep, why its value may differ).
HELLO_EXCLUDED = {
    "server": (b"$", "the software that answers: a proxy may name itself"),
    "version": (b"$", "that software's version: ringproxy presents the Redis version it "
                      "implements (7.0.0), a backend its own build (7.0.15)"),
    "id": (b":", "the connection's id, counted by whichever process holds the connection"),
}
# Whole replies whose value names the answering process or connection.
REPLY_EXCLUDED = {
    "CLIENT ID": "the connection's id, as HELLO's id",
    "INFO": "every field describes the answering process (version, pid, uptime, ports, memory, "
            "clients); its type, verbatim in RESP3 with format txt, is kept and compared",
}


def _masked_value(value):
    if value.kind in proxy_testing.LINE_TYPES:
        return Reply(value.kind, MASK)
    if value.kind in (b"$", b"="):
        if value.data is None:
            return value
        prefix = value.data[:4] if value.kind == b"=" else b""
        return Reply(value.kind, prefix + MASK)
    return value


def masked(command, data):
    """The reply's bytes with the fields that name the server (HELLO_EXCLUDED, REPLY_EXCLUDED)
    replaced by MASK, keeping their type; any other reply unchanged."""
    if data is None or not data or data[:1] in (b"-", b"!"):
        return data
    words = [a.decode("latin-1").upper() if isinstance(a, bytes) else str(a).upper()
             for a in command[:2]]
    name = words[0]
    if name == "HELLO":
        reply = parse_reply(data)
        if reply.kind not in (b"%", b"*") or reply.items is None:
            return data
        for i in range(0, len(reply.items) - 1, 2):
            key = reply.items[i].text()
            spec = HELLO_EXCLUDED.get(key.decode("latin-1") if key else "")
            if spec is not None and reply.items[i + 1].kind == spec[0]:
                reply.items[i + 1] = _masked_value(reply.items[i + 1])
        return reply.encode()
    if name == "INFO" or (name == "CLIENT" and len(words) > 1 and words[1] == "ID"):
        return _masked_value(parse_reply(data)).encode()
    return data


def replay(port, protocol, commands, hello_options=()):
    """Replies (raw bytes) to each command on one connection that first sent HELLO `protocol`
    (RESP3; nothing for RESP2), one command at a time; a connection the peer closes is recorded
    as None for that command and replaced by a new one. Returns (HELLO reply, replies)."""
    conn, greeting = connect(port, protocol, *hello_options)
    replies = []
    try:
        for cmd in commands:
            try:
                replies.append(conn.command(*cmd))
            except ConnectionError:
                replies.append(None)
                conn.close()
                conn, _ = connect(port, protocol, *hello_options)
    finally:
        conn.close()
    return greeting, replies


def diff(commands, want, got):
    """[(command, oracle's reply, target's reply)] where the masked replies differ."""
    return [(cmd, w, g) for cmd, w, g in zip(commands, want, got)
            if masked(cmd, w) != masked(cmd, g)]


def describe(diffs, total, limit=8):
    lines = ["%d of %d replies differ (command / redis-server / %s):" % (len(diffs), total,
                                                                          TARGET)]
    for cmd, w, g in diffs[:limit]:
        shown = [c if isinstance(c, (int, str)) else c[:40] for c in cmd[:6]]
        lines.append("  %r\n    want %r\n    got  %r" % (shown, (w or b"")[:300],
                                                         (g or b"")[:300]))
    return "\n".join(lines)


__all__ = ["Target", "Reply", "parse_reply", "hello_fields", "masked", "replay", "diff",
           "describe", "connect", "hello", "kinds", "wipe", "HELLO_EXCLUDED",
           "REPLY_EXCLUDED", "MASK", "DIRECT", "TARGET"]
