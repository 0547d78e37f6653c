"""When a backend fails: a killed or frozen shard costs errors for its own keys only, and the
proxy uses it again once it is back; errors a backend answers (LOADING, BUSY, OOM, READONLY)
reach the client as errors on a connection that keeps working.

Three backends shared by three proxies: "fast" with `timeout: 300` for freezes, "patient" with no
timeout for kills and backend error replies, and "two_connections" (server_connections: 2) for
BUSY: a script that never ends occupies one connection, BUSY comes back on the other.
"""

import select
import signal
import threading
import time

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, encode

BACKENDS = 3
TIMEOUT_MS = 300
RECOVERY_TIMEOUT = 15.0  # seconds for a restarted or thawed backend to serve again
KEYS_PER_BACKEND = 6
LOST = (b"-ERR Connection refused\r\n", b"-ERR Connection reset by peer\r\n")


@pytest.fixture(scope="module")
def backends(module_processes):
    # DEBUG RELOAD produces a real LOADING state; Redis 7 refuses DEBUG unless enabled.
    return module_processes.redis_many(BACKENDS, extra_args=["--enable-debug-command", "yes"])


@pytest.fixture(scope="module")
def fast(module_processes, backends):
    return proxy_testing.ShardedProxy(module_processes, backends, workers=2, timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def patient(module_processes, backends):
    return proxy_testing.ShardedProxy(module_processes, backends, workers=2, timeout=None)


@pytest.fixture(scope="module")
def two_connections(module_processes, backends):
    return proxy_testing.ShardedProxy(module_processes, backends, workers=2, timeout=None,
                                      server_connections=2)


@pytest.fixture
def clean(backends):
    for b in backends:
        assert b.running(), "a previous test left %s down" % b.address
        b.client().flushall()
    return backends


def _round(keys_by_port, tag):
    """SET then GET of every key, with values unique to this round."""
    cmds = []
    for keys in keys_by_port.values():
        for k in keys:
            cmds.append(["SET", k, "%s-%s" % (k, tag)])
            cmds.append(["GET", k])
    return cmds


def _check_round(cmds, replies, victim_keys, errors_seen):
    """Survivors' keys must all succeed, each GET with the value its SET just wrote; the
    victim's keys may succeed or fail with a lost-connection error (added to errors_seen)."""
    written = {}
    for cmd, reply in zip(cmds, replies):
        if cmd[0] == "SET":
            written[cmd[1]] = cmd[2].encode()
            ok = reply == b"+OK\r\n"
        else:
            want = written[cmd[1]]
            ok = reply == b"$%d\r\n%s\r\n" % (len(want), want)
        if cmd[1] in victim_keys and not ok:
            assert reply in LOST, (cmd, reply)
            errors_seen.append(reply)
        else:
            assert ok, (cmd, reply)


def _assert_round_ok(conn, keys_by_port, tag):
    cmds = _round(keys_by_port, tag)
    replies = conn.pipeline(cmds)
    for cmd, reply in zip(cmds, replies):
        if cmd[0] == "SET":
            assert reply == b"+OK\r\n", (cmd, reply)
        else:
            want = ("%s-%s" % (cmd[1], tag)).encode()
            assert reply == b"$%d\r\n%s\r\n" % (len(want), want), (cmd, reply)


def _rss(sharded):
    return proxy_testing.rss_kib(sharded.proxy.pid)


def _poll_until_served(conn, key, timeout=RECOVERY_TIMEOUT):
    def served():
        return conn.command("SET", key, "back") == b"+OK\r\n"
    harness.wait_until(served, timeout, "the proxy to serve %r again" % key, interval=0.02)


# Keeps its backend busy (up to a second: it is killed sooner), so that the requests behind it
# are in flight when the backend dies.
SLOW_SCRIPT = ("local s = redis.call('TIME') repeat local n = redis.call('TIME') "
               "until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 1000000 return 1")


def _backend_busy(backend):
    """True while `backend` does not answer a PING within 50 ms."""
    with RawConnection(backend.port, timeout=0.05) as probe:
        probe.send(encode("PING"))
        try:
            probe.reply_bytes()
            return False
        except OSError:  # socket.timeout
            return True


def test_killed_shard_fails_only_its_keys_and_comes_back_after_restart(patient, clean):
    backends = clean
    victim = backends[0]
    keys = patient.keys_per_backend(KEYS_PER_BACKEND, prefix="kill")
    victim_keys = set(keys[victim.port])
    errors_seen = []
    before = _rss(patient)
    with RawConnection(patient.port) as conn:
        _assert_round_ok(conn, keys, "warm")
        # A long pipeline with a slow script on the victim in its middle: the shard is killed
        # while that script runs, with requests queued behind it; then more requests follow.
        first = [c for r in range(50) for c in _round(keys, "a%d" % r)]
        slow = ["EVAL", SLOW_SCRIPT, 1, keys[victim.port][0]]
        second = [c for r in range(50) for c in _round(keys, "b%d" % r)]
        third = [c for r in range(50) for c in _round(keys, "c%d" % r)]
        conn.send(b"".join(encode(*c) for c in first + [slow] + second))
        harness.wait_until(lambda: _backend_busy(victim), 5, "the slow script to run")
        victim.kill(signal.SIGKILL)
        victim.wait()
        conn.send(b"".join(encode(*c) for c in third))
        replies = [conn.reply_bytes() for _ in range(len(first) + 1 + len(second) + len(third))]
        slow_reply = replies.pop(len(first))
        assert slow_reply == b"-ERR Connection reset by peer\r\n", slow_reply
        _check_round(first + second + third, replies, victim_keys, errors_seen)
        assert set(errors_seen) == set(LOST), "in flight: reset; after: refused"
        # With the shard down every request for its keys fails at once; the others succeed.
        cmds = _round(keys, "down")
        replies = conn.pipeline(cmds)
        for cmd, reply in zip(cmds, replies):
            if cmd[1] in victim_keys:
                assert reply in LOST, (cmd, reply)
        survivors = {p: k for p, k in keys.items() if p != victim.port}
        _assert_round_ok(conn, survivors, "still")
        # A split command with one fragment on the dead shard fails as a whole; one that
        # avoids it is answered.
        everywhere = [k for ks in keys.values() for k in ks]
        alive = [k for ks in survivors.values() for k in ks]
        assert conn.command("MGET", *everywhere) in LOST
        assert conn.command("MGET", *alive) == b"*%d\r\n%s" % (len(alive), b"".join(
            b"$%d\r\n%s-still\r\n" % (len(k) + 6, k.encode()) for k in alive))
        # (the fragments that reached live shards did their work, as in nutcracker)
        assert conn.command("DEL", *everywhere) in LOST
        assert conn.command("EXISTS", *alive) == b":0\r\n"
        assert conn.command("PING") == b"+PONG\r\n"
        victim.restart()
        _poll_until_served(conn, sorted(victim_keys)[0])
        _assert_round_ok(conn, keys, "after")
    for key in victim_keys:
        assert victim.client().get(key) == ("%s-after" % key).encode()
    assert patient.proxy.running()
    after = _rss(patient)
    print("\nringproxy VmRSS KiB around a shard killed mid-pipeline: before %d, after %d" % (
        before, after))
    assert after - before < 16 * 1024


def _answered(conn):
    """True if a reply (or a close) is waiting on `conn`, without reading it."""
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return bool(readable) or bool(conn.buf)


def test_frozen_shard_times_out_its_keys_while_others_are_served(fast, patient, clean):
    backends = clean
    frozen = backends[1]
    keys = fast.keys_per_backend(KEYS_PER_BACKEND, prefix="freeze")
    frozen_key = keys[frozen.port][0]
    survivors = {p: k for p, k in keys.items() if p != frozen.port}
    before = _rss(fast)
    with RawConnection(fast.port) as waiting, RawConnection(fast.port) as other, \
            RawConnection(patient.port) as stuck, RawConnection(patient.port) as bystander:
        _assert_round_ok(other, keys, "warm")
        frozen.kill(signal.SIGSTOP)
        try:
            # Without a pool timeout the frozen shard's request waits as long as the freeze;
            # meanwhile another client's requests to the other shards are answered.
            stuck.send(encode("GET", frozen_key))
            for r in range(20):
                _assert_round_ok(bystander, survivors, "p%d" % r)
            assert not _answered(stuck), "the frozen shard answered"
            # With `timeout`, it fails after that time with nutcracker's text; the rounds sent to
            # the other shards meanwhile all succeed.
            started = time.monotonic()
            waiting.send(encode("GET", frozen_key))
            rounds = 0
            while not _answered(waiting):
                _assert_round_ok(other, survivors, "r%d" % rounds)
                rounds += 1
            reply = waiting.reply_bytes()
            waited = time.monotonic() - started
            assert reply == b"-ERR Connection timed out\r\n"
            # (a lower bound only: a timer never fires early; a loaded machine makes it late)
            assert waited >= TIMEOUT_MS / 1000.0 * 0.9, waited
            # Still frozen: a new request times out again, it does not hang.
            assert waiting.command("SET", frozen_key, "x") == b"-ERR Connection timed out\r\n"
            _assert_round_ok(other, survivors, "after")
        finally:
            frozen.kill(signal.SIGCONT)
        # The thawed shard answers the GET that waited.
        want = ("%s-warm" % frozen_key).encode()
        assert stuck.reply_bytes() == b"$%d\r\n%s\r\n" % (len(want), want)
        _poll_until_served(waiting, frozen_key)
        _assert_round_ok(waiting, keys, "thawed")
    after = _rss(fast)
    print("\nringproxy VmRSS KiB around a freeze: before %d, after %d (%d rounds on the other "
          "shards while a request waited for the timeout)" % (before, after, rounds))
    assert after - before < 16 * 1024
    assert fast.proxy.running() and patient.proxy.running()


def _in_flight(sharded):
    return proxy_testing.metric(proxy_testing.metrics(sharded.proxy),
                                "ringproxy_in_flight_requests")


def _clients(sharded):
    return proxy_testing.metric(proxy_testing.metrics(sharded.proxy),
                                "ringproxy_client_connections")


def _queued(sharded, server):
    samples = proxy_testing.metrics(sharded.proxy)
    return sum(proxy_testing.metric(samples, name, server=server) for name in (
        "ringproxy_server_in_queue_requests", "ringproxy_server_out_queue_requests"))


@pytest.mark.parametrize("proxy_name", ["fast", "patient"])
def test_clients_that_leave_with_requests_on_a_frozen_shard_leave_nothing_behind(
        request, proxy_name, clean):
    """Clients pipeline thousands of requests (some to a frozen shard, some split across every
    shard) and hang up before any reply. A hang-up may be a half-close, whose client is owed
    every reply, so the proxy keeps their requests until each is answered: when they time out
    (`fast`), or after the thaw (`patient`); then it closes their sockets, its in-flight gauge
    returns to 0, and other clients get their own replies all the while."""
    sharded = request.getfixturevalue(proxy_name)
    backends = clean
    frozen = backends[2]
    keys = sharded.keys_per_backend(KEYS_PER_BACKEND, prefix="leave-%s" % proxy_name)
    frozen_name = "s%d" % backends.index(frozen)
    survivors = {p: k for p, k in keys.items() if p != frozen.port}
    everywhere = [k for ks in keys.values() for k in ks]
    rss_before = _rss(sharded)
    # (fewer than a client may have in flight, 8192: see the next test for more)
    commands = [c for r in range(200) for c in _round(keys, "x%d" % r) + [["MGET"] + everywhere]]
    leaving = b"".join(encode(*c) for c in commands)
    with RawConnection(sharded.port) as other:
        _assert_round_ok(other, keys, "warm")
        frozen.kill(signal.SIGSTOP)
        try:
            leavers = [RawConnection(sharded.port) for _ in range(4)]
            for conn in leavers:
                conn.send(leaving)
            harness.wait_until(lambda: _in_flight(sharded) > 0 and _queued(sharded, frozen_name),
                               10, "requests to reach the frozen shard's queue")
            for conn in leavers:
                conn.close()
            for r in range(20):
                _assert_round_ok(other, survivors, "while-%d" % r)
            if proxy_name == "fast":
                harness.wait_until(lambda: _queued(sharded, frozen_name) == 0, 10,
                                   "the left requests to time out")
                harness.wait_until(lambda: _in_flight(sharded) == 0, 10,
                                   "the in-flight gauge to forget the clients that left")
            else:
                # No timeout: their requests wait for the thaw. (The clients themselves wait too
                # if their hang-up was a FIN; one whose close reset the connection, because
                # replies had reached it unread, is forgotten at once.)
                assert _queued(sharded, frozen_name) > 0
            peak = _rss(sharded)
        finally:
            frozen.kill(signal.SIGCONT)
        harness.wait_until(lambda: _queued(sharded, frozen_name) == 0, 10,
                           "the thawed shard to answer what it was sent")
        harness.wait_until(lambda: _in_flight(sharded) == 0, 10,
                           "the in-flight gauge to forget the clients that left")
        _poll_until_served(other, keys[frozen.port][0])
        for r in range(5):  # the orphans' replies were dropped, never handed to this client
            _assert_round_ok(other, keys, "after-%d" % r)
        assert _in_flight(sharded) == 0
    harness.wait_until(lambda: _clients(sharded) == 0, 10, "the proxy to close the left sockets")
    after = _rss(sharded)
    print("\nringproxy VmRSS KiB with 4 clients leaving %d requests each on a frozen shard "
          "(%s): before %d, peak %d, after %d" % (len(commands), proxy_name, rss_before,
                                                  peak, after))
    assert sharded.proxy.running()
    assert peak - rss_before < 64 * 1024 and after - rss_before < 64 * 1024


def test_a_client_flooding_a_frozen_shard_holds_a_bounded_window_and_goes_after_the_thaw(
        patient, clean):
    """Ten thousand requests to a shard frozen with no pool timeout: the proxy forwards only a
    window of them (reckoned at the client's reply size), holds the rest, and keeps serving
    others. The client hangs up; its requests are answered at the thaw, and then it goes."""
    frozen, live = clean[0], clean[1]
    placed = patient.keys_per_backend(1, prefix="paused")
    key, elsewhere = placed[frozen.port][0], placed[live.port][0]
    before = _rss(patient)
    frozen.kill(signal.SIGSTOP)
    try:
        leaver = RawConnection(patient.port)
        leaver.send(encode("GET", key) * 10000)
        harness.wait_until(lambda: _queued(patient, "s0") > 0, 10,
                           "requests to reach the frozen shard")
        with RawConnection(patient.port) as other:
            assert other.command("SET", elsewhere, "v") == b"+OK\r\n"
        window = _queued(patient, "s0")
        assert 0 < window < 8192, window
        leaver.close()
        assert _clients(patient) >= 1  # it may have only half-closed: owed its replies
        peak = _rss(patient)
    finally:
        frozen.kill(signal.SIGCONT)
    harness.wait_until(lambda: _in_flight(patient) == 0 and _clients(patient) == 0, 10,
                       "the thaw to answer the client's requests and the proxy to close it")
    print("\nrequests to the frozen shard in flight: %d of 10000; VmRSS KiB before %d, peak %d"
          % (window, before, peak))
    if proxy_testing.rss_bounds_apply():
        assert peak - before < 32 * 1024


def test_oom_from_a_backend_reaches_the_client(patient, clean):
    backends = clean
    full = backends[0]
    placed = patient.keys_per_backend(1, prefix="oom")
    key, other_key = placed[full.port][0], placed[backends[1].port][0]
    direct = full.client()
    direct.set(key, "before")
    direct.set("filler{x}", b"x" * (2 << 20))  # past the limit set next, whatever the baseline
    direct.config_set("maxmemory-policy", "noeviction")
    direct.config_set("maxmemory", "1mb")
    try:
        with RawConnection(patient.port) as conn:
            reply = conn.command("SET", key, "after")
            assert reply.startswith(b"-OOM command not allowed"), reply
            assert conn.command("GET", key) == b"$6\r\nbefore\r\n"
            assert conn.command("SET", other_key, "fine") == b"+OK\r\n"
            assert conn.command("PING") == b"+PONG\r\n"
    finally:
        direct.config_set("maxmemory", "0")


def test_readonly_from_a_replica_reaches_the_client(patient, clean):
    backends = clean
    replica, master = backends[0], backends[1]
    key = patient.keys_per_backend(1, prefix="ro")[replica.port][0]
    direct = replica.client()
    direct.execute_command("REPLICAOF", master.host, master.port)
    try:
        with RawConnection(patient.port) as conn:
            reply = conn.command("SET", key, "x")
            assert reply.startswith(b"-READONLY "), reply
            assert conn.command("GET", key) == b"$-1\r\n"
            assert conn.command("PING") == b"+PONG\r\n"
    finally:
        direct.execute_command("REPLICAOF", "NO", "ONE")
    with RawConnection(patient.port) as conn:
        assert conn.command("SET", key, "x") == b"+OK\r\n"


def test_busy_from_a_backend_reaches_the_client(two_connections, clean):
    patient = two_connections
    key = "{busy}k"
    owner = patient.owner(key)
    direct = owner.client()
    direct.config_set("busy-reply-threshold", "50")
    try:
        with RawConnection(patient.port) as runner, RawConnection(patient.port) as other:
            runner.send(encode("EVAL", "while true do end", 1, key))
            # Once the backend answers BUSY itself, the script is running.
            with RawConnection(owner.port) as probe:
                harness.wait_until(lambda: probe.command("PING").startswith(b"-BUSY"), 5,
                                   "the script to start")
            reply = other.command("GET", "{busy}other")
            assert reply.startswith(b"-BUSY "), reply
            direct.script_kill()
            assert runner.reply_bytes().startswith(b"-"), "the killed script's error"
            assert runner.command("PING") == b"+PONG\r\n"
            assert other.command("SET", "{busy}other", "1") == b"+OK\r\n"
            assert runner.command("GET", "{busy}other") == b"$1\r\n1\r\n"
    finally:
        try:
            direct.script_kill()
        except Exception:  # pylint: disable=broad-except
            pass  # NOTBUSY: already killed above
        direct.config_set("busy-reply-threshold", "5000")


def test_loading_from_a_backend_reaches_the_client(patient, clean):
    backends = clean
    loading = backends[2]
    key = patient.keys_per_backend(1, prefix="load")[loading.port][0]
    direct = loading.client(socket_timeout=30)
    direct.set(key, "v")
    direct.execute_command("DEBUG", "POPULATE", 5000)
    # About a second of loading, during which Redis answers clients with -LOADING.
    direct.config_set("key-load-delay", "100")
    direct.config_set("loading-process-events-interval-bytes", "1024")
    reload_errors = []

    def reload():
        try:
            loading.client(socket_timeout=60).execute_command("DEBUG", "RELOAD")
        except Exception as exc:  # pylint: disable=broad-except
            reload_errors.append(exc)

    thread = threading.Thread(target=reload)
    thread.start()
    try:
        with RawConnection(patient.port) as conn:
            seen = []

            def loading_reply():
                reply = conn.command("GET", key)
                seen.append(reply)
                return reply.startswith(b"-LOADING ")

            harness.wait_until(loading_reply, 10, "a LOADING reply", interval=0.01)
            assert all(r in (b"$1\r\nv\r\n",) or r.startswith(b"-LOADING ") for r in seen), seen
            assert conn.command("PING") == b"+PONG\r\n"
            thread.join(30)
            assert not reload_errors, reload_errors
            assert conn.command("GET", key) == b"$1\r\nv\r\n"
    finally:
        thread.join(30)
        direct.config_set("key-load-delay", "0")


def test_a_pipeline_reads_its_own_writes_with_two_server_connections(two_connections, clean):
    key = "own-writes"
    cmds = [c for i in range(2000) for c in (["SET", key, "v%d" % i], ["GET", key])]
    with RawConnection(two_connections.port) as conn:
        replies = conn.pipeline(cmds)
    wrong = []
    written = None
    for cmd, reply in zip(cmds, replies):
        if cmd[0] == "SET":
            written = cmd[2].encode()
        elif reply != b"$%d\r\n%s\r\n" % (len(written), written):
            wrong.append((written, reply))
    assert not wrong, "%d GETs saw another SET's value, first: %r" % (len(wrong), wrong[:3])
