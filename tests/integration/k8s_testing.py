"""Helpers for the test_k8s_*.py files: Kubernetes stand-ins on one machine.

- kube-dns is dnsmasq (dns_server.py), with the names below: pods of a StatefulSet behind a
  headless Service, resolved through a pod's search list.
- Pods that move: redis-server shards on 127.0.0.x sharing one port (the old address refuses at
  once), or PodNetwork: one network namespace per pod on a private bridge, where deleting a pod's
  link makes its address vanish silently (connections hang instead of being refused).
- Clients that record every reply with its time: KeyLoop (one shard's keys, SET then GET with a
  unique value, one request at a time) and PipelineLoop (batches of pipelined SET/GET pairs).

Everything a test starts is stopped through its ProcessGroup or a fixture's finally.
"""

import os
import random
import re
import socket
import subprocess
import threading
import time

import harness
import proxy_testing
from proxy_testing import RawConnection, ReplyError, encode, parse

SERVICE = "redis-headless"
DOMAIN = "default.svc.cluster.local"
SEARCH_LIST = "default.svc.cluster.local svc.cluster.local cluster.local"
SRV_NAME = "_redis._tcp.%s.%s" % (SERVICE, DOMAIN)


def pod_fqdn(index, service=SERVICE):
    return "redis-%d.%s.%s" % (index, service, DOMAIN)


def free_port_on(hosts):
    """A TCP port free on every address of `hosts` at this instant (pods share a port)."""
    for _ in range(100):
        port = harness.free_port(hosts[0])
        try:
            for host in hosts[1:]:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((host, port))
        except OSError:
            continue
        return port
    raise harness.HarnessError("no port free on all of %s" % hosts)


def start_pods(group, hosts, port=None, spare_hosts=()):
    """One redis-server per address of `hosts`, all on one port (free on `spare_hosts` too, for
    pods that move there later). Retries with another port when one loses the race for it."""
    for attempt in range(harness.START_ATTEMPTS):
        chosen = port or free_port_on(list(hosts) + list(spare_hosts))
        servers = [group.redis(host=host, port=chosen, start=False) for host in hosts]
        for server in servers:
            server.launch()
        try:
            for server in servers:
                server.wait_started()
            return servers
        except harness.HarnessError:
            for server in servers:
                server.stop()
            if port is not None or attempt + 1 == harness.START_ATTEMPTS:
                raise
    raise harness.HarnessError("unreachable")


def write_file(path, text):
    """Replaces `path` atomically: a watcher or a reload never sees a half-written file."""
    temporary = "%s.tmp%d" % (path, os.getpid())
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)


