"""Big pipelines and big replies, as clients at default options produce them: redis-py writes a
whole 100 MB pipeline before it reads a reply, node clients pipeline everything issued at once,
a 65 MiB value is read back, an MGET answers 100 MB from every shard. Each client reads at its
own speed and must get every reply. Only a client that never reads is cut, with a log line that
names it and the bytes it left unread, while the relaying process's memory stays bounded.

The RSS of the relaying process (ringproxy, or the redis-server itself with
RINGPROXY_PATTERNS_TARGET=redis) is printed for the 100 MB pipeline and the client that never
reads.
"""

import re
import socket
import time

import pytest

import client_patterns as cp
import harness
import proxy_testing

MiB = 1 << 20
# redis-py's default socket_timeout is None (wait forever); a stalled pattern fails after this.
CLIENT_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def setup(module_processes):
    return cp.PatternTarget(module_processes)


@pytest.fixture
def target(setup):
    setup.reset()
    return setup


def _check_pipeline_replies(replies, keys, size):
    assert len(replies) == 2 * len(keys)
    for i, key in enumerate(keys):
        assert replies[2 * i] is True, (key, replies[2 * i])
        got = replies[2 * i + 1]
        assert got == cp.pattern_value(key, size), (key, got[:80] if got else got)


def test_a_100_mb_pipeline_written_before_reading_gets_every_reply(target):
    """redis-py's pipeline(transaction=False) sends all 2,000 commands (50 MB) before reading
    the first of their 2,000 replies (another 50 MB)."""
    count, size = 1000, 50 * 1024
    keys = ["pipe:%d" % i for i in range(count)]
    r = target.client(socket_timeout=CLIENT_TIMEOUT)
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, cp.pattern_value(key, size))
        pipe.get(key)
    started = time.monotonic()
    try:
        with cp.RssSampler(target.pid) as rss:
            replies = pipe.execute()
    finally:
        print("\n%s VmRSS KiB during redis-py's 100 MB pipeline: before %d, peak %d (+%d); "
              "%.2f s" % (target.name, rss.before, rss.peak, rss.peak - rss.before,
                          time.monotonic() - started))
    _check_pipeline_replies(replies, keys, size)
    r.close()
    # Every key landed on its shard.
    owners = target.owners(keys[:50])
    for key in keys[:50]:
        assert owners[key].client().strlen(key) == size


@pytest.mark.parametrize("client", cp.client_params(with_redis_py=False))
def test_a_node_clients_big_pipeline_gets_every_reply(target, client):
    count, size = 1000, 50 * 1024
    prefix = "npipe:%s" % client.id
    with cp.RssSampler(target.pid) as rss:
        out = cp.run_node(client, target, "big_pipeline",
                          {"prefix": prefix, "count": count, "size": size}, deadline=25)
    print("\n%s VmRSS KiB during %s's 100 MB pipeline: before %d, peak %d (+%d)" % (
        target.name, client.id, rss.before, rss.peak, rss.peak - rss.before))
    cp.node_ok(out)
    assert out["replies"] == 2 * count, out
    assert out["mismatches"] == 0, out
    key = "%s:%d" % (prefix, count - 1)
    assert target.owner(key).client().get(key) == cp.pattern_value(key, size)


@pytest.mark.parametrize("client", [cp.param(c) for c in [cp.REDIS_PY] + cp.NODE_CLIENTS +
                                    cp.RESP3_CLIENTS if c.name in ("redis-py", "ioredis",
                                                                   "ioredis6", "redis6")])
def test_a_65_mib_value_is_set_and_read_back_whole(target, client):
    key, size = "big-value:%s" % client.id, 65 * MiB
    if client.is_node:
        out = cp.node_ok(cp.run_node(client, target, "big_value", {"key": key, "size": size},
                                     deadline=25))
        assert out == {"length": size, "equal": True, "client_errors": [], "exit_status": 0}
    else:
        r = target.client(socket_timeout=CLIENT_TIMEOUT)
        value = cp.pattern_value(key, size)
        assert r.set(key, value)
        assert r.get(key) == value
        r.close()
    assert target.owner(key).client().strlen(key) == size


def test_twelve_pipelined_10_mb_gets_reach_a_client_that_reads_at_full_speed(target):
    key, size = "ten-mb", 10 * MiB
    value = cp.pattern_value(key, size)
    target.owner(key).client().set(key, value)
    r = target.client(socket_timeout=CLIENT_TIMEOUT)
    pipe = r.pipeline(transaction=False)
    for _ in range(12):
        pipe.get(key)
    assert pipe.execute() == [value] * 12
    r.close()


