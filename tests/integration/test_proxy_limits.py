"""Limits that protect the proxy, end to end with real redis-server backends: max_clients (per
pool, over all workers, changed by a reload) and --max-clients (the process), client_idle_timeout
(idle clients go; busy ones, and ones waiting on a frozen server, stay), and the request size and
argument count limits, each with its exact error text and its counter.
"""

import os
import select
import signal
import socket
import ssl
import subprocess
import time

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, encode

MAX_CLIENTS_ERROR = b"-ERR max number of clients reached\r\n"
PONG = b"+PONG\r\n"
WAIT_TIMEOUT = 15.0  # seconds for the proxy to act on a close, a reload or an idle timeout
IDLE_MS = 2000  # client_idle_timeout of the idle tests


@pytest.fixture(scope="module")
def backend(module_processes):
    return module_processes.redis()


def pool(backend, **options):
    settings = {"redis": True, "hash": "fnv1a_64", "distribution": "ketama",
                "servers": ["%s:1 s0" % backend.address]}
    settings.update(options)
    return settings


def metric(proxy, name, pool_name="alpha"):
    """`name` for the pool, from /metrics; a metric that is not exported at all is a failure,
    not a zero."""
    samples = proxy_testing.metrics(proxy)
    assert any(sample_name == name for sample_name, _ in samples), name + " is not exported"
    return proxy_testing.metric(samples, name, pool=pool_name)


def rejected(proxy, pool_name="alpha"):
    return metric(proxy, "ringproxy_client_connections_rejected_total", pool_name)


def connected(proxy, pool_name="alpha"):
    return metric(proxy, "ringproxy_client_connections", pool_name)


class Attempts:
    """Connections tried one at a time: each is admitted (PING answered, kept open) or refused
    (Redis's error, then EOF). Refusals are counted, to compare with the proxy's counter."""

    def __init__(self, port):
        self.port = port
        self.refusals = 0

    def try_connect(self):
        """The open connection if admitted, else None."""
        conn = RawConnection(self.port)
        # A request sent at once, as many clients do: the error must still arrive whole.
        conn.send(encode("PING"))
        reply = conn.reply_bytes()
        if reply == PONG:
            return conn
        assert reply == MAX_CLIENTS_ERROR
        assert conn.read_until_closed() == b""
        conn.close()
        self.refusals += 1
        return None

    def admitted(self):
        conn = self.try_connect()
        assert conn is not None, "refused under the limit"
        return conn

    def refused(self):
        conn = self.try_connect()
        if conn is not None:
            conn.close()
        assert conn is None, "admitted past the limit"

    def admitted_eventually(self):
        """Polls until a connection is admitted (the proxy learns of closes and reloads a little
        later than the test makes them); refusals meanwhile are counted."""
        return harness.wait_until(self.try_connect, WAIT_TIMEOUT, "a client to be admitted")


def close_all(conns):
    for conn in conns:
        conn.close()


def reload(proxy, pool_name, **changes):
    """Rewrites the pool's options and sends SIGHUP."""
    proxy.written_pools[pool_name].update(changes)
    with open(proxy.config_path, "w", encoding="utf-8") as f:
        f.write(harness.render_config(proxy.written_pools))
    proxy.kill(signal.SIGHUP)


# --- max_clients ---------------------------------------------------------------------------------

def test_the_client_past_max_clients_gets_redis_error_then_eof_while_the_others_are_served(
        processes, backend):
    proxy = processes.ringproxy(pools={"alpha": pool(backend, max_clients=3)}, workers=1)
    attempts = Attempts(proxy.port)
    held = [attempts.admitted() for _ in range(3)]
    try:
        # The exact bytes, then EOF, also for a client that sends nothing.
        with RawConnection(proxy.port) as silent:
            assert silent.read_until_closed() == MAX_CLIENTS_ERROR
        attempts.refusals += 1
        attempts.refused()
        for i, conn in enumerate(held):
            assert conn.command("SET", "held:%d" % i, "v") == b"+OK\r\n"
            assert conn.command("GET", "held:%d" % i) == b"$1\r\nv\r\n"
        assert rejected(proxy) == 2
        assert connected(proxy) == 3
        assert metric(proxy, "ringproxy_client_connections_total") == 3

        # One leaves: the next one is let in, and the limit holds again after it.
        held.pop().close()
        held.append(attempts.admitted_eventually())
        attempts.refused()
        assert held[-1].command("PING") == PONG
        assert rejected(proxy) == attempts.refusals
        assert connected(proxy) == 3
    finally:
        close_all(held)
    log = open(proxy.log_path, encoding="utf-8", errors="replace").read()
    assert "pool 'alpha': max_clients 3 reached; refused" in log