def proxy_log(proxy):
    with open(proxy.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def wait_log(proxy, pattern, timeout=10.0, after=0):
    """Waits for a line matching `pattern` in the proxy's log past offset `after`; returns it."""
    regex = re.compile(pattern)

    def found():
        text = proxy_log(proxy)[after:]
        match = regex.search(text)
        return match.group(0) if match else None

    return harness.wait_until(found, timeout, "log line /%s/ from %s" % (pattern, proxy.name))


def wait_stats_port(proxy, timeout=harness.START_TIMEOUT):
    proxy.wait_listening([proxy.stats_port], timeout)


def keys_by_owner(config_path, owners, per_owner, prefix="k"):
    """{owner name: `per_owner` keys} as placement_tool places them under `config_path`."""
    candidates = ["%d:%s" % (i, prefix) for i in range(200 * per_owner * len(owners))]
    found = {owner: [] for owner in owners}
    for key, name in zip(candidates, proxy_testing.place(config_path, candidates)):
        if name in found and len(found[name]) < per_owner:
            found[name].append(key)
    short = [owner for owner, keys in found.items() if len(keys) < per_owner]
    if short:
        raise harness.HarnessError("too few keys placed on %s" % short)
    return found


class KeyLoop(threading.Thread):
    """One client connection writing and reading `keys` (all of one shard), round robin, until
    stopped: SET key <unique value>, GET key in one pipeline, checking both replies.

    Records (sent, answered, error or None) per round; a wrong reply or a dropped connection
    ends the loop and is kept in `problem`. `written` holds each key's last value the shard
    acknowledged. A round is never started less than `pace` seconds after the previous one
    started, so a few loops do not starve the proxy on a small machine.
    """

    def __init__(self, port, keys, label, pace=0.003):
        super().__init__(daemon=True)
        self.port = port
        self.keys = list(keys)
        self.label = label
        self.pace = pace
        self.events = []  # (sent, answered, error text or None)
        self.written = {}
        self.problem = None
        self._stop_event = threading.Event()

    def run(self):
        try:
            connection = RawConnection(self.port)
        except OSError as exc:
            self.problem = "connect: %r" % exc
            return
        sequence = 0
        try:
            while not self._stop_event.is_set():
                key = self.keys[sequence % len(self.keys)]
                value = "%s:%d:%d" % (self.label, sequence, time.monotonic_ns())
                sequence += 1
                sent = time.monotonic()
                set_reply, get_reply = [parse(r) for r in connection.pipeline(
                    [["SET", key, value], ["GET", key]])]
                answered = time.monotonic()
                error = None
                if set_reply == b"OK":
                    self.written[key] = value
                    if isinstance(get_reply, ReplyError):
                        error = str(get_reply)
                    elif get_reply != value.encode():
                        self.problem = "GET %s after SET %r answered %r" % (key, value, get_reply)
                        return
                elif isinstance(set_reply, ReplyError):
                    error = str(set_reply)
                    if not isinstance(get_reply, ReplyError) and get_reply is not None and \
                            get_reply.decode() != self.written.get(key):
                        self.problem = "GET %s after a failed SET answered %r, last written %r" % (
                            key, get_reply, self.written.get(key))
                        return
                else:
                    self.problem = "SET %s answered %r" % (key, set_reply)
                    return
                self.events.append((sent, answered, error))
                left = sent + self.pace - time.monotonic()
                if left > 0:
                    self._stop_event.wait(left)
        except (OSError, ConnectionError, ValueError) as exc:
            self.problem = "connection lost after %d rounds: %r" % (sequence - 1, exc)
        finally:
            connection.close()

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)
        if self.is_alive():
            raise harness.HarnessError("client loop %s did not stop" % self.label)

    def errors(self, since=0.0, until=float("inf")):
        return [e for e in list(self.events) if e[2] is not None and since <= e[0] <= until]

    def successes(self, since=0.0):
        return [e for e in list(self.events) if e[2] is None and e[0] >= since]

    def rounds(self):
        return len(self.events)


class PipelineLoop(threading.Thread):
    """One client connection sending batches of `batch` pipelined SET/GET pairs over `keys`
    (unique values), checking every reply, until stopped. Any error reply, wrong reply or
    disconnect ends the loop and is kept in `problem`; `replies` counts checked replies."""

    def __init__(self, port, keys, label="pipe", batch=32, pace=0.002):
        super().__init__(daemon=True)
        self.port = port
        self.keys = list(keys)
        self.label = label
        self.batch = batch
        self.pace = pace
        self.replies = 0
        self.problem = None
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self):
        try:
            connection = RawConnection(self.port)
        except OSError as exc:
            self.problem = "connect: %r" % exc
            return
        sequence = 0
        try:
            while not self._stop_event.is_set():
                started = time.monotonic()
                commands, expected = [], []
                for _ in range(self.batch):
                    key = self.keys[sequence % len(self.keys)]
                    value = "%s:%d" % (self.label, sequence)
                    sequence += 1
                    commands += [["SET", key, value], ["GET", key]]
                    expected += [b"OK", value.encode()]
                for command, want, got in zip(commands, expected, connection.pipeline(commands)):
                    value = parse(got)
                    if value != want:
                        self.problem = "%s %s: expected %r, got %r" % (
                            command[0], command[1], want, value)
                        return
                    with self._lock:
                        self.replies += 1
                left = started + self.pace - time.monotonic()
                if left > 0:
                    self._stop_event.wait(left)
        except (OSError, ConnectionError, ValueError) as exc:
            self.problem = "connection lost after %d replies: %r" % (self.replies, exc)
        finally:
            connection.close()

    def count(self):
        with self._lock:
            return self.replies

    def wait_progress(self, replies=200, timeout=20.0):
        """Waits until `replies` more replies were checked (the client is still going)."""
        target = self.count() + replies

        def progressed():
            if self.problem is not None:
                raise harness.HarnessError("pipelining client: %s" % self.problem)
            return self.count() >= target

        harness.wait_until(progressed, timeout, "the pipelining client to make progress")

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)
        if self.is_alive():
            raise harness.HarnessError("pipelining client %s did not stop" % self.label)


def run(*argv, check=True):
    """Runs a short system command (ip, ...); returns its CompletedProcess."""
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise harness.HarnessError("%s failed (%d): %s" % (" ".join(argv), result.returncode,
                                                           result.stderr.strip()))
    return result


