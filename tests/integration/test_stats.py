"""The stats port from the outside: Prometheus /metrics read by a real text-format parser while
traffic runs, nutcracker's JSON compared with the real nutcracker's, nutcracker's raw-TCP readers
(and text that is not HTTP, answered as nutcracker answers it), the health and readiness probes
through a drain and while hostile clients hold the port, memory bounded with unread responses,
and HTTP edge cases.
"""

import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import harness
import proxy_testing
from harness import http_get

EXIT_TIMEOUT = 10.0  # seconds for the proxy to exit after SIGTERM once nothing is in flight
HTTP_TIMEOUT = 5.0

POOL = "alpha"


# --- clients -------------------------------------------------------------------------------------

def raw_exchange(port, data=b"", delay=0.0, close_write=False, reset_ends=False):
    """Connects, waits `delay`, sends `data`, optionally closes its side, reads to EOF (or, with
    `reset_ends`, to a reset: nutcracker closes with our input unread, which resets).
    Returns (bytes received, seconds from connect to EOF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as s:
        begin = time.monotonic()
        if delay:
            time.sleep(delay)  # the lateness under test, not synchronisation
        if data:
            s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                if not reset_ends:
                    raise
                chunk = b""
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks), time.monotonic() - begin


# --- a strict reading of the Prometheus text format ----------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)$" % (_NAME, _LABEL, _LABEL))
_COMMENT = re.compile(r"^# (HELP|TYPE) (%s) (.*)$" % _NAME)


def parse_metrics(text):
    """Checks the exposition line by line (format 0.0.4: HELP and TYPE before a family's samples,
    no duplicate series, numeric values), then parses it with prometheus_client's parser
    (proxy_testing.parse_metrics)."""
    assert text.endswith("\n")
    typed = {}
    seen = set()
    for line in text.splitlines():
        comment = _COMMENT.match(line)
        if comment:
            if comment.group(1) == "TYPE":
                assert comment.group(3) in ("counter", "gauge", "histogram"), line
                typed[comment.group(2)] = comment.group(3)
            continue
        sample = _SAMPLE.match(line)
        assert sample, "not a valid sample line: %r" % line
        name = sample.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, "sample before its TYPE: %r" % line
        key = (name, sample.group(2) or "")
        assert key not in seen, "duplicate series: %r" % line
        seen.add(key)
        float(sample.group(3))
    samples = proxy_testing.parse_metrics(text)
    assert samples
    return samples


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def total(samples, name, **labels):
    """The sum of `name` over the series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and want <= set(l))


def check_histograms(samples):
    """Every histogram series: buckets cumulative in `le` order, +Inf == _count, _sum >= 0."""
    series = {}
    for (name, labels), v in samples.items():
        if name.endswith("_bucket"):
            rest = frozenset((k, x) for k, x in labels if k != "le")
            le = dict(labels)["le"]
            series.setdefault((name[:-len("_bucket")], rest), []).append(
                (math.inf if le == "+Inf" else float(le), v))
    assert series
    for (base, labels), buckets in series.items():
        buckets.sort()
        counts = [c for _, c in buckets]
        assert counts == sorted(counts), (base, labels, buckets)
        assert buckets[-1][0] == math.inf
        assert buckets[-1][1] == samples[(base + "_count", labels)], (base, labels)
        assert samples[(base + "_sum", labels)] >= 0
    return len(series)


# --- fixtures ------------------------------------------------------------------------------------

def start_ringproxy(group, pools, workers=2, extra_args=()):
    return group.ringproxy(pools=pools, workers=workers, extra_args=list(extra_args))


def pools_for(backends, timeout=5000):
    return {POOL: {"redis": True, "hash": "fnv1a_64", "distribution": "ketama",
                   "timeout": timeout,
                   "servers": ["%s:1 s%d" % (b.address, i) for i, b in enumerate(backends)]}}


@pytest.fixture(scope="module")
def backends(module_processes):
    return module_processes.redis_many(2)


# --- tests ---------------------------------------------------------------------------------------

