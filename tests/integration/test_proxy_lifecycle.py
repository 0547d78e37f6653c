"""The ringproxy process from the outside: version and configuration checks, the log it keeps,
and SIGTERM: stop accepting, finish what is in flight, exit 0.
"""

import os
import re
import signal
import socket
import subprocess

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, encode

EXIT_TIMEOUT = 10.0  # seconds for the proxy to exit after SIGTERM
LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] (EMERG|ALERT|CRIT|ERROR|WARN|"
                      r"NOTICE|INFO|DEBUG|VERB|VVERB|VVVERB|PVERB) \S.*$")

GOOD_CONFIG = """alpha:
  listen: 127.0.0.1:22121
  hash: fnv1a_64
  distribution: ketama
  redis: true
  servers:
   - 127.0.0.1:6379:1 one
"""

BAD_CONFIG = """alpha:
  listen: 127.0.0.1:22121
  redis: true
  no_such_directive: 1
  servers:
   - 127.0.0.1:6379:1 one
"""


def _binary():
    return os.path.join(harness.build_dir(), "proxy", "ringproxy")


def _run(*args):
    return subprocess.run([_binary()] + list(args), capture_output=True, timeout=20,
                          check=False)


def test_version_flag_prints_the_name(tmp_path):
    for flag in ("-V", "--version"):
        result = _run(flag)
        assert result.returncode == 0
        assert result.stdout.decode().startswith("This is ringproxy-")