def test_a_100_mb_mget_over_every_shard_returns_each_value(target):
    count, size = 100_000, 1024
    keys = ["mget:%d" % i for i in range(count)]
    by_backend = {}
    for key, backend in target.owners(keys).items():
        by_backend.setdefault(backend, []).append(key)
    assert len(by_backend) == len(target.backends), "some shard holds none of the keys"
    for backend, owned in by_backend.items():
        pipe = backend.client().pipeline(transaction=False)
        for start in range(0, len(owned), 1000):
            pipe.mset({k: cp.pattern_value(k, size) for k in owned[start:start + 1000]})
        assert all(pipe.execute())
    r = target.client(socket_timeout=CLIENT_TIMEOUT)
    values = r.mget(keys)
    r.close()
    assert len(values) == count
    wrong = [k for k, v in zip(keys, values) if v != cp.pattern_value(k, size)]
    assert not wrong, "%d wrong values, first %s" % (len(wrong), wrong[:3])


# A client that never reads: it sends GETs of a 1 MiB value and leaves every reply unread.
NEVER_READS_WAIT = 30.0  # seconds the relaying process has to cut it
RSS_BOUND_KIB = 1 << 20  # 1 GiB over what the process held before
TCP_ESTABLISHED = "01"


def _relay_side_open(relay_pid, client_port):
    """Whether the relaying process still holds an established socket to our `client_port`.
    Asked of /proc, not of our socket: a relay that closes while our receive window is full
    cannot deliver its FIN, so our side stays ESTABLISHED."""
    return any(s.remote_port == client_port and s.state == TCP_ESTABLISHED
               for s in harness.tcp_sockets(relay_pid))


def _cut_line(log_path, address):
    """The log line that reports cutting the client at `address` for unread replies, if any."""
    try:
        with open(log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        if address in line and re.search(r"\d+ bytes|omem=\d+", line):
            return line
    return None


def test_a_client_that_never_reads_is_cut_with_a_log_line_and_memory_stays_bounded(processes):
    # A redis-server never cuts a normal client by default: given a limit, it shows the
    # behaviour expected of the proxy's own default.
    target = cp.PatternTarget(processes, redis_args=(
        ["--client-output-buffer-limit", "normal 128mb 0 0"] if cp.DIRECT else []))
    key = "never-read"
    target.owner(key).client().set(key, cp.pattern_value(key, MiB))
    request = proxy_testing.encode("GET", key) * 64
    sock = socket.create_connection(("127.0.0.1", target.port))
    client_port = sock.getsockname()[1]
    address = "127.0.0.1:%d" % client_port
    harness.wait_until(lambda: _relay_side_open(target.pid, client_port), 10,
                       "the relay to accept the connection")
    sock.setblocking(False)
    before = target.rss_kib()
    peak = before
    sent = 0
    deadline = time.monotonic() + NEVER_READS_WAIT
    try:
        while time.monotonic() < deadline:
            try:
                sent += sock.send(request)
                continue
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                break
            # The relay takes no more bytes for now: sample, and see whether it let go.
            peak = max(peak, target.rss_kib())
            if not _relay_side_open(target.pid, client_port):
                break
            time.sleep(0.05)  # the socket is full; the relay reads when it wants
        peak = max(peak, target.rss_kib())
        cut = _relay_side_open(target.pid, client_port) is False
    finally:
        sock.close()
    line = None
    if cut:
        try:  # the line may follow the close by a moment
            line = harness.wait_until(lambda: _cut_line(target.log_path, address), 2,
                                      "the log line")
        except harness.WaitTimeout:
            pass
    print("\n%s VmRSS KiB with a client that never reads (1 MiB replies, %d GETs sent): "
          "before %d, peak %d (+%d); cut: %s" % (
              target.name, sent // len(proxy_testing.encode("GET", key)), before, peak,
              peak - before, line if cut else "no, still connected after %.0f s" %
              NEVER_READS_WAIT))
    if proxy_testing.rss_bounds_apply():
        assert peak - before < RSS_BOUND_KIB, "RSS grew by %d KiB" % (peak - before)
    assert cut, "the client that never reads is still connected after %.0f s" % (
        NEVER_READS_WAIT)
    assert line, "no log line names %s and the bytes it left unread:\n%s" % (
        address, harness.log_tail(target.log_path, 10))
    unread = [int(n) for n in re.findall(r"(\d+) bytes|omem=(\d+)", line)[0] if n]
    assert unread and unread[0] >= MiB, line
    # The relay still serves everyone else.
    assert target.client().get(key) == cp.pattern_value(key, MiB)
