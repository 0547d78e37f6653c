"""Clients that push the proxy: ten thousand connections at once, a client that trickles one
byte at a time, clients that pipeline without ever reading. The proxy must stay up, keep
serving everyone else, and keep its memory bounded.

The RSS figures are printed (run pytest with -s to see them).
"""

import os
import resource
import select
import selectors
import socket
import threading
import time

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, encode

CONNECTIONS = 10000
CONNECT_BATCH = 1000
IO_TIMEOUT = 60.0  # seconds for all connections to connect, or to get their replies


@pytest.fixture(scope="module")
def cluster(module_processes):
    # Ten thousand sockets here, and as many in the proxy, which inherits this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTIONS + 1000
    if hard < wanted:
        pytest.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, wanted))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        servers = module_processes.redis_many(2)
        sharded = proxy_testing.ShardedProxy(module_processes, servers, workers=2,
                                             backlog=2048, timeout=None)
        yield sharded
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def env(cluster):
    cluster.flush_backends()
    return cluster


def _rss(env):
    return proxy_testing.rss_kib(env.proxy.pid)


def _fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _open_many(port, count):
    """`count` connected non-blocking sockets, connected in batches (the accept backlog)."""
    socks = []
    sel = selectors.DefaultSelector()
    try:
        deadline = time.monotonic() + IO_TIMEOUT
        for start in range(0, count, CONNECT_BATCH):
            pending = set()
            for _ in range(min(CONNECT_BATCH, count - start)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                socks.append(s)
                s.connect_ex(("127.0.0.1", port))
                sel.register(s, selectors.EVENT_WRITE)
                pending.add(s)
            while pending:
                left = deadline - time.monotonic()
                assert left > 0, "%d connections still connecting" % len(pending)
                for key, _ in sel.select(left):
                    err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    assert err == 0, "connect failed: errno %d" % err
                    sel.unregister(key.fileobj)
                    pending.discard(key.fileobj)
    except BaseException:
        for s in socks:
            s.close()
        raise
    finally:
        sel.close()
    return socks


def _request_all(socks, requests):
    """Sends requests[i] on socks[i], then reads every reply; returns the replies' bytes."""
    sel = selectors.DefaultSelector()
    replies = {}
    try:
        for s, request in zip(socks, requests):
            s.setblocking(True)
            s.sendall(request)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, b"")
        deadline = time.monotonic() + IO_TIMEOUT
        while len(replies) < len(socks):
            left = deadline - time.monotonic()
            assert left > 0, "%d replies missing" % (len(socks) - len(replies))
            for key, _ in sel.select(left):
                chunk = key.fileobj.recv(65536)
                assert chunk, "the proxy closed a connection"
                data = key.data + chunk
                if data.endswith(b"\r\n"):
                    replies[key.fileobj] = data
                    sel.unregister(key.fileobj)
                else:
                    sel.modify(key.fileobj, selectors.EVENT_READ, data)
    finally:
        sel.close()
    return [replies[s] for s in socks]