def test_metrics_counters_rise_by_exactly_the_requests_sent(processes, backends):
    proxy = start_ringproxy(processes, pools_for(backends), extra_args=["-i", "0"])
    client = proxy.client()
    client.ping()  # connected (a local command, another class) before the baseline
    before = parse_metrics(http_get(proxy.stats_port, "/metrics")[2])

    # Scrape continuously while the traffic runs: every scrape parses and counters never fall.
    stop = threading.Event()
    scrapes = []
    errors = []

    def scrape():
        last = before
        while not stop.is_set():
            try:
                samples = parse_metrics(http_get(proxy.stats_port, "/metrics")[2])
                check_histograms(samples)
                for key, v in last.items():
                    if key[0].endswith(("_total", "_count", "_bucket")):
                        assert samples[key] >= v, key
                last = samples
                scrapes.append(samples)
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(exc)
                return

    scraper = threading.Thread(target=scrape)
    scraper.start()
    sent = 600
    try:
        for i in range(sent // 2):
            client.set("key-%d" % i, "v%d" % i)
            assert client.get("key-%d" % i) == b"v%d" % i
    finally:
        stop.set()
        scraper.join(timeout=30)
    assert not errors, errors
    assert scrapes, "no scrape completed during the traffic"

    after = parse_metrics(http_get(proxy.stats_port, "/metrics")[2])
    labels = {"pool": POOL, "command_class": "single_key"}
    assert value(after, "ringproxy_requests_total", **labels) - \
        value(before, "ringproxy_requests_total", **labels) == sent
    assert value(after, "ringproxy_request_duration_seconds_count", **labels) - \
        value(before, "ringproxy_request_duration_seconds_count", **labels) == sent
    for name in ("ringproxy_server_requests_total", "ringproxy_server_responses_total",
                 "ringproxy_server_request_duration_seconds_count"):
        assert total(after, name, pool=POOL) - total(before, name, pool=POOL) == sent, name
    assert total(after, "ringproxy_server_request_bytes_total") > \
        total(before, "ringproxy_server_request_bytes_total")
    assert value(after, "ringproxy_client_connections", pool=POOL) == 1
    assert value(after, "ringproxy_in_flight_requests", pool=POOL) == 0
    assert value(after, "ringproxy_build_info", version=value_label(after, "version"),
                 workers="2") == 1
    assert check_histograms(after) >= 7 + len(backends)

    # The JSON (-i 0: read afresh) agrees with the metrics.
    document = json.loads(http_get(proxy.stats_port, "/stats")[2])
    assert sum(document[POOL]["s%d" % i]["requests"] for i in range(len(backends))) == \
        total(after, "ringproxy_server_requests_total", pool=POOL)


def value_label(samples, label):
    for (name, labels), _ in samples.items():
        if name == "ringproxy_build_info":
            return dict(labels)[label]
    raise AssertionError("no ringproxy_build_info")


def test_json_has_every_field_nutcrackers_has_under_the_same_config(processes, backends):
    pools = {
        "alpha": {"redis": True, "servers": ["%s:1 named" % backends[0].address,
                                             "%s:1" % backends[1].address]},
        "beta": {"redis": True, "hash": "murmur", "servers": ["%s:1 b0" % backends[1].address]},
    }
    nutcracker = processes.nutcracker(pools=pools)
    proxy = start_ringproxy(processes, pools)
    for p in (nutcracker, proxy):
        p.client("alpha").set("k", "v")
    theirs = nutcracker.stats()
    ours = proxy.stats()

    def objects(document):
        return {k: v for k, v in document.items() if isinstance(v, dict)}

    assert set(theirs) - set(objects(theirs)) <= set(ours) - set(objects(ours))
    assert set(objects(theirs)) == set(objects(ours)) == {"alpha", "beta"}
    for pool, their_pool in objects(theirs).items():
        our_pool = ours[pool]
        assert set(their_pool) <= set(our_pool), pool
        for server, their_server in objects(their_pool).items():
            assert isinstance(our_pool[server], dict), (pool, server)
            assert set(their_server) <= set(our_pool[server]), (pool, server)
    assert ours["service"] == "ringproxy"
    assert all(isinstance(ours[k], int) for k in ("uptime", "timestamp", "total_connections",
                                                   "curr_connections"))


def test_raw_tcp_reader_that_sends_nothing_gets_the_json_and_a_close(processes, backends):
    proxy = start_ringproxy(processes, pools_for(backends))
    data, _ = raw_exchange(proxy.stats_port)
    assert data.startswith(b"{\"service\":") and data.endswith(b"}\n"), data[:80]
    assert POOL in json.loads(data)
    # (the JSON, not a 408 after the HTTP request timeout: the legacy reader's window applied)
    # A reader that closes its side at once (`nc host port </dev/null`) is answered at once too.
    data, _ = raw_exchange(proxy.stats_port, close_write=True)
    assert POOL in json.loads(data)


def test_curl_on_the_bare_address_gets_the_json(processes, backends):
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is not installed (.ci/install-deps installs it)")
    proxy = start_ringproxy(processes, pools_for(backends))
    out = subprocess.run([curl, "-s", "127.0.0.1:%d" % proxy.stats_port], capture_output=True,
                         timeout=20, check=True).stdout
    assert POOL in json.loads(out)
    out = subprocess.run([curl, "-s", "-i", "127.0.0.1:%d/metrics" % proxy.stats_port],
                         capture_output=True, timeout=20, check=True).stdout.decode()
    assert out.startswith("HTTP/1.1 200 OK\r\n")
    assert "Content-Type: text/plain; version=0.0.4" in out


def test_json_counters_follow_the_stats_interval_and_metrics_are_always_current(processes,
                                                                                   backends):
    proxy = start_ringproxy(processes, pools_for(backends), extra_args=["-i", "60000"])
    first = json.loads(http_get(proxy.stats_port, "/stats")[2])
    client = proxy.client()
    for i in range(10):
        client.set("i-%d" % i, "x")
    second = json.loads(http_get(proxy.stats_port, "/stats")[2])
    servers = ["s%d" % i for i in range(len(backends))]
    assert [second[POOL][s]["requests"] for s in servers] == \
        [first[POOL][s]["requests"] for s in servers]
    samples = parse_metrics(http_get(proxy.stats_port, "/metrics")[2])
    assert total(samples, "ringproxy_server_requests_total", pool=POOL) == \
        sum(first[POOL][s]["requests"] for s in servers) + 10


def test_readyz_turns_503_while_draining_and_the_port_closes_after(processes, backends):
    # Deterministic drain: the one request in flight waits on a stopped backend (the pool
    # timeout is far away), so the drain cannot finish until the test resumes that backend.
    backend = processes.redis()
    proxy = start_ringproxy(processes, pools_for([backend], timeout=60000), workers=1)
    port = proxy.stats_port
    assert http_get(port, "/readyz")[:1] == (200,)
    client = proxy.client(socket_timeout=60)
    client.set("held", "v")
    result = {}
    os.kill(backend.pid, signal.SIGSTOP)
    try:
        getter = threading.Thread(target=lambda: result.setdefault("v", client.get("held")))
        getter.start()
        harness.wait_until(
            lambda: value(parse_metrics(http_get(port, "/metrics")[2]),
                          "ringproxy_in_flight_requests", pool=POOL) == 1,
            10, "the request to be in flight")
        proxy.kill(signal.SIGTERM)
        harness.wait_until(lambda: http_get(port, "/readyz")[0] == 503, 10, "/readyz 503")
        status, _, body = http_get(port, "/readyz")
        assert status == 503 and "draining" in body
        assert http_get(port, "/healthz")[0] == 200
        assert http_get(port, "/metrics")[0] == 200
        assert proxy.running()
    finally:
        os.kill(backend.pid, signal.SIGCONT)
    getter.join(timeout=30)
    assert result.get("v") == b"v"
    assert proxy.wait(EXIT_TIMEOUT) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT).close()


