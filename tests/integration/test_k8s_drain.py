"""SIGTERM drains the real ringproxy: what a rolling update of the Deployment relies on.

Clients pipeline batches and record, per batch, when its last byte was handed to the kernel;
every request whose batch was sent before the signal must get its (right) reply, and the proxy
must exit 0 without reaching --drain-timeout (its log says when it does). A request stuck on a
frozen backend holds the drain up to --drain-timeout and no longer (the drain timer is what ends
it); meanwhile /readyz says not ready and the listener is closed.
Requests a client sent before the signal that the proxy had not read yet (held back by the
in-flight limit) are owed replies too: a scripted backend makes that case deterministic.
"""

import signal
import socket
import threading
import time

import pytest

import harness
import k8s_testing
import proxy_testing
from proxy_testing import RawConnection, encode, parse

DRAIN_TIMEOUT_S = 10
SHORT_DRAIN_TIMEOUT_S = 2
EXIT_SLACK = 30.0  # seconds past the drain timeout before the proxy counts as hung
DRAIN_TIMER_FIRED = "drain timeout, closing"  # logged by each worker whose timer ends its drain
CLIENTS = 6
BATCH = 64  # pipelined commands per batch


class BatchClient(threading.Thread):
    """Sends batches of SET/GET pairs with unique values on one connection, reading each batch's
    replies before sending the next, until the proxy closes the connection or stop() is called.

    `batches` holds (sent_at, replies expected, replies right); a wrong reply is a `problem`.
    """

    def __init__(self, port, keys, label):
        super().__init__(daemon=True)
        self.port = port
        self.keys = keys
        self.label = label
        self.batches = []
        self.problem = None
        self.closed = False
        self._stop_event = threading.Event()

    def run(self):
        connection = RawConnection(self.port)
        sequence = 0
        try:
            while not self._stop_event.is_set():
                expected, data = [], []
                for _ in range(BATCH // 2):
                    key = self.keys[sequence % len(self.keys)]
                    value = "%s:%d" % (self.label, sequence)
                    sequence += 1
                    data += [encode("SET", key, value), encode("GET", key)]
                    expected += [b"OK", value.encode()]
                connection.send(b"".join(data))
                record = [time.monotonic(), len(expected), 0]
                self.batches.append(record)
                for want in expected:
                    try:
                        got = parse(connection.reply_bytes())
                    except (ConnectionError, OSError):
                        self.closed = True
                        return
                    if got != want:
                        self.problem = "expected %r, got %r" % (want, got)
                        return
                    record[2] += 1
        except (ConnectionError, OSError):
            self.closed = True  # the proxy closed while we were sending
        finally:
            connection.close()

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)


def start_proxy(processes, backends, drain_timeout, timeout_ms=5000):
    servers = ["%s:1 s%d" % (b.address, i) for i, b in enumerate(backends)]
    proxy = processes.ringproxy(
        pools={"shards": {"redis": True, "hash": "fnv1a_64", "distribution": "ketama",
                          "timeout": timeout_ms, "servers": servers}},
        workers=2, verbosity=5, extra_args=["--drain-timeout", str(drain_timeout)])
    k8s_testing.wait_stats_port(proxy)
    return proxy


def wait_exit(proxy, bound):
    """(exit status, seconds) once the proxy exited; fails if it takes longer than `bound`."""
    started = time.monotonic()
    status = proxy.wait(timeout=bound)
    return status, time.monotonic() - started


def test_sigterm_answers_every_request_sent_before_it(processes):
    backends = processes.redis_many(3)
    proxy = start_proxy(processes, backends, DRAIN_TIMEOUT_S)
    clients = [BatchClient(proxy.port, ["%d:d%d" % (i, c) for i in range(50)], "c%d" % c)
               for c in range(CLIENTS)]
    for client in clients:
        client.start()
    try:
        harness.wait_until(lambda: all(len(c.batches) >= 20 or c.problem for c in clients),
                           20.0, "clients to pipeline")
        signalled = time.monotonic()
        proxy.kill(signal.SIGTERM)
        status, took = wait_exit(proxy, DRAIN_TIMEOUT_S + EXIT_SLACK)
        harness.wait_until(lambda: not any(c.is_alive() for c in clients), 10.0,
                           "clients to see the proxy gone")
    finally:
        for client in clients:
            client.stop()

    before = [b for c in clients for b in c.batches if b[0] < signalled]
    unanswered = [(c.label, b) for c in clients for b in c.batches
                  if b[0] < signalled and b[2] < b[1]]
    print("\ndrain: exit %s %.3f s after SIGTERM; %d batches (%d requests) sent before it, %d "
          "not fully answered" % (status, took, len(before), sum(b[1] for b in before),
                                  len(unanswered)))
    assert [c.problem for c in clients if c.problem] == []
    assert unanswered == []
    assert status == 0
    # Nothing was stuck: the drain ended because every client was done, not by its timer.
    assert DRAIN_TIMER_FIRED not in k8s_testing.proxy_log(proxy)
    assert all(c.closed for c in clients)  # the proxy closed each client; none was left hanging