class NetnsRedis(harness.RedisServer):
    """redis-server inside network namespace `netns`, bound to the pod's address there.

    Readiness is a PING over the bridge: /proc/net/tcp (which the harness reads) shows the
    test's own namespace, not the pod's. The fresh namespace has no other listener to race with.
    """

    name = "redis-server (netns)"

    def __init__(self, workdir, netns, host, port):
        super().__init__(workdir, host=host, port=port)
        self.netns = netns

    def launch(self):
        argv = ["ip", "netns", "exec", self.netns, harness.REDIS_SERVER_BIN, "--port",
                str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--dir", self.workdir,
                # Clients come over the bridge, not loopback: redis 7 would answer -DENIED.
                "--protected-mode", "no"]
        self.log_path = os.path.join(self.workdir, "redis-%s-%d.log" % (self.host, self.port))
        self._spawn(argv, self.log_path)  # `ip netns exec` execs: the pid is redis-server's

    def _wait_ready(self):
        def ready():
            if not self.running():
                raise self.failure("exited with status %s while starting" % self.proc.returncode)
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                    s.sendall(encode("PING"))
                    return s.recv(64).startswith(b"+PONG")
            except OSError:
                return False

        try:
            harness.wait_until(ready, harness.START_TIMEOUT, "redis at %s to answer" % self.address)
        except harness.WaitTimeout as exc:
            raise self.failure(str(exc)) from exc


class PodNetwork:
    """Pods as network namespaces on a bridge, in a private /24 nothing can leave the machine
    from: an `unreachable` route for its /16 comes first, the bridge's /24 is the only hole.

    add_pod() makes a namespace with a veth on the bridge; vanish() deletes the pod's link, so
    its address disappears without a FIN or RST reaching anyone, as when Kubernetes reschedules
    a pod; close() removes every namespace, link and route it made.
    """

    def __init__(self):
        self.tag = "%04x" % (os.getpid() & 0xFFFF)
        self.bridge = "rpk8sbr" + self.tag
        self.pods = {}  # netns name -> host-side veth name
        self.route = None
        self._bridge_made = False
        self.prefix = self._pick_prefix()
        self.gateway = self.prefix + ".1"

    @staticmethod
    def _pick_prefix():
        used = run("ip", "-4", "route", "show", "table", "all").stdout + \
            run("ip", "-4", "addr").stdout
        for _ in range(200):
            a, b = random.randrange(200, 250), random.randrange(1, 250)
            if ("10.%d." % a) not in used:
                return "10.%d.%d" % (a, b)
        raise harness.HarnessError("no free 10.x/16 for a test subnet")

    def open(self):
        # Can namespaces be made here at all? (The error says why not, for a skip message.)
        probe = "rpk8s-%s-probe" % self.tag
        run("ip", "netns", "add", probe)
        run("ip", "netns", "del", probe)
        supernet = "%s.0.0/16" % self.prefix.rsplit(".", 1)[0]
        run("ip", "route", "add", "unreachable", supernet)
        self.route = supernet
        run("ip", "link", "add", self.bridge, "type", "bridge")
        self._bridge_made = True
        run("ip", "addr", "add", self.gateway + "/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        return self

    def add_pod(self, index):
        """A new namespace with address <prefix>.<10+index>; returns (netns, address)."""
        netns = "rpk8s-%s-%d" % (self.tag, index)
        host_side, pod_side = "rpv%s%dh" % (self.tag, index), "rpv%s%dp" % (self.tag, index)
        address = "%s.%d" % (self.prefix, 10 + index)
        run("ip", "netns", "add", netns)
        self.pods[netns] = host_side
        run("ip", "link", "add", host_side, "type", "veth", "peer", "name", pod_side)
        run("ip", "link", "set", pod_side, "netns", netns)
        run("ip", "link", "set", host_side, "master", self.bridge, "up")
        run("ip", "-n", netns, "addr", "add", address + "/24", "dev", pod_side)
        run("ip", "-n", netns, "link", "set", pod_side, "up")
        run("ip", "-n", netns, "link", "set", "lo", "up")
        return netns, address

    def vanish(self, netns):
        """The pod's address disappears silently: its link is deleted (both veth ends)."""
        run("ip", "link", "del", self.pods[netns])

    def remove(self, netns):
        run("ip", "link", "del", self.pods[netns], check=False)
        run("ip", "netns", "del", netns, check=False)
        del self.pods[netns]

    def close(self):
        for netns in list(self.pods):
            self.remove(netns)
        if self._bridge_made:
            run("ip", "link", "del", self.bridge, check=False)
            self._bridge_made = False
        if self.route is not None:
            run("ip", "route", "del", "unreachable", self.route, check=False)
            self.route = None