def test_ten_thousand_concurrent_connections_each_get_their_reply(env):
    client = env.client()
    keys = env.keys_per_backend(50, prefix="many")
    all_keys = [k for ks in keys.values() for k in ks]
    client.mset({k: "value-of-%s" % k for k in all_keys})
    before = _rss(env)
    fds_before = _fd_count(env.proxy.pid)
    socks = _open_many(env.port, CONNECTIONS)
    try:
        requests = [encode("GET", all_keys[i % len(all_keys)]) for i in range(CONNECTIONS)]
        connected = _rss(env)
        replies = _request_all(socks, requests)
        with_open = _rss(env)
        for i, reply in enumerate(replies):
            want = ("value-of-%s" % all_keys[i % len(all_keys)]).encode()
            assert reply == b"$%d\r\n%s\r\n" % (len(want), want), (i, reply)
        assert env.proxy.running()
        with RawConnection(env.port) as extra:
            assert extra.command("PING") == b"+PONG\r\n"
    finally:
        for s in socks:
            s.close()
    # The proxy sees the closes asynchronously: wait until it holds no more sockets than before.
    harness.wait_until(lambda: _fd_count(env.proxy.pid) <= fds_before + 10, 20,
                       "the proxy to close its side of %d connections" % CONNECTIONS)
    after = _rss(env)
    print("\nringproxy VmRSS KiB: before %d, %d connected %d, after one GET each %d, "
          "after closing %d" % (before, CONNECTIONS, connected, with_open, after))
    if proxy_testing.rss_bounds_apply():
        # A connection that is idle again costs no buffer (architecture: about 1-2 KiB each).
        assert with_open - before < 100 * 1024, "%d KiB for %d connections" % (
            with_open - before, CONNECTIONS)
        assert after <= with_open + 8 * 1024
    assert client.get(all_keys[0]) == ("value-of-%s" % all_keys[0]).encode()


def test_a_slow_client_does_not_hold_up_others(env):
    """Four clients each trickle one command a byte every 50 ms (some share a worker with the
    fast client) and hold back its last byte until the fast client is done: the fast client
    completes its round trips while every slow client still has an incomplete command
    outstanding. Then the slow clients finish their commands and get their replies."""
    command = encode("SET", "slow", "trickled-value")
    rounds = 200
    slow_replies = []
    slow_errors = []
    started = threading.Barrier(5, timeout=IO_TIMEOUT)
    fast_done = threading.Event()
    outstanding = []  # per slow client: the proxy's reply, if any, before its last byte

    def trickle():
        try:
            with RawConnection(env.port) as conn:
                conn.send(command[:1])
                started.wait()
                for i in range(1, len(command) - 1):
                    conn.send(command[i:i + 1])
                    time.sleep(0.05)  # the pace is the point of this client, not a wait
                assert fast_done.wait(IO_TIMEOUT), "the fast client never finished"
                outstanding.append(select.select([conn.sock], [], [], 0)[0])
                conn.send(command[-1:])
                slow_replies.append(conn.reply_bytes())
        except Exception as exc:  # pylint: disable=broad-except
            slow_errors.append(exc)
            started.abort()

    before = _rss(env)
    threads = [threading.Thread(target=trickle) for _ in range(4)]
    for t in threads:
        t.start()
    done = 0
    try:
        started.wait()  # every slow client has a partial command in the proxy
        with RawConnection(env.port) as fast:
            for done in range(rounds):
                assert fast.command("SET", "fast", str(done)) == b"+OK\r\n"
                assert fast.command("GET", "fast") == b"$%d\r\n%d\r\n" % (len(str(done)), done)
    finally:
        fast_done.set()
        for t in threads:
            t.join(IO_TIMEOUT)
    assert not slow_errors, slow_errors
    assert done == rounds - 1
    assert outstanding == [[]] * 4, "a slow client got a reply before its command was complete"
    assert slow_replies == [b"+OK\r\n"] * 4
    assert env.client().get("slow") == b"trickled-value"
    after = _rss(env)
    print("\nringproxy VmRSS KiB around four trickling clients: before %d, after %d" % (
        before, after))
    assert after - before < 16 * 1024


