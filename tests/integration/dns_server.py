"""A real DNS server for the tests: dnsmasq standing in for kube-dns, and a tiny A-record client.

dnsmasq runs in the foreground as a child of the test (stopped with its ProcessGroup), on
127.0.1.1 and a port found free at run time for both UDP and TCP. It serves cluster.local from a
hosts file (rewritten atomically, then SIGHUP: the new answer is served at once) and SRV records
given as flags (read only at start, as in Kubernetes, where SRV targets stay and A records
change); it forwards nothing (--no-resolv, --local=/cluster.local/), so no test ever asks the
machine's own resolver about cluster.local. query_a() asks it directly, to time when a change
became visible.
"""

import getpass
import os
import random
import signal
import socket
import struct
import time

import harness

DNS_HOST = "127.0.1.1"
DNSMASQ_BIN = "/usr/sbin/dnsmasq"


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


class Dnsmasq(harness.ManagedProcess):
    """dnsmasq in the foreground answering cluster.local from a hosts file and --srv-host flags.

    `hosts` is {name: [address, ...]}; `srv_records` are (SRV name, target, port, priority,
    weight); `local_ttl` is the TTL of every answer; `extra_args` go to dnsmasq as they are.
    """

    name = "dnsmasq"

    def __init__(self, workdir, hosts, srv_records=(), local_ttl=1, extra_args=()):
        super().__init__(workdir)
        os.chmod(workdir, 0o755)
        self.hosts_path = os.path.join(workdir, "hosts")
        self.port = None
        self.srv_records = list(srv_records)
        self.local_ttl = local_ttl
        self.extra_args = list(extra_args)
        self.write_hosts(hosts)

    @property
    def server(self):
        """The --dns-server value that points at this dnsmasq."""
        return "%s:%d" % (DNS_HOST, self.port)

    def write_hosts(self, hosts):
        """Replaces the hosts file atomically (dnsmasq sees the old or the new file, whole);
        reload() makes dnsmasq read it."""
        temporary = self.hosts_path + ".tmp"
        with open(temporary, "w", encoding="ascii") as f:
            for name, addresses in hosts.items():
                for address in addresses:
                    f.write("%s %s\n" % (address, name))
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.hosts_path)

    def reload(self):
        """SIGHUP: dnsmasq re-reads the hosts file and clears its cache."""
        self.kill(signal.SIGHUP)

    def update(self, hosts):
        """New A records, served at once: rewrite the file, then reload()."""
        self.write_hosts(hosts)
        self.reload()

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

    def terminate(self):
        # A stopped dnsmasq (SIGSTOP, a DNS server that does not answer) would only die of the
        # SIGKILL that follows STOP_TIMEOUT later.
        self.kill(signal.SIGCONT)
        super().terminate()

    def _launch(self):
        argv = [DNSMASQ_BIN, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--listen-address=" + DNS_HOST, "--bind-interfaces", "--port=%d" % self.port,
                "--addn-hosts=" + self.hosts_path, "--local=/cluster.local/",
                "--local-ttl=%d" % self.local_ttl,
                "--pid-file=" + os.path.join(self.workdir, "dnsmasq.pid"),
                # Stay the invoking user: the hosts file is re-read after a SIGHUP.
                "--user=" + getpass.getuser(), "--log-facility=-", "--log-queries"]
        argv += ["--srv-host=%s,%s,%d,%d,%d" % tuple(record) for record in self.srv_records]
        self._spawn(argv + self.extra_args, os.path.join(self.workdir, "dnsmasq.log"))

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


def start(group, hosts, srv_records=(), local_ttl=1, extra_args=()):
    """A started Dnsmasq in a directory of ProcessGroup `group`, stopped with the group."""
    return group.add(Dnsmasq(group.new_workdir(), hosts, srv_records, local_ttl, extra_args))


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
