"""Helpers for the test_k8s_*.py files: Kubernetes stand-ins on one machine.

- Dnsmasq plays kube-dns: cluster.local from a hosts file (rewritten atomically, then SIGHUP) and
  SRV records, on 127.0.1.1 and a port found free at run time; it forwards nothing, so no test
  ever asks the machine's own resolver about cluster.local. query_a() asks it directly, to time
  when a change became visible.
- Pods that move: redis-server shards on 127.0.0.x sharing one port (the old address refuses at
  once), or PodNetwork: one network namespace per pod on a private bridge, where deleting a pod's
  link makes its address vanish silently (connections hang instead of being refused).
- Clients that record every reply with its time: KeyLoop (one shard's keys, SET then GET with a
  unique value, one request at a time) and PipelineLoop (batches of pipelined SET/GET pairs).
- metrics(): the proxy's Prometheus text from its stats port, as {series: value}.

Everything a test starts is stopped through its ProcessGroup or a fixture's finally.
"""

import getpass
import http.client
import os
import random
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import harness
import proxy_testing
from proxy_testing import RawConnection, ReplyError, encode, parse

DNS_HOST = "127.0.1.1"
DNSMASQ_BIN = "/usr/sbin/dnsmasq"
SERVICE = "redis-headless"
DOMAIN = "default.svc.cluster.local"
SEARCH_LIST = "default.svc.cluster.local svc.cluster.local cluster.local"
SRV_NAME = "_redis._tcp.%s.%s" % (SERVICE, DOMAIN)


def pod_fqdn(index, service=SERVICE):
    return "redis-%d.%s.%s" % (index, service, DOMAIN)


def free_dns_port():
    """A port free for both UDP and TCP on DNS_HOST (dnsmasq binds both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((DNS_HOST, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((DNS_HOST, port))
                except OSError:
                    continue
        return port


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


class Dnsmasq(harness.ManagedProcess):
    """dnsmasq in the foreground answering cluster.local from a hosts file and --srv-host flags.

    `hosts` is {name: [address, ...]}; `srv_records` are (SRV name, target, port, priority,
    weight). SRV records are flags and stay as started (as in Kubernetes, where SRV targets stay
    and A records change); the hosts file is re-read on reload().
    """

    name = "dnsmasq"

    def __init__(self, workdir, hosts, srv_records=(), local_ttl=1):
        super().__init__(workdir)
        os.chmod(workdir, 0o755)
        self.hosts_path = os.path.join(workdir, "hosts")
        self.port = None
        self.srv_records = list(srv_records)
        self.local_ttl = local_ttl
        self.hosts = {}
        self.write_hosts(hosts)

    @property
    def server(self):
        """The --dns-server value that points at this dnsmasq."""
        return "%s:%d" % (DNS_HOST, self.port)

    def write_hosts(self, hosts):
        """Replaces the hosts file atomically (dnsmasq sees the old or the new file, whole)."""
        temporary = self.hosts_path + ".tmp"
        with open(temporary, "w", encoding="ascii") as f:
            for name, addresses in hosts.items():
                for address in addresses:
                    f.write("%s %s\n" % (address, name))
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.hosts_path)
        self.hosts = {name: list(addresses) for name, addresses in hosts.items()}

    def update(self, hosts):
        """New A records, served at once: rewrite the file, SIGHUP (re-read, cache cleared)."""
        self.write_hosts(hosts)
        self.kill(signal.SIGHUP)

    def start(self):
        for _ in range(harness.START_ATTEMPTS):
            self.port = free_dns_port()
            self._launch()
            try:
                self.wait_listening([self.port])
                return self
            except harness.HarnessError:
                self.stop()  # most likely lost the race for the port: try another
        raise self.failure("did not start in %d attempts" % harness.START_ATTEMPTS)

    def restart(self, srv_records):
        """Stops and starts again on the same port with other SRV records (dnsmasq reads them
        only at start). Lookups fail meanwhile, as when kube-dns is briefly away."""
        self.stop()
        self.srv_records = list(srv_records)
        self._launch()
        self.wait_listening([self.port])
        return self

    def _launch(self):
        argv = [DNSMASQ_BIN, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--listen-address=" + DNS_HOST, "--bind-interfaces", "--port=%d" % self.port,
                "--addn-hosts=" + self.hosts_path, "--local=/cluster.local/",
                "--local-ttl=%d" % self.local_ttl,
                "--pid-file=" + os.path.join(self.workdir, "dnsmasq.pid"),
                # Stay the invoking user: the hosts file is re-read after a SIGHUP.
                "--user=" + getpass.getuser(), "--log-facility=-", "--log-queries"]
        argv += ["--srv-host=%s,%s,%d,%d,%d" % record for record in self.srv_records]
        self._spawn(argv, os.path.join(self.workdir, "dnsmasq.log"))

    def query_a(self, name, timeout=2.0):
        """The IPv4 addresses dnsmasq answers for `name` now (sorted), or None for NXDOMAIN."""
        return query_a(self.port, name, timeout)

    def wait_answer(self, name, expected, timeout=5.0):
        """Waits until dnsmasq answers `expected` (a list, or None for NXDOMAIN) for `name`;
        returns the monotonic time it first did."""
        expected = sorted(expected) if expected is not None else None

        def shows():
            return self.query_a(name) == expected and time.monotonic()

        return harness.wait_until(shows, timeout, "dnsmasq to answer %s for %s" % (expected, name))


def _skip_name(data, pos):
    while True:
        length = data[pos]
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def query_a(port, name, timeout=2.0, host=DNS_HOST):
    """One A query over UDP; the sorted IPv4 addresses of the answer, or None for NXDOMAIN."""
    query_id = random.randrange(1 << 16)
    question = b"".join(bytes([len(label)]) + label.encode("ascii")
                        for label in name.split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + \
        struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        while True:
            data = s.recv(4096)
            if struct.unpack("!H", data[:2])[0] == query_id:
                break
    _, flags, questions, answers, _, _ = struct.unpack("!HHHHHH", data[:12])
    rcode = flags & 0xF
    if rcode == 3:
        return None
    if rcode != 0:
        raise harness.HarnessError("DNS error %d for %s" % (rcode, name))
    pos = 12
    for _ in range(questions):
        pos = _skip_name(data, pos) + 4
    addresses = []
    for _ in range(answers):
        pos = _skip_name(data, pos)
        rtype, _, _, length = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += length
    return sorted(addresses)


def new_workdir(group):
    """A fresh directory inside `group`'s (removed with it)."""
    return tempfile.mkdtemp(prefix="k8s-", dir=group.root)


def start_dnsmasq(group, hosts, srv_records=(), local_ttl=1):
    server = Dnsmasq(new_workdir(group), hosts, srv_records, local_ttl)
    group.processes.append(server)  # stopped with the group
    return server.start()


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


def http_get(port, path, timeout=5.0):
    """(status, body text) of GET `path` on 127.0.0.1:`port`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def metrics(proxy):
    """{'name{labels}': value} from the proxy's /metrics."""
    status, body = http_get(proxy.stats_port, "/metrics")
    if status != 200:
        raise harness.HarnessError("/metrics answered %d: %s" % (status, body[:200]))
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


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