def _flood_without_reading(port, request, give_up_after, stop=lambda: False):
    """Sends `request` over and over on one connection that never reads, until the proxy stops
    taking bytes (the send blocks for a second, or the proxy disconnects the client),
    `give_up_after` seconds pass or stop() says so. Returns the
    socket (still open), how many requests went out, and whether the proxy stopped taking
    them."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    batch = request * 1000
    pending = b""
    sent = 0
    blocked_since = None
    deadline = time.monotonic() + give_up_after
    while time.monotonic() < deadline and not stop():
        pending = pending or batch
        try:
            n = s.send(pending)
            pending = pending[n:]
            sent += n
            blocked_since = None
        except BlockingIOError:
            blocked_since = blocked_since or time.monotonic()
            if time.monotonic() - blocked_since > 1.0:
                return s, sent // len(request), True
            time.sleep(0.01)  # the socket is full; the proxy reads when it wants
        except (ConnectionResetError, BrokenPipeError):
            # Past the hard output limit the proxy disconnects the client (as Redis's
            # client-output-buffer-limit does): it certainly stopped taking bytes.
            return s, sent // len(request), True
    return s, sent // len(request), False


def _backend_idle(backend):
    """True once `backend` has answered everything it was sent: its command count is stable
    and no client has output waiting."""
    client = backend.client()
    first = client.info("stats")["total_commands_processed"]
    omem = sum(int(c.get("omem", 0)) for c in client.client_list())
    time.sleep(0.2)  # a sampling interval, not a synchronisation
    second = client.info("stats")["total_commands_processed"]
    return first + 2 == second and omem == 0  # (+2: our own INFO and CLIENT LIST)


def _processed(backend):
    return backend.client().info("stats")["total_commands_processed"]


def test_a_client_that_never_reads_is_paused_small_replies(env):
    env.client().set("small", "x" * 100)
    owner = env.owner("small")
    before = _rss(env)
    processed_before = _processed(owner)
    s, sent, paused = _flood_without_reading(env.port, encode("GET", "small"), 20)
    try:
        harness.wait_until(lambda: _backend_idle(owner), 20,
                           "the backend to have answered everything")
        peak = _rss(env)
        forwarded = _processed(owner) - processed_before
        with RawConnection(env.port) as other:
            assert other.command("SET", "small", "y") == b"+OK\r\n"
    finally:
        s.close()
    print("\nringproxy VmRSS KiB: before %d, with a client that never reads (100-byte "
          "replies, %d requests sent, %d forwarded) %d" % (before, sent, forwarded, peak))
    # The proxy stopped forwarding at the soft output limit, read on into the client's query
    # buffer (so a pipeline written before reading could complete), then stopped reading: what
    # it did not take still sits in socket buffers. Its memory is those two budgets (32 MiB of
    # replies, 64 MiB of requests) and their buffers' slack.
    assert paused, "the proxy kept reading for 20 s (%d requests)" % sent
    assert forwarded < sent - 10000, (sent, forwarded)
    if proxy_testing.rss_bounds_apply():
        assert peak - before < 160 * 1024


def test_a_client_that_never_reads_is_paused_big_replies(env):
    """64 KiB replies: what the proxy holds for the client must stay bounded in bytes, not only
    in requests (8192 pending requests of 64 KiB would be 512 MiB)."""
    env.client().set("big", "x" * 65536)
    rss_bounded = proxy_testing.rss_bounds_apply()
    before = _rss(env)
    bound = before + 256 * 1024
    peak = before

    def over():
        nonlocal peak
        peak = max(peak, _rss(env))
        return rss_bounded and peak > bound  # the verdict is clear: stop pushing

    s = None
    try:
        s, sent, _ = _flood_without_reading(env.port, encode("GET", "big"), 20, stop=over)
        harness.wait_until(lambda: over() or _backend_idle(env.owner("big")), 30,
                           "the backend to have answered everything")
        with RawConnection(env.port) as other:
            assert other.command("GET", "fast-lane") == b"$-1\r\n"
    finally:
        if s is not None:
            s.close()
    if rss_bounded:
        harness.wait_until(lambda: _rss(env) < before + 100 * 1024, 10,
                           "the proxy to free the stalled client's replies")
    print("\nringproxy VmRSS KiB: before %d, peak with a client that never reads (64 KiB "
          "replies, %d requests sent) %d, after it closed %d" % (before, sent, peak, _rss(env)))
    if rss_bounded:
        assert peak <= bound, "proxy RSS grew by %d KiB" % (peak - before)
