"""RESP3 reply types no command of redis-server 7.0 sends through the proxy, on the wire between
a real shard and the proxy: an attribute before a reply, a push message before a reply, a blob
error in place of one. Redis sends attributes only for DEBUG PROTOCOL, pushes only to pub/sub
and tracking clients, which the proxy refuses, and no blob error at all: so a relay in front of
each real redis-server puts them there (the one fake of these tests, for a seam no real part
reaches). The relay forwards each request to its redis-server and writes the reply back; on a
connection that said HELLO 3, a GET of a key named attr:..., push:... or blob:... gets the extra
frame. An attribute must reach the client attached to its reply, byte for byte; a push must
never be taken for a reply; a blob error is a reply like any other.

RINGPROXY_RESP3_TARGET=redis puts the client on the relay itself, in front of one redis-server:
the replies a client of Redis would get.
"""

import socket
import threading

import pytest

import harness
import proxy_testing
import resp3_testing as r3
from proxy_testing import RawConnection

ATTRIBUTE = b"|1\r\n+ttl\r\n:3600\r\n"
PUSH = b">3\r\n$7\r\nmessage\r\n$5\r\nrelay\r\n$13\r\npushed-before\r\n"
BLOB_TEXT = b"ERR blob error\r\nsecond line"
BLOB_ERROR = b"!%d\r\n%s\r\n" % (len(BLOB_TEXT), BLOB_TEXT)


class Relay:
    """A listener on 127.0.0.1 that forwards every connection to `backend` (a RedisServer),
    one request and one reply at a time, adding the frames above on connections that said
    HELLO 3."""

    def __init__(self, backend):
        self.backend = backend
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.closed = False
        self.injected = 0
        self.sockets = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.sockets.append(conn)
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    @staticmethod
    def _request(conn, buf):
        """(request argv, rest of buf) for the next RESP array from `conn`; None at EOF."""
        while True:
            parsed = _parse_request(buf)
            if parsed is not None:
                return parsed
            chunk = conn.recv(1 << 16)
            if not chunk:
                return None
            buf += chunk

    def _relay(self, conn):
        try:
            upstream = RawConnection(self.backend.port)
        except OSError:
            conn.close()
            return
        resp3 = False
        buf = b""
        try:
            while not self.closed:
                got = self._request(conn, buf)
                if got is None:
                    return
                argv, buf = got
                upstream.send(proxy_testing.encode(*argv))
                reply = upstream.reply_bytes()
                name = argv[0].upper()
                if name == b"HELLO" and len(argv) > 1 and not reply.startswith(b"-"):
                    resp3 = argv[1] == b"3"
                key = argv[1] if len(argv) > 1 else b""
                if resp3 and key.startswith(b"push:") and name != b"HELLO":
                    reply = PUSH + reply  # before any reply: a GET's, an MGET fragment's
                    self.injected += 1
                elif resp3 and name == b"GET" and len(argv) == 2:
                    if key.startswith(b"attr:"):
                        reply = ATTRIBUTE + reply
                        self.injected += 1
                    elif key.startswith(b"blob:"):
                        reply = BLOB_ERROR
                        self.injected += 1
                conn.sendall(reply)
        except (OSError, ConnectionError):
            return
        finally:
            upstream.close()
            conn.close()

    def close(self):
        self.closed = True
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.thread.join(harness.STOP_TIMEOUT)


def _parse_request(buf):
    """(argv as bytes, rest) for a complete RESP array of bulk strings at the start of buf, or
    None when it is not complete yet."""
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    assert buf[:1] == b"*", buf[:50]
    count, pos, argv = int(buf[1:end]), end + 2, []
    for _ in range(count):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        length = int(buf[pos + 1:end])
        if len(buf) < end + 2 + length + 2:
            return None
        argv.append(buf[end + 2:end + 2 + length])
        pos = end + 2 + length + 2
    return argv, buf[pos:]


class Setup:
    def __init__(self, group):
        if r3.DIRECT:
            self.backends = [group.redis()]
            self.relays = [Relay(self.backends[0])]
            self.port = self.relays[0].port
            self.sharded = None
        else:
            self.backends = group.redis_many(r3.SHARDS)
            self.relays = [Relay(b) for b in self.backends]
            self.sharded = proxy_testing.ShardedProxy(group, self.relays, workers=2)
            self.port = self.sharded.port

    def keys(self, prefix, per_shard=2):
        """Keys named prefix{...} over every shard (the hash tag places them)."""
        if r3.DIRECT:
            base = ["%d:frame" % i for i in range(per_shard * r3.SHARDS)]
        else:
            found = self.sharded.keys_per_backend(per_shard, prefix="frame")
            base = [k for relay in self.relays for k in found[relay.port]]
        keys = ["%s{%s}" % (prefix, b) for b in base]
        if not r3.DIRECT:
            assert len({r.port for r in self.sharded.owners(keys).values()}) == len(self.relays)
        return keys

    def backend_of(self, key):
        if r3.DIRECT:
            return self.backends[0]
        return self.sharded.owner(key).backend

    def close(self):
        for relay in self.relays:
            relay.close()


