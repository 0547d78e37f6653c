"""Configuration reloads of the real ringproxy while a client pipelines throughout.

The configuration lives as a Kubernetes ConfigMap volume lays it out: ringproxy.yml is a symlink
to ..data/ringproxy.yml, ..data a symlink to a timestamped directory that an update replaces by
renaming a new symlink over ..data. ringproxy watches the file's directory, so a swap of ..data
reloads with no signal; an edit inside the timestamped directory is invisible to that watch and
is picked up by SIGHUP alone, which separates the two triggers.

One PipelineLoop connection sends batches of pipelined SET/GET pairs with unique values through
every step (add a server, change the timeout, an invalid file, a ConfigMap swap that removes the
server again, a new listen port) and checks every reply: no disconnect, no error, no wrong value.
Its keys are those every configuration of the test places on the same server.
"""

import os
import re
import signal
import socket
import time

import harness
import k8s_testing
import proxy_testing
from k8s_testing import KeyLoop, PipelineLoop
from proxy_testing import RawConnection, config_reloads, parse

OLD_TIMEOUT_MS = 5000
NEW_TIMEOUT_MS = 400
LOG_TIMEOUT = 10.0


class ConfigMapVolume:
    """A directory laid out as the kubelet lays out a ConfigMap volume with one key."""

    def __init__(self, root, key="ringproxy.yml"):
        self.root = root
        self.key = key
        self.version = None
        self.versions = 0
        os.makedirs(root)

    @property
    def path(self):
        return os.path.join(self.root, self.key)

    def publish(self, text):
        """What the kubelet does on an update: a new timestamped directory, a new ..data symlink
        renamed over the old one (atomic), the old directory removed."""
        self.versions += 1
        version = "..2026_11_23_12_00_%02d.%d" % (self.versions, os.getpid())
        os.mkdir(os.path.join(self.root, version))
        with open(os.path.join(self.root, version, self.key), "w", encoding="utf-8") as f:
            f.write(text)
        staged = os.path.join(self.root, "..data_tmp")
        os.symlink(version, staged)
        os.replace(staged, os.path.join(self.root, "..data"))
        if not os.path.islink(self.path):
            os.symlink(os.path.join("..data", self.key), self.path)
        if self.version is not None:
            os.remove(os.path.join(self.root, self.version, self.key))
            os.rmdir(os.path.join(self.root, self.version))
        self.version = version

    def edit_in_place(self, text):
        """Replaces the file inside the current version directory (below the watched one)."""
        k8s_testing.write_file(os.path.join(self.root, self.version, self.key), text)


def config_text(listen_port, servers, timeout_ms):
    return harness.render_config({"shards": {
        "listen": "127.0.0.1:%d" % listen_port, "redis": True, "hash": "fnv1a_64",
        "distribution": "ketama", "timeout": timeout_ms, "auto_eject_hosts": False,
        "servers": ["%s:1 s%d" % (backend.address, i) for i, backend in servers]}})


def placement(root, name, text, keys):
    path = os.path.join(root, name)
    k8s_testing.write_file(path, text)
    return dict(zip(keys, proxy_testing.place(path, keys)))


def timed_get(port, key):
    """(reply, seconds) of one GET on a fresh connection."""
    with RawConnection(port) as connection:
        started = time.monotonic()
        reply = parse(connection.command("GET", key))
        return reply, time.monotonic() - started


def connect_refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2.0).close()
        return False
    except ConnectionRefusedError:
        return True


