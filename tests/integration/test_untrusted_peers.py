"""What a hostile server, a flood toward a slow one, or a stranger before AUTH can cost the
proxy: no reply corrupts it, no byte toward a server is lost or given to the wrong client, and
memory stays bounded whatever is announced or queued.

A hostile server is a Python listener that answers every request with bytes chosen by the test;
the sink for the 4 GiB test is one that takes nothing until the proxy has queued past 4 GiB,
then reads everything and checks every request it was sent, byte for byte.
"""

import signal
import socket
import threading
import time

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, ShardedProxy, encode

MiB = 1 << 20


class FakeBackend:
    """A listener on 127.0.0.1 standing in for a shard: `respond(request_bytes)` gives the bytes
    to send back for what arrived (called per read); None closes the connection."""

    def __init__(self, respond):
        self.respond = respond
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.connections = []
        self.closed = False
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
            self.connections.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        conn.settimeout(0.2)
        while not self.closed:
            try:
                data = conn.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            reply = self.respond(data)
            if reply is None:
                conn.close()
                return
            try:
                conn.sendall(reply)
            except OSError:
                return

    def close(self):
        self.closed = True
        self.listener.close()
        for conn in self.connections:
            try:
                conn.close()
            except OSError:
                pass
        self.thread.join(harness.STOP_TIMEOUT)


@pytest.fixture
def hostile(processes):
    """Pool of a real redis-server (s0) and a backend answering with `hostile.reply` (s1)."""
    state = {"reply": b"+OK\r\n"}
    fake = FakeBackend(lambda data: state["reply"])
    real = processes.redis()
    sharded = ShardedProxy(processes, [real, fake], timeout=None)
    yield sharded, fake, state
    fake.close()


HOSTILE_REPLIES = [
    # A length that wraps an end offset: heap overflow before.
    (b"$9223372036854775803\r\n" + b"x" * 60000, "INT64_MAX - 4 bulk"),
    # An allocation no process can make: bad_alloc in every pool before.
    (b"$100000000000\r\n" + b"x" * 1000, "100 GB bulk"),
    (b"*9223372036854775807\r\n", "INT64_MAX array"),
    (b"$-7\r\n", "negative bulk length"),
    (b"*1\r\n" * 100000 + b":1\r\n", "100,000-deep array (valid)"),
    (b"+" + b"x" * (200 * 1024), "a status line that never ends"),
    (b":1\r\n:2\r\n", "two replies for one request"),
]


@pytest.mark.parametrize("reply,what", HOSTILE_REPLIES, ids=[w for _, w in HOSTILE_REPLIES])
def test_a_hostile_server_reply_fails_only_that_servers_requests(hostile, reply, what):
    sharded, fake, state = hostile
    placed = sharded.keys_per_backend(1, prefix="hostile")
    real_key, fake_key = placed[sharded.backends[0].port][0], placed[fake.port][0]
    state["reply"] = reply
    before = proxy_testing.rss_kib(sharded.proxy.pid)
    with RawConnection(sharded.port) as conn:
        conn.send(encode("SET", real_key, "before") + encode("GET", fake_key) +
                  encode("SET", real_key, "after"))
        first, answer, last = (conn.reply_bytes() for _ in range(3))
    assert first == b"+OK\r\n" and last == b"+OK\r\n", (first, last)
    if what.endswith("(valid)"):
        assert answer == reply, answer[:40]
    elif what == "two replies for one request":
        assert answer == b":1\r\n"  # the second is the one with no request: the connection goes
    else:
        assert answer.startswith(b"-ERR "), answer[:80]
    # The proxy is still there, the real shard untouched, and memory did not follow the lengths.
    assert sharded.proxy.running()
    assert sharded.backends[0].client().get(real_key) == b"after"
    with RawConnection(sharded.port) as conn:
        assert conn.command("GET", real_key) == b"$5\r\nafter\r\n"
    after = proxy_testing.rss_kib(sharded.proxy.pid)
    print("\n%s: reply %r, VmRSS KiB before %d after %d" % (what, answer[:48], before, after))
    if proxy_testing.rss_bounds_apply():
        assert after - before < 64 * 1024
    if not what.endswith("(valid)") and what != "two replies for one request":
        assert "closing the connection" in harness.log_tail(sharded.proxy.log_path, 20)