@pytest.fixture(scope="module")
def setup(module_processes):
    s = Setup(module_processes)
    yield s
    s.close()


@pytest.fixture
def env(setup):
    for b in setup.backends:
        b.client().flushall()
    return setup


def _seed(env, keys):
    for k in keys:
        env.backend_of(k).client().set(k, "value of " + k)


def _frames(conn, count):
    """`count` replies read from `conn`, with the push frames that came between them apart:
    (replies, pushes)."""
    replies, pushes = [], []
    while len(replies) < count:
        frame = conn.reply_bytes()
        (pushes if frame.startswith(b">") else replies).append(frame)
    return replies, pushes


def _bulk(text):
    return b"$%d\r\n%s\r\n" % (len(text), text.encode())


def test_an_attribute_reaches_a_resp3_client_attached_to_its_reply(env):
    keys = env.keys("attr:", per_shard=3)
    plain = env.keys("plain:", per_shard=1)
    _seed(env, keys + plain)
    before = sum(r.injected for r in env.relays)
    with RawConnection(env.port) as conn:
        r3.hello(conn, 3)
        commands = []
        for k, p in zip(keys, plain * 3):
            commands += [["GET", k], ["GET", p], ["GET", k + "missing"]]
        for _ in range(10):
            replies = conn.pipeline(commands)
            want = []
            for k, p in zip(keys, plain * 3):
                want += [ATTRIBUTE + _bulk("value of " + k), _bulk("value of " + p),
                         ATTRIBUTE + b"_\r\n"]
            assert replies == want
        assert conn.command("GET", plain[0]) == _bulk("value of " + plain[0])
    assert sum(r.injected for r in env.relays) - before == 10 * 2 * len(keys)


def test_a_push_from_a_server_is_never_taken_for_a_reply(env):
    keys = env.keys("push:", per_shard=3)
    plain = env.keys("plain:", per_shard=1)
    _seed(env, keys + plain)
    before = sum(r.injected for r in env.relays)
    with RawConnection(env.port) as conn, RawConnection(env.port) as other:
        r3.hello(conn, 3)
        r3.hello(other, 3)
        commands = []
        want = []
        for k, p in zip(keys, plain * 3):
            commands += [["GET", k], ["MGET", k, p], ["GET", p]]
            want += [_bulk("value of " + k),
                     b"*2\r\n%s%s" % (_bulk("value of " + k), _bulk("value of " + p)),
                     _bulk("value of " + p)]
        for _ in range(10):
            conn.send(b"".join(proxy_testing.encode(*c) for c in commands))
            other.send(proxy_testing.encode("GET", plain[0]))
            replies, pushes = _frames(conn, len(commands))
            assert replies == want
            # Whether a push is passed on is the proxy's choice; if it is, it comes whole.
            assert all(p == PUSH for p in pushes), pushes[:3]
            other_replies, other_pushes = _frames(other, 1)
            assert other_replies == [_bulk("value of " + plain[0])]
            assert all(p == PUSH for p in other_pushes), other_pushes[:3]
        assert conn.command("PING") == b"+PONG\r\n"
    # A push went out before every GET's reply (and the MGET fragments' that name a push: key
    # first).
    assert sum(r.injected for r in env.relays) - before >= 10 * len(keys)


def test_a_blob_error_is_a_reply_like_any_other(env):
    keys = env.keys("blob:", per_shard=1)
    plain = env.keys("plain:", per_shard=1)
    _seed(env, keys + plain)
    before = sum(r.injected for r in env.relays)
    with RawConnection(env.port) as conn:
        r3.hello(conn, 3)
        commands = [c for k, p in zip(keys, plain) for c in (["GET", k], ["GET", p])] * 20
        replies = conn.pipeline(commands)
        want = [r for p in plain for r in (BLOB_ERROR, _bulk("value of " + p))] * 20
        assert replies == want
        assert conn.command("HGETALL", plain[0] + "missing") == b"%0\r\n"
    assert sum(r.injected for r in env.relays) - before == 20 * len(keys)


def test_a_resp2_client_never_sees_a_resp3_frame(env):
    """The relay adds frames only on connections that said HELLO 3: a RESP2 client's requests,
    on RESP2 server connections, get plain RESP2 replies while RESP3 clients get the frames."""
    keys = env.keys("attr:", per_shard=1) + env.keys("push:", per_shard=1)
    _seed(env, keys)
    with RawConnection(env.port) as two, RawConnection(env.port) as three:
        r3.hello(three, 3)
        for _ in range(20):
            assert two.pipeline([["GET", k] for k in keys]) == [
                _bulk("value of " + k) for k in keys]
            three.send(b"".join(proxy_testing.encode("GET", k) for k in keys))
            replies, _ = _frames(three, len(keys))
            assert replies[0].startswith(ATTRIBUTE), replies[0]