def test_config_check_accepts_a_good_file(tmp_path):
    path = tmp_path / "good.yml"
    path.write_text(GOOD_CONFIG)
    result = _run("-t", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert b"syntax is ok" in result.stdout


@pytest.mark.parametrize("text,where", [
    (BAD_CONFIG, ":4:3:"),
    (GOOD_CONFIG.replace("fnv1a_64", "nope"), ":3:9:"),
    (GOOD_CONFIG.replace("127.0.0.1:6379:1 one", "127.0.0.1:6379:zero one"), ":7:6:"),
    (GOOD_CONFIG + "alpha:\n  listen: 127.0.0.1:1\n", ":8:1:"),
], ids=["unknown-directive", "unknown-hash", "bad-weight", "duplicate-pool"])
def test_config_check_rejects_a_bad_file_with_its_position(tmp_path, text, where):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    result = _run("-t", "-c", str(path))
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "%s%s" % (path, where) in stderr, stderr
    # The same file stops a real start with the same message and status.
    started = _run("-c", str(path), "-o", str(tmp_path / "log"))
    assert started.returncode == 2 and "%s%s" % (path, where) in started.stderr.decode()


def test_a_listen_address_in_use_stops_the_start_with_status_2(processes, tmp_path):
    backend = processes.redis()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proxy = processes.ringproxy(wait_ready=False, pools={"p": {
            "listen": "127.0.0.1:%d" % port, "redis": True,
            "servers": ["%s:1" % backend.address]}})
        assert proxy.wait(EXIT_TIMEOUT) == 2
    assert "in use" in harness.log_tail(proxy.log_path) + harness.log_tail(proxy.output_path)


def _log_lines(proxy):
    with open(proxy.log_path, encoding="utf-8") as f:
        return f.read().splitlines()


def _processed(backends):
    return sum(b.client().info("stats")["total_commands_processed"] for b in backends)


def test_sigterm_during_redis_benchmark_exits_0_and_the_log_has_only_events(processes):
    backends = processes.redis_many(2)
    sharded = proxy_testing.ShardedProxy(processes, backends, workers=2, verbosity=5)
    proxy = sharded.proxy
    bench = subprocess.Popen(  # pylint: disable=consider-using-with
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(sharded.port), "-c", "20",
         "-n", "100000000", "-t", "set,get", "-P", "8", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        harness.wait_until(lambda: _processed(backends) > 50000, 30,
                           "redis-benchmark to get going through the proxy")
        proxy.kill(signal.SIGTERM)
        status = proxy.wait(EXIT_TIMEOUT)  # (raises if it is still running then)
        bench.wait(EXIT_TIMEOUT)  # it stops when the proxy closes its connections
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert status == 0
    requests = _processed(backends)
    lines = _log_lines(proxy)
    bad = [line for line in lines if not LOG_LINE.match(line)]
    assert not bad, "log lines not in the log format: %r" % bad[:5]
    # Events only: start, pools, the signal, the drain; nothing per request or per client.
    assert len(lines) < 20, "%d log lines for %d requests:\n%s" % (
        len(lines), requests, "\n".join(lines[:40]))
    assert "listening" in lines[0] and "drain" in lines[-2] and "exit" in lines[-1], lines


# Keeps its backend busy for about 300 ms (Redis then answers everything it read with it).
SLOW_SCRIPT = ("local s = redis.call('TIME') repeat local n = redis.call('TIME') "
               "until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 300000 return 'slow-done'")


def _backend_busy(backend):
    with RawConnection(backend.port, timeout=0.05) as probe:
        probe.send(encode("PING"))
        try:
            probe.reply_bytes()
            return False
        except OSError:
            return True


def test_sigterm_finishes_requests_in_flight_and_refuses_new_clients(processes):
    backends = processes.redis_many(2)
    sharded = proxy_testing.ShardedProxy(processes, backends, workers=1, timeout=None)
    proxy = sharded.proxy
    owner = sharded.owner("slow")
    with RawConnection(sharded.port) as idle, RawConnection(sharded.port) as conn:
        assert idle.command("PING") == b"+PONG\r\n"
        conn.send(encode("SET", "slow", "v") + encode("EVAL", SLOW_SCRIPT, 1, "slow") +
                  encode("GET", "slow") + encode("MGET", "slow", "other", "slow"))
        harness.wait_until(lambda: _backend_busy(owner), 5, "the slow script to run")
        proxy.kill(signal.SIGTERM)
        # Draining: no new connections (poll: the listener closes on the worker's loop).
        def refused():
            try:
                socket.create_connection(("127.0.0.1", sharded.port), timeout=1).close()
                return False
            except ConnectionRefusedError:
                return True
        harness.wait_until(refused, 5, "the proxy to stop accepting")
        assert conn.read_until_closed() == (b"+OK\r\n" + b"$9\r\nslow-done\r\n" + b"$1\r\nv\r\n" +
                                            b"*3\r\n$1\r\nv\r\n$-1\r\n$1\r\nv\r\n")
        assert idle.read_until_closed() == b""
    assert proxy.wait(EXIT_TIMEOUT) == 0


def test_a_client_of_a_removed_pool_gets_its_reply_then_is_closed(processes):
    """A reload removes a pool while one of its clients waits on a frozen shard: the client gets
    its reply once the shard answers, and then the proxy closes it (the pool no longer exists)."""
    shard = processes.redis()

    def pool():
        return {"redis": True, "servers": ["%s:1 s0" % shard.address]}

    proxy = processes.ringproxy(workers=1, pools={"kept": pool(), "removed": pool()})
    with RawConnection(proxy.ports["removed"]) as client:
        assert client.command("SET", "k", "v") == b"+OK\r\n"
        shard.kill(signal.SIGSTOP)
        try:
            client.send(encode("GET", "k"))
            kept = {"kept": proxy.written_pools["kept"]}
            with open(proxy.config_path, "w", encoding="utf-8") as f:
                f.write(harness.render_config(kept))
            os.kill(proxy.pid, signal.SIGHUP)

            def listener_closed():
                try:
                    socket.create_connection(("127.0.0.1", proxy.ports["removed"]), 1).close()
                    return False
                except ConnectionRefusedError:
                    return True

            harness.wait_until(listener_closed, 10, "the removed pool's listener to close")
        finally:
            shard.kill(signal.SIGCONT)
        # Its request in flight is answered, then the connection ends.
        assert client.read_until_closed() == b"$1\r\nv\r\n"
    assert proxy.client(pool="kept").get("k") == b"v"