class HeldBackend(threading.Thread):
    """A Redis stand-in for one connection that answers INCR: it holds every reply until
    release(), then sends all of them in one write (so the proxy completes them in one loop
    iteration), and answers at once from then on. `received` counts the requests read."""

    REQUEST = encode("INCR", "drain-counter")

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = 0
        self.released = threading.Event()
        self._answered = 0
        self._closed = threading.Event()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def run(self):
        self.listener.settimeout(30)
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(0.05)
            pending = b""
            while not self._closed.is_set():
                try:
                    data = connection.recv(1 << 20)
                    if not data:
                        return
                except socket.timeout:
                    data = b""
                except OSError:
                    return
                pending += data
                whole = len(pending) // len(self.REQUEST)
                assert pending[:whole * len(self.REQUEST)] == self.REQUEST * whole
                pending = pending[whole * len(self.REQUEST):]
                self.received += whole
                if self.released.is_set() and self._answered < self.received:
                    connection.sendall(b"".join(
                        b":%d\r\n" % n for n in range(self._answered + 1, self.received + 1)))
                    self._answered = self.received

    def close(self):
        self._closed.set()
        self.listener.close()
        self.join(timeout=10)


def test_sigterm_answers_requests_the_proxy_had_not_read_yet(processes):
    backend = HeldBackend()
    backend.start()
    try:
        proxy = start_proxy(processes, [backend], DRAIN_TIMEOUT_S)
        # More than a client may have in flight: the proxy forwards some and holds back the
        # rest (read or still in the socket) at SIGTERM. Sent before the signal: owed a reply.
        total = 12000
        with RawConnection(proxy.port) as connection:
            connection.send(HeldBackend.REQUEST * total)
            harness.wait_until(lambda: backend.received > 0, 10.0,
                               "the proxy to forward what it may have in flight")
            proxy.kill(signal.SIGTERM)
            harness.wait_until(lambda: proxy.port not in harness.listening_ports(proxy.pid),
                               10.0, "the worker to start draining")
            backend.released.set()
            replies = []
            try:
                while len(replies) < total:
                    replies.append(parse(connection.reply_bytes()))
            except (ConnectionError, OSError):
                pass
        status, _ = wait_exit(proxy, DRAIN_TIMEOUT_S + EXIT_SLACK)
    finally:
        backend.close()
    print("\ndrain with unread requests: %d of %d answered" % (len(replies), total))
    assert replies == list(range(1, total + 1)), "%d of %d replies" % (len(replies), total)
    assert status == 0


def test_request_stuck_on_a_frozen_backend_ends_at_the_drain_timeout(processes):
    backends = processes.redis_many(2)
    proxy = start_proxy(processes, backends, SHORT_DRAIN_TIMEOUT_S, timeout_ms=60000)
    stuck = RawConnection(proxy.port)
    backends[0].kill(signal.SIGSTOP)
    try:
        for i in range(100):  # some of these keys live on the frozen backend
            stuck.send(encode("GET", "stuck:%d" % i))

        def stuck_in_flight():
            return proxy_testing.metric(proxy_testing.metrics(proxy),
                                        "ringproxy_in_flight_requests", pool="shards") > 0

        harness.wait_until(stuck_in_flight, 10.0, "a request stuck on the frozen backend")
        signalled = time.monotonic()
        proxy.kill(signal.SIGTERM)

        # While it drains: not ready, and no new connection is accepted.
        def draining():
            return harness.http_get(proxy.stats_port, "/readyz").status == 503

        harness.wait_until(draining, SHORT_DRAIN_TIMEOUT_S, "/readyz to answer 503")
        not_ready_after = time.monotonic() - signalled
        harness.wait_until(lambda: proxy.port not in harness.listening_ports(proxy.pid),
                           SHORT_DRAIN_TIMEOUT_S, "the listener to close")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2.0).close()
        assert proxy.running()  # still waiting for the stuck request

        status, took = wait_exit(proxy, SHORT_DRAIN_TIMEOUT_S + EXIT_SLACK)
        took = time.monotonic() - signalled
    finally:
        backends[0].kill(signal.SIGCONT)
        stuck.close()
    print("\ndrain with a stuck request: not ready after %.3f s; exit %s %.3f s after SIGTERM "
          "(--drain-timeout %d)" % (not_ready_after, status, took, SHORT_DRAIN_TIMEOUT_S))
    assert status == 0
    # It waited for the stuck request as long as allowed (a lower bound: a loaded machine only
    # makes it later), and the drain timer, not anything else, ended it.
    assert took >= SHORT_DRAIN_TIMEOUT_S * 0.9, took
    assert DRAIN_TIMER_FIRED in k8s_testing.proxy_log(proxy)
