"""When a backend fails: a killed or frozen shard costs errors for its own keys only, and the
proxy uses it again once it is back; errors a backend answers (LOADING, BUSY, OOM, READONLY)
reach the client as errors on a connection that keeps working.

Three backends shared by three proxies: "fast" with `timeout: 300` for freezes, "patient" with no
timeout for kills and backend error replies, and "two_connections" (server_connections: 2) for
BUSY: a script that never ends occupies one connection, BUSY comes back on the other.
"""

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


def test_frozen_shard_times_out_its_keys_while_others_are_served(fast, clean):
    backends = clean
    frozen = backends[1]
    keys = fast.keys_per_backend(KEYS_PER_BACKEND, prefix="freeze")
    frozen_key = keys[frozen.port][0]
    survivors = {p: k for p, k in keys.items() if p != frozen.port}
    with RawConnection(fast.port) as waiting, RawConnection(fast.port) as other:
        _assert_round_ok(other, keys, "warm")
        frozen.kill(signal.SIGSTOP)
        try:
            started = time.monotonic()
            waiting.send(encode("GET", frozen_key))
            # Meanwhile, another client's requests to the other shards are answered at once.
            worst = 0.0
            rounds = 0
            while time.monotonic() - started < TIMEOUT_MS / 1000.0 * 1.5:
                t0 = time.monotonic()
                _assert_round_ok(other, survivors, "r%d" % rounds)
                worst = max(worst, time.monotonic() - t0)
                rounds += 1
            reply = waiting.reply_bytes()
            waited = time.monotonic() - started
            assert reply == b"-ERR Connection timed out\r\n"
            assert TIMEOUT_MS / 1000.0 * 0.9 <= waited < 3.0, waited
            # (a round stuck behind the frozen shard would take the whole timeout)
            assert rounds > 3 and worst < TIMEOUT_MS / 1000.0 * 0.8, (rounds, worst)
            # Still frozen: a new request times out again, it does not hang.
            t0 = time.monotonic()
            assert waiting.command("SET", frozen_key, "x") == b"-ERR Connection timed out\r\n"
            assert time.monotonic() - t0 < 3.0
        finally:
            frozen.kill(signal.SIGCONT)
        _poll_until_served(waiting, frozen_key)
        _assert_round_ok(waiting, keys, "thawed")


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