def test_reloads_keep_a_pipelining_client_served(processes):
    backends = processes.redis_many(4)
    three = list(enumerate(backends[:3]))
    four = list(enumerate(backends))
    port_a = harness.free_port()
    volume = ConfigMapVolume(os.path.join(processes.root, "configmap"))
    initial = config_text(port_a, three, OLD_TIMEOUT_MS)
    volume.publish(initial)
    proxy = processes.ringproxy(config_text=initial, listen_ports=[port_a], workers=2,
                                verbosity=5, start=False)
    proxy.config_path = volume.path  # start() writes the same text through the symlinks
    proxy.ports = {"shards": port_a}  # for proxy.client()
    proxy.start()
    k8s_testing.wait_stats_port(proxy)

    candidates = ["%d:r" % i for i in range(4000)]
    on_three = placement(processes.root, "three.yml", initial, candidates)
    on_four = placement(processes.root, "four.yml",
                        config_text(port_a, four, OLD_TIMEOUT_MS), candidates)
    stable = [k for k in candidates if on_three[k] == on_four[k]]
    movers = [k for k in candidates if on_three[k] != on_four[k]]
    # ketama: adding s3 moves keys only to s3, about a quarter of them.
    assert {on_four[k] for k in movers} == {"s3"}
    share = len(movers) / len(candidates)
    assert 0.1 < share < 0.4, share
    by_name = {"s%d" % i: backend for i, backend in four}

    client = PipelineLoop(port_a, stable[:300], label="pipelined")
    mover_loop = KeyLoop(port_a, movers[:50], "movers")
    client.start()
    mover_loop.start()
    log_offset = 0
    try:
        client.wait_progress()

        # 1. A server added, by SIGHUP (the edit is below the watched directory).
        log_offset = len(k8s_testing.proxy_log(proxy))
        volume.edit_in_place(config_text(port_a, four, OLD_TIMEOUT_MS))
        proxy.kill(signal.SIGHUP)
        k8s_testing.wait_log(proxy, r"reload \(SIGHUP\): configuration '[^']*' applied",
                             LOG_TIMEOUT, log_offset)

        def movers_on_s3():
            return by_name["s3"].client().exists(*movers[:50]) > 0

        harness.wait_until(movers_on_s3, LOG_TIMEOUT, "keys moving to the added server")
        client.wait_progress()
        mover_loop.stop()
        # Fresh keys land where placement_tool puts them under four servers, s3 included.
        writer = proxy.client()
        fresh = movers[50:150] + stable[300:400]
        for key in fresh:
            assert writer.set(key, "fresh:" + key)
        for key in fresh:
            assert by_name[on_four[key]].client().get(key) == ("fresh:" + key).encode(), key

        # 2. A shorter timeout, by SIGHUP: a request to a frozen s3 now fails after 0.4 s.
        log_offset = len(k8s_testing.proxy_log(proxy))
        volume.edit_in_place(config_text(port_a, four, NEW_TIMEOUT_MS))
        proxy.kill(signal.SIGHUP)
        k8s_testing.wait_log(proxy, r"reload \(SIGHUP\): configuration '[^']*' applied",
                             LOG_TIMEOUT, log_offset)
        by_name["s3"].kill(signal.SIGSTOP)
        try:
            reply, elapsed = timed_get(port_a, movers[60])
        finally:
            by_name["s3"].kill(signal.SIGCONT)
        assert isinstance(reply, proxy_testing.ReplyError) and "timed out" in str(reply), reply
        # The new timeout applied: the proxy logs the one it used (and it waited that long: a
        # lower bound only, a loaded machine makes it later).
        k8s_testing.wait_log(proxy, r"request to server 's3' \([^)]*\) in pool '[^']+' timed out "
                             r"after %d ms" % NEW_TIMEOUT_MS, LOG_TIMEOUT, log_offset)
        assert elapsed >= NEW_TIMEOUT_MS / 1000 * 0.9, elapsed
        client.wait_progress()
        assert config_reloads(proxy) == (2, 0)

        # 3. An invalid file: rejected with its reason, the running configuration stays.
        log_offset = len(k8s_testing.proxy_log(proxy))
        volume.edit_in_place(config_text(port_a, four, NEW_TIMEOUT_MS).replace(
            "hash: fnv1a_64", "hash: nope"))
        proxy.kill(signal.SIGHUP)
        line = k8s_testing.wait_log(
            proxy, r"reload \(SIGHUP\) rejected, keeping the running configuration: .*",
            LOG_TIMEOUT, log_offset)
        assert re.search(r'ringproxy\.yml:\d+:\d+: hash "nope"', line), line
        print("\ninvalid file: %s" % line)
        assert config_reloads(proxy) == (2, 1)
        client.wait_progress()
        with RawConnection(port_a) as fresh_connection:  # s3 is still in the ring
            assert parse(fresh_connection.command("GET", movers[60])) == (
                "fresh:" + movers[60]).encode()

        # 4. A ConfigMap update, no signal: s3 removed again; its keys go back to their owners.
        log_offset = len(k8s_testing.proxy_log(proxy))
        volume.publish(config_text(port_a, three, NEW_TIMEOUT_MS))
        k8s_testing.wait_log(proxy, r"reload \(file change\): configuration '[^']*' applied",
                             LOG_TIMEOUT, log_offset)
        harness.wait_until(lambda: config_reloads(proxy) == (3, 1),
                           LOG_TIMEOUT, "the reload counted")
        writer = proxy.client()
        for key in movers[150:250]:
            assert writer.set(key, "back:" + key)
        for key in movers[150:250]:
            assert by_name[on_three[key]].client().get(key) == ("back:" + key).encode(), key
        assert by_name["s3"].client().exists(*movers[150:250]) == 0
        client.wait_progress()

        # 5. A new listen port: up before the old one closes; the connected client stays.
        port_b = harness.free_port()
        log_offset = len(k8s_testing.proxy_log(proxy))
        volume.publish(config_text(port_b, three, NEW_TIMEOUT_MS))
        k8s_testing.wait_log(proxy, r"pool 'shards' now listening on 127\.0\.0\.1:%d" % port_b,
                             LOG_TIMEOUT, log_offset)
        harness.wait_until(lambda: port_b in harness.listening_ports(proxy.pid) and
                           port_a not in harness.listening_ports(proxy.pid),
                           LOG_TIMEOUT, "the listener to move from %d to %d" % (port_a, port_b))
        with RawConnection(port_b) as moved_listener:
            assert parse(moved_listener.command("PING")) == b"PONG"
        assert connect_refused(port_a)
        client.wait_progress()
        assert config_reloads(proxy) == (4, 1)
    finally:
        mover_loop.stop()
        client.stop()

    assert client.problem is None, client.problem
    assert mover_loop.problem is None, mover_loop.problem
    log = k8s_testing.proxy_log(proxy)
    print("\nreloads: the pipelining client got %d checked replies, all right; the keys moving to "
          "the added server saw %d errors in %d rounds" % (
              client.count(), len(mover_loop.errors()), mover_loop.rounds()))
    assert not re.search(r"new topology not applied", log), log[-2000:]
