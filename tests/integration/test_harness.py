"""The harness itself: processes start, answer, stop and are reaped; failures carry their logs."""

import os
import signal
import socket

import pytest
import redis

import harness


def _refused(host, port):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def test_redis_server_answers_then_stop_reaps_it_and_frees_the_port(processes):
    server = processes.redis()
    assert server.client().ping() is True
    assert server.port in harness.listening_ports(server.pid)
    pid = server.pid
    server.stop()
    assert not server.running()
    assert not os.path.exists("/proc/%d" % pid) or open(
        "/proc/%d/stat" % pid, encoding="ascii").read().split()[2] != "Z"
    assert _refused(server.host, server.port)


def test_redis_server_listens_on_another_loopback_address(processes):
    server = processes.redis(host="127.0.0.2")
    assert server.client().set("k", "v") is True
    assert server.client().get("k") == b"v"


def test_redis_restart_keeps_the_address_and_starts_empty(processes):
    server = processes.redis()
    server.client().set("k", "v")
    address, old_pid = server.address, server.pid
    server.restart()
    assert server.address == address and server.pid != old_pid
    assert server.client().get("k") is None


def test_kill_with_a_signal_is_reported_by_wait(processes):
    server = processes.redis()
    server.kill(signal.SIGKILL)
    assert server.wait() == -signal.SIGKILL


def test_start_retries_with_a_fresh_port_after_a_collision(processes, monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = harness.free_port
        monkeypatch.setattr(harness, "free_port",
                            lambda host="127.0.0.1": next(ports, None) or real_free_port(host))
        server = processes.redis()
        assert server.port != taken
        assert server.client().ping() is True


def test_fixed_port_collision_fails_with_the_log(processes):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        with pytest.raises(harness.HarnessError, match="Address already in use"):
            processes.redis(port=squatter.getsockname()[1])


def test_nutcracker_serves_its_pool_and_stats(processes):
    backend = processes.redis()
    proxy = processes.nutcracker(pools={"beta": {"redis": True, "hash_tag": "{}",
                                                 "servers": ["%s:1 one" % backend.address]}})
    assert proxy.client().set("k", "v") is True
    assert backend.client().get("k") == b"v"
    stats = proxy.stats()
    assert stats["service"] == "nutcracker"
    assert "one" in stats["beta"]
    assert 'hash_tag: "{}"' in open(proxy.config_path, encoding="utf-8").read()


def test_proxy_start_failure_reports_config_and_log(processes):
    with pytest.raises(harness.HarnessError, match="unknown") as failure:
        processes.nutcracker(pools={"gamma": {"redis": True, "no_such_directive": 1,
                                              "servers": ["127.0.0.1:1:1"]}})
    assert "no_such_directive" in str(failure.value)


def test_group_close_stops_every_process_and_removes_its_directory():
    group = harness.ProcessGroup()
    backend = group.redis()
    proxy = group.nutcracker(pools={"p": {"redis": True,
                                          "servers": ["%s:1" % backend.address]}})
    procs = [backend.proc, proxy.proc]
    root = group.root
    group.close()
    assert all(p.returncode is not None for p in procs)
    assert not os.path.exists(root)
    assert _refused("127.0.0.1", backend.port) and _refused("127.0.0.1", proxy.port)


def test_render_config_quotes_what_yaml_would_misread():
    text = harness.render_config({"p": {"listen": "127.0.0.1:1", "hash_tag": "{}",
                                        "redis": True, "timeout": 5,
                                        "servers": ["127.0.0.1:2:1 name", "a: b"]}})
    assert text == ('p:\n  listen: 127.0.0.1:1\n  hash_tag: "{}"\n  redis: true\n'
                    '  timeout: 5\n  servers:\n   - 127.0.0.1:2:1 name\n   - "a: b"\n')


def test_wait_until_is_bounded():
    with pytest.raises(harness.HarnessError, match="timed out"):
        harness.wait_until(lambda: False, 0.05, "nothing")


def test_redis_client_closes_with_the_server(processes):
    server = processes.redis()
    client = server.client()
    client.ping()
    server.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        client.ping()


def test_redis_many_starts_one_server_per_address(processes):
    servers = processes.redis_many(["127.0.0.1", "127.0.0.10", "127.0.0.1"])
    assert [s.host for s in servers] == ["127.0.0.1", "127.0.0.10", "127.0.0.1"]
    assert len({s.address for s in servers}) == 3
    assert all(s.client().ping() for s in servers)