def test_requests_toward_a_paused_shard_are_bounded_per_client(processes):
    """One client pipelines 1000 SETs of 1 MiB to a shard frozen with SIGSTOP: the proxy takes
    what a client may have in flight (32 MiB of requests) and stops reading it; before, it took
    them all (1 GB)."""
    backend = processes.redis()
    sharded = ShardedProxy(processes, [backend], workers=1, timeout=None)
    value = b"v" * MiB
    before = proxy_testing.rss_kib(sharded.proxy.pid)
    backend.kill(signal.SIGSTOP)
    try:
        sock = socket.create_connection(("127.0.0.1", sharded.port))
        sock.setblocking(False)
        payload = b"".join(encode("SET", "big:%d" % i, value) for i in range(1000))
        sent = 0
        blocked_since = None
        while sent < len(payload):
            try:
                sent += sock.send(payload[sent:sent + 4 * MiB])
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                if time.monotonic() - blocked_since > 2.0:
                    break  # the proxy stopped reading
                time.sleep(0.01)
        peak = proxy_testing.rss_kib(sharded.proxy.pid)
    finally:
        backend.kill(signal.SIGCONT)
    print("\npaused shard: %d of %d MiB taken by the socket layers, proxy VmRSS KiB before %d "
          "peak %d" % (sent // MiB, len(payload) // MiB, before, peak))
    assert sent < len(payload), "the proxy read a whole gigabyte toward a paused shard"
    if proxy_testing.rss_bounds_apply():
        assert peak - before < 160 * 1024
    # After the thaw every SET is answered, in order.
    sock.setblocking(True)
    sock.settimeout(30)
    rest = payload[sent:]
    if rest:
        threading.Thread(target=sock.sendall, args=(rest,), daemon=True).start()
    got = b""
    while got.count(b"\r\n") < 1000:
        chunk = sock.recv(1 << 16)
        assert chunk, "the proxy closed the connection"
        got += chunk
    assert got == b"+OK\r\n" * 1000
    sock.close()


def test_strangers_before_auth_cannot_make_the_proxy_hold_memory(processes):
    """On a pool with a password: 200 connections that each announce a 512 MB argument and send
    one byte, and 4 that start sending 250 MB each, before authenticating."""
    backend = processes.redis()
    sharded = ShardedProxy(processes, [backend], workers=1, redis_auth="s3cret")
    pid = sharded.proxy.pid
    before = proxy_testing.rss_kib(pid)

    def vm_size_kib():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1])
        return 0

    vm_before = vm_size_kib()
    announcers = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", sharded.port))
        s.sendall(b"*1\r\n$536870000\r\nx")
        announcers.append(s)
    replies = set()
    for s in announcers:
        s.settimeout(10)
        replies.add(s.recv(200))
    floods = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", sharded.port))
        s.setblocking(False)
        floods.append(s)
    chunk = b"*2\r\n$3\r\nSET\r\n$250000000\r\n" + b"y" * MiB
    for s in floods:
        try:
            s.send(chunk)
        except OSError:
            pass
    peak = proxy_testing.rss_kib(pid)
    vm_peak = vm_size_kib()
    with RawConnection(sharded.port) as conn:
        assert conn.command("AUTH", "s3cret") == b"+OK\r\n"
        assert conn.command("SET", "k", "v") == b"+OK\r\n"
    for s in announcers + floods:
        s.close()
    print("\nbefore AUTH: replies %s; VmRSS KiB before %d peak %d; VmSize KiB before %d peak %d"
          % (replies, before, peak, vm_before, vm_peak))
    assert replies == {b"-ERR Protocol error: unauthenticated bulk length\r\n"}
    if proxy_testing.rss_bounds_apply():
        assert peak - before < 32 * 1024
        assert vm_peak - vm_before < 512 * 1024