def test_a_tls_client_past_max_clients_is_turned_away_before_any_handshake(processes, backend):
    # Redis's error could only follow a whole handshake, which a full proxy should not spend on
    # a client it refuses: the client's handshake meets the end of the connection instead.
    cert = os.path.join(processes.root, "proxy.crt")
    key = os.path.join(processes.root, "proxy.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    proxy = processes.ringproxy(pools={"alpha": pool(
        backend, max_clients=1, tls={"cert_file": cert, "key_file": key})}, workers=2)
    context = ssl.create_default_context(cafile=cert)

    def tls_connection():
        raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        try:
            return context.wrap_socket(raw, server_hostname="127.0.0.1")
        except Exception:
            raw.close()
            raise

    with tls_connection() as admitted:
        admitted.sendall(encode("PING"))
        assert admitted.recv(64) == PONG
        with pytest.raises((ssl.SSLError, ConnectionError)):
            tls_connection().close()
        # Not a byte, the plaintext error included: the end of the connection at once.
        with RawConnection(proxy.port) as silent:
            assert silent.read_until_closed() == b""
        assert rejected(proxy) == 2
        admitted.sendall(encode("PING"))
        assert admitted.recv(64) == PONG


def test_nutcrackers_client_connections_limits_nothing_as_in_nutcracker(processes, backend):
    # nutcracker parses client_connections and discards it: a fleet that set it must not start
    # refusing clients when it switches to ringproxy.
    proxy = processes.ringproxy(pools={"alpha": pool(backend, client_connections=1)}, workers=1)
    attempts = Attempts(proxy.port)
    held = [attempts.admitted() for _ in range(4)]
    try:
        for conn in held:
            assert conn.command("PING") == PONG
        assert rejected(proxy) == 0
    finally:
        close_all(held)


def test_with_two_workers_max_clients_holds_for_the_pool_not_for_each_worker(processes, backend):
    # The kernel spreads connections over both workers' listeners: with per-worker counts about
    # twice the limit would get in.
    proxy = processes.ringproxy(pools={"alpha": pool(backend, max_clients=4)}, workers=2)
    attempts = Attempts(proxy.port)
    held = []
    try:
        for _ in range(24):
            conn = attempts.try_connect()
            if conn is not None:
                held.append(conn)
        assert len(held) == 4
        assert attempts.refusals == 20
        for conn in held:
            assert conn.command("PING") == PONG
        assert rejected(proxy) == 20
        assert connected(proxy) == 4
    finally:
        close_all(held)


def test_a_reload_changes_max_clients_for_the_pool_and_keeps_its_clients(processes, backend):
    proxy = processes.ringproxy(pools={"alpha": pool(backend, max_clients=1)}, workers=2)
    attempts = Attempts(proxy.port)
    held = [attempts.admitted()]
    try:
        attempts.refused()

        reload(proxy, "alpha", max_clients=2)
        held.append(attempts.admitted_eventually())

        # Lowered below what is connected: both stay and are served; a newcomer is refused
        # even after one of them leaves.
        reload(proxy, "alpha", max_clients=1)
        for conn in held:
            assert conn.command("PING") == PONG

        def refused_under_the_new_limit():
            if held and len(held) == 2:
                held.pop().close()
            harness.wait_until(lambda: connected(proxy) == 1, WAIT_TIMEOUT,
                               "the proxy to see a client leave")
            conn = attempts.try_connect()
            if conn is None:
                return True
            held.append(conn)  # the reload is not applied yet: let it go and try again
            return False

        harness.wait_until(refused_under_the_new_limit, WAIT_TIMEOUT, "max_clients 1 to apply")
        assert held[0].command("PING") == PONG
        assert rejected(proxy) == attempts.refusals
    finally:
        close_all(held)


def test_max_clients_flag_limits_the_process_over_every_pool(processes, backend):
    proxy = processes.ringproxy(pools={"alpha": pool(backend), "beta": pool(backend)},
                                workers=2, extra_args=["--max-clients", "3"])
    alpha = Attempts(proxy.ports["alpha"])
    beta = Attempts(proxy.ports["beta"])
    held = [alpha.admitted(), alpha.admitted(), beta.admitted()]
    try:
        alpha.refused()
        beta.refused()
        beta.refused()
        assert rejected(proxy, "alpha") == 1
        assert rejected(proxy, "beta") == 2
        # A slot freed in one pool serves the other.
        held.pop(0).close()
        held.append(beta.admitted_eventually())
        assert rejected(proxy, "beta") == beta.refusals
        alpha.refused()
        for conn in held:
            assert conn.command("PING") == PONG
    finally:
        close_all(held)
    log = open(proxy.log_path, encoding="utf-8", errors="replace").read()
    assert "--max-clients 3 reached; refused" in log


# --- client_idle_timeout -------------------------------------------------------------------------