def test_healthz_and_readyz_answer_200_when_serving(processes, backends):
    proxy = start_ringproxy(processes, pools_for(backends))
    assert http_get(proxy.stats_port, "/healthz")[0::2] == (200, "ok\n")
    assert http_get(proxy.stats_port, "/readyz")[0::2] == (200, "ready\n")


def test_unknown_paths_methods_and_malformed_requests(processes, backends):
    proxy = start_ringproxy(processes, pools_for(backends))
    port = proxy.stats_port
    assert http_get(port, "/nope")[0] == 404
    status, headers, _ = http_get(port, "/metrics", method="DELETE")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    for garbage in (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
                    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n"):
        data, _ = raw_exchange(port, garbage, close_write=True)
        assert re.match(rb"HTTP/1\.1 4\d\d ", data), (garbage[:20], data[:60])
    assert proxy.running()
    assert http_get(port, "/metrics")[0] == 200


def test_http_request_line_sent_late_still_gets_http(processes, backends):
    proxy = start_ringproxy(processes, pools_for(backends))
    data, _ = raw_exchange(proxy.stats_port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n",
                           delay=0.1)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:60]
    assert data.endswith(b"\r\n\r\nready\n")


def test_stats_port_in_use_is_a_startup_error(processes, backends):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        proxy = processes.ringproxy(pools=pools_for(backends), wait_ready=False,
                                    extra_args=["-s", str(busy.getsockname()[1])])
        assert proxy.wait(EXIT_TIMEOUT) == 2
        assert "stats" in proxy.logs()