class SlowSink:
    """A shard that takes nothing until told, then reads everything, checks each SET it was sent
    and answers +OK to each. Values are `value_size` bytes whose first 32 name their client and
    sequence number; every other byte is filler, so one lost or shifted byte shows."""

    def __init__(self, value_size):
        self.value_size = value_size
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.release = threading.Event()
        self.requests = 0
        self.bytes = 0
        self.errors = []
        self.per_client = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        self.conn = conn
        self.release.wait()
        buf = bytearray()
        header = None
        expected_tail = b"f" * 16
        while True:
            data = conn.recv(16 * MiB)
            if not data:
                return
            self.bytes += len(data)
            buf += data
            pos = 0
            replies = 0
            while True:
                if header is None:
                    # "*3\r\n$3\r\nSET\r\n$<klen>\r\n<key>\r\n$<vlen>\r\n": six line ends.
                    cut = pos - 2
                    for _ in range(6):
                        cut = buf.find(b"\r\n", cut + 2)
                        if cut < 0:
                            break
                    if cut < 0:
                        break
                    header = bytes(buf[pos:cut + 2])
                    pos = cut + 2
                    parts = header.split(b"\r\n")
                    if parts[0] != b"*3" or parts[2] != b"SET" or int(parts[5][1:]) != \
                            self.value_size:
                        self.errors.append("request %d: bad header %r" % (self.requests,
                                                                          header[:80]))
                        return
                    self.key = parts[4]
                if len(buf) - pos < self.value_size + 2:
                    break
                value = bytes(buf[pos:pos + 32])
                tail = bytes(buf[pos + self.value_size - 16:pos + self.value_size + 2])
                client, seq = self.key.split(b":")[1:3]
                if value != (b"client:%s:seq:%s" % (client, seq)).ljust(32, b"f") or \
                        tail != expected_tail + b"\r\n":
                    self.errors.append("request %d (%r): value %r tail %r" % (
                        self.requests, self.key, value, tail))
                    return
                last = self.per_client.get(client, -1)
                if int(seq) != last + 1:
                    self.errors.append("client %s: seq %s after %d" % (client, seq, last))
                    return
                self.per_client[client] = int(seq)
                pos += self.value_size + 2
                header = None
                self.requests += 1
                replies += 1
            del buf[:pos]
            if replies:
                conn.sendall(b"+OK\r\n" * replies)

    def close(self):
        self.release.set()
        self.listener.close()


@pytest.mark.skipif(bool(harness.sanitizers()), reason="4 GiB through a sanitized proxy is "
                    "minutes and several times the memory; the unsanitized build runs it")
def test_more_than_4_gib_queued_toward_one_server_arrives_whole_and_in_order(processes):
    """140 clients each pipeline 32 x 1 MiB SETs to a shard that takes nothing, until the proxy
    holds more than 4 GiB for it; then the shard reads everything. Before, the proxy's write
    length was cut to 32 bits: exactly 4 GiB went missing, and another client's SET was taken
    into the first one's value."""
    value_size = MiB
    clients, per_client = 140, 32
    sink = SlowSink(value_size)
    sharded = ShardedProxy(processes, [sink], workers=1, timeout=None)
    filler = b"f" * (value_size - 32)
    socks = []
    try:
        for c in range(clients):
            s = socket.create_connection(("127.0.0.1", sharded.port))
            socks.append(s)
        senders = []

        def send_all(c, s):
            for i in range(per_client):
                key = "k:%04d:%06d" % (c, i)
                value = ("client:%04d:seq:%06d" % (c, i)).encode().ljust(32, b"f") + filler
                s.sendall(encode("SET", key, value))

        for c, s in enumerate(socks):
            t = threading.Thread(target=send_all, args=(c, s), daemon=True)
            t.start()
            senders.append(t)
        total = clients * per_client * (value_size + 60)
        # Every request is with the proxy (or in the sockets before it) before the sink takes a
        # byte: what the proxy holds for the sink then goes out in writes of more than 4 GiB.
        deadline = time.monotonic() + 300
        for t in senders:
            t.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in senders), "the proxy stopped reading its clients"
        peak = proxy_testing.rss_kib(sharded.proxy.pid)
        assert peak > (4 << 20), "the proxy holds %d KiB, not the 4 GiB queued" % peak
        sink.release.set()
        for s in socks:
            s.settimeout(120)
            got = b""
            while len(got) < 5 * per_client:
                chunk = s.recv(1 << 16)
                assert chunk, "a client's connection closed early"
                got += chunk
            assert got == b"+OK\r\n" * per_client
        print("\nsink received %d requests, %d bytes (%.2f GiB); proxy peak VmRSS %d KiB" % (
            sink.requests, sink.bytes, sink.bytes / (1 << 30), peak))
        assert sink.errors == []
        assert sink.requests == clients * per_client
        assert sink.bytes > 4 << 30 and sink.bytes >= total - clients * per_client * 40
    finally:
        for s in socks:
            s.close()
        sink.close()