def test_idle_clients_are_closed_while_active_and_waiting_ones_stay(processes):
    frozen = processes.redis()
    frozen.client().set("k", "v")
    # No request timeout: a request to the frozen server waits as long as it takes.
    proxy = processes.ringproxy(pools={"alpha": pool(frozen, client_idle_timeout=IDLE_MS)},
                                workers=2)
    active = RawConnection(proxy.port)
    waiting = RawConnection(proxy.port)
    idle = {}  # connection -> monotonic time before its last activity
    frozen.kill(signal.SIGSTOP)
    try:
        waiting.send(encode("GET", "k"))
        # Made idle after the request above was sent: if waiting counted as idle, it would be
        # closed no later than these.
        before = time.monotonic()
        silent = RawConnection(proxy.port)
        idle[silent] = before
        answered = RawConnection(proxy.port)
        idle[answered] = time.monotonic()
        assert answered.command("PING") == PONG
        partial = RawConnection(proxy.port)
        idle[partial] = time.monotonic()
        partial.send(b"*2\r\n$3\r\nGET\r\n")  # half a request keeps nobody busy

        closed_at = {}
        deadline = time.monotonic() + WAIT_TIMEOUT
        while len(closed_at) < len(idle):
            assert time.monotonic() < deadline, "idle clients still open"
            assert active.command("PING") == PONG  # at least every 100 ms
            open_socks = {c.sock: c for c in idle if c not in closed_at}
            readable, _, _ = select.select(list(open_socks), [], [], 0.1)
            for sock in readable:
                conn = open_socks[sock]
                assert conn.read_until_closed() == b"", "an idle client got a reply"
                closed_at[conn] = time.monotonic()
                conn.close()  # the proxy keeps counting a connection until both sides close
        assert active.command("PING") == PONG
        for conn, last_activity in idle.items():
            assert closed_at[conn] - last_activity >= IDLE_MS / 1000.0, "closed early"
        assert metric(proxy, "ringproxy_client_idle_timeouts_total") == 3
        harness.wait_until(lambda: connected(proxy) == 2, WAIT_TIMEOUT,
                           "the idle clients to be gone")
    finally:
        thawed = time.monotonic()
        frozen.kill(signal.SIGCONT)
        close_all(idle)
    # The waiting client was kept: its reply arrives once the server runs again.
    assert waiting.reply_bytes() == b"$1\r\nv\r\n"
    assert active.command("PING") == PONG
    # Now both are idle, and go in their turn; the waiting one's idle time started with its
    # reply, not with its request.
    assert waiting.read_until_closed(timeout=WAIT_TIMEOUT) == b""
    assert time.monotonic() - thawed >= IDLE_MS / 1000.0, "closed early"
    assert active.read_until_closed(timeout=WAIT_TIMEOUT) == b""
    harness.wait_until(lambda: metric(proxy, "ringproxy_client_idle_timeouts_total") == 5,
                       WAIT_TIMEOUT, "five idle timeouts counted")
    assert metric(proxy, "ringproxy_client_errors_total") == 0
    close_all([waiting, active])


def test_a_reload_that_sets_client_idle_timeout_applies_to_connected_clients(processes,
                                                                              backend):
    proxy = processes.ringproxy(pools={"alpha": pool(backend)}, workers=1)
    with RawConnection(proxy.port) as conn:
        assert conn.command("PING") == PONG
        reload(proxy, "alpha", client_idle_timeout=IDLE_MS)
        assert conn.read_until_closed(timeout=WAIT_TIMEOUT) == b""
    assert metric(proxy, "ringproxy_client_idle_timeouts_total") == 1


# --- request size and argument count -------------------------------------------------------------

MAX_ARGUMENTS = 1 << 20
MAX_REQUEST_BYTES = 512 << 20


def test_request_limits_answer_with_their_exact_errors_then_close(processes, backend):
    proxy = processes.ringproxy(pools={"alpha": pool(backend)}, workers=1)
    backend.client().set("k", "1")
    # At the argument limit, the request is served (EXISTS counts a repeated key each time).
    with RawConnection(proxy.port) as conn:
        conn.send(b"*%d\r\n$6\r\nEXISTS\r\n" % MAX_ARGUMENTS + b"$1\r\nk\r\n" * (MAX_ARGUMENTS - 1))
        assert conn.reply_bytes() == b":%d\r\n" % (MAX_ARGUMENTS - 1)
    set_header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n"
    cases = [
        # One argument past the limit (Redis itself takes it).
        (b"*%d\r\n" % (MAX_ARGUMENTS + 1), b"-ERR Protocol error: invalid multibulk length\r\n"),
        # A value whose length line says the request would pass 512 MiB: refused on that line,
        # before a byte of it is buffered.
        (set_header + b"$%d\r\n" % (MAX_REQUEST_BYTES - 10),
         b"-ERR Protocol error: request is larger than the proxy's limit\r\n"),
        # One value longer than the whole limit: Redis's text past its proto-max-bulk-len.
        (set_header + b"$%d\r\n" % (MAX_REQUEST_BYTES + 1),
         b"-ERR Protocol error: invalid bulk length\r\n"),
    ]
    for data, error in cases:
        with RawConnection(proxy.port) as conn:
            conn.send(data)
            assert conn.read_until_closed() == error, data[:40]
    with RawConnection(backend.port) as conn:  # Redis's own text for the last case
        conn.send(cases[2][0])
        assert conn.read_until_closed() == cases[2][1]
    assert metric(proxy, "ringproxy_client_protocol_errors_total") == len(cases)
    assert backend.client().get("k") == b"1"