# --- hostile and careless clients ----------------------------------------------------------------

STATS_LIMIT = 256  # connections the stats port holds at once (StatsServer::kMaxConnections)
SHED_LINE = re.compile(r"stats: \d+ connections open, the limit: closed the oldest to make room "
                       r"\((\d+) times? since the last message\)")


def test_text_that_is_not_http_gets_the_json_as_from_nutcracker(processes, backends):
    # `echo stats | nc host 22222`: nutcracker ignores what it is sent and writes its document.
    pools = {POOL: {"redis": True, "servers": ["%s:1 s0" % backends[0].address]}}
    nutcracker = processes.nutcracker(pools=pools)
    proxy = start_ringproxy(processes, pools)
    for data in (b"stats\n", b"stats\r\n", b"\x16\x03\x01\x00\xa5\x01\x00", b"hello there\n"):
        theirs, _ = raw_exchange(nutcracker.stats_port, data, reset_ends=True)
        ours, _ = raw_exchange(proxy.stats_port, data)
        their_doc, our_doc = json.loads(theirs), json.loads(ours)
        assert their_doc["service"] == "nutcracker" and our_doc["service"] == "ringproxy", data
        assert set(their_doc[POOL]) <= set(our_doc[POOL]), data
        assert ours.startswith(b"{") and ours.endswith(b"}\n"), (data, ours[:40])
    # Not a timeout in disguise: a line that is not HTTP is answered as soon as it ends.
    ours, elapsed = raw_exchange(proxy.stats_port, b"stats\n")
    assert POOL in json.loads(ours)
    assert elapsed < 2.0  # the request-read deadline, far above a loop turn


def send_queue_bytes(port):
    """Bytes queued in the kernel's send buffers of the connections on local `port` (ss)."""
    out = subprocess.run(["ss", "-Htn", "sport = :%d" % port], capture_output=True, text=True,
                         timeout=20, check=True).stdout
    return sum(int(line.split()[2]) for line in out.splitlines() if line.strip())


class Holders:
    """Connections that hold the stats port: each sends `opening` and nothing more (and reads
    nothing). A thread keeps `count` of them open, replacing those the proxy closes, until stop().
    Counts how many the proxy closed without a byte (shed) and how many it answered."""

    def __init__(self, port, count, opening=b"G"):
        self.port, self.count, self.opening = port, count, opening
        self.open = []
        self.shed = 0
        self.answered = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _connect(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(HTTP_TIMEOUT)
        s.connect(("127.0.0.1", self.port))
        s.sendall(self.opening)
        s.setblocking(False)
        return s

    def fill(self):
        while len(self.open) < self.count:
            self.open.append(self._connect())

    def _reap(self):
        still = []
        for s in self.open:
            try:
                data = s.recv(1)
            except BlockingIOError:
                still.append(s)
                continue
            except OSError:
                data = b""
            if data:
                self.answered += 1
            else:
                self.shed += 1
            s.close()
        self.open = still

    def _run(self):
        try:
            while not self._stop.is_set():
                self._reap()
                self.fill()
                self._stop.wait(0.01)  # the pace of the attack, not synchronisation
        except OSError as exc:
            self.errors.append(exc)

    def start(self):
        self.fill()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        self._reap()  # what the proxy closed since the thread's last pass counts too
        for s in self.open:
            s.close()
        self.open = []


def test_probes_are_answered_while_more_connections_than_the_limit_hold_the_port(processes,
                                                                                 backends):
    proxy = start_ringproxy(processes, pools_for(backends))
    holders = Holders(proxy.stats_port, STATS_LIMIT + 44).start()
    try:
        answers = []
        for i in range(15):  # as kubelet: a new connection each time, 2 s to answer
            path = "/healthz" if i % 2 == 0 else "/readyz"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.stats_port, timeout=2)
                conn.request("GET", path)
                answers.append(conn.getresponse().status)
                conn.close()
            except OSError as exc:
                answers.append(repr(exc))
    finally:
        holders.stop()
    assert not holders.errors, holders.errors
    assert answers == [200] * 15
    assert holders.shed > 0  # the port was held past its limit throughout
    assert proxy.running()


def test_connections_closed_for_room_are_logged_once_a_second_with_their_count(processes,
                                                                               backends):
    proxy = start_ringproxy(processes, pools_for(backends))
    begin = time.monotonic()
    holders = []
    for _ in range(STATS_LIMIT + 300):
        s = socket.create_connection(("127.0.0.1", proxy.stats_port), timeout=HTTP_TIMEOUT)
        try:
            s.sendall(b"G")
        except OSError:
            pass  # closed for room already
        holders.append(s)
    shed = 0
    for s in holders:  # each ends: closed for room at once, or answered at its deadline
        try:
            if not s.recv(1):
                shed += 1
        except ConnectionResetError:  # closed for room with its byte unread
            shed += 1
        s.close()
    assert shed >= 300

    def logged():
        return [int(m.group(1)) for m in SHED_LINE.finditer(proxy.logs(100000))]

    # The tail of the burst is reported by the next line, at most a second later.
    harness.wait_until(lambda: sum(logged()) == shed, 10, "every closed connection counted")
    elapsed = time.monotonic() - begin
    assert len(logged()) <= elapsed + 2, logged()


def test_unread_metrics_responses_for_1024_servers_keep_memory_bounded(processes, backends):
    servers = ["%s:1 s%d" % (backends[0].address, i) for i in range(1024)]
    proxy = start_ringproxy(processes, {POOL: {"redis": True, "servers": servers}})
    size = len(http_get(proxy.stats_port, "/metrics")[2])
    assert size > 1 << 20  # megabytes of text: what makes copies expensive
    before = proxy_testing.rss_kib(proxy.pid)
    readers = []
    for _ in range(STATS_LIMIT):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # takes almost none of it
        s.settimeout(HTTP_TIMEOUT)
        s.connect(("127.0.0.1", proxy.stats_port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        readers.append(s)
    try:
        for s in readers:  # every request has been answered (its response begun)
            assert s.recv(1, socket.MSG_PEEK) == b"H"
        # The probes still answer at once, with every response unread.
        assert http_get(proxy.stats_port, "/healthz")[0] == 200
        grown_mib = (proxy_testing.rss_kib(proxy.pid) - before) / 1024
        # What the kernel holds for the proxy counts against its memory limit too.
        queued_mib = send_queue_bytes(proxy.stats_port) / (1 << 20)
        print("with %d unread /metrics of %d bytes: RSS %+.1f MiB, kernel send queues %.1f MiB" %
              (len(readers), size, grown_mib, queued_mib))
        assert queued_mib < 64, queued_mib  # not a copy per reader (256 x 2.6 MB)
        if proxy_testing.rss_bounds_apply():
            # One shared serialisation (a few MiB), not one per reader.
            assert grown_mib < 40, grown_mib
    finally:
        for s in readers:
            s.close()
