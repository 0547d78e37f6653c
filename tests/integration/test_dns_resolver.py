"""DnsResolver (c-ares on a libuv loop) against a real DNS server: dnsmasq standing in for kube-dns.

dnsmasq serves cluster.local from a hosts file on 127.0.1.1 and a port found free at run time, and
forwards nothing (--no-resolv, --local=/cluster.local/): no test ever reaches the machine's own
resolver. dns_resolver_probe runs every lookup given to it at once on one loop and prints a JSON
line per answer, in the order the answers arrive.

c-ares 1.18 facts the tests rely on: a resolv.conf nameserver line cannot carry a port, so the
search-list tests give --resolv-conf (search list, ndots) together with --dns-server (address and
port); a lookup nobody answers fails after timeout_ms * (2^tries - 1) per server (the timeout
doubles each round), not timeout_ms * tries; a UDP port nobody listens on fails at once (ICMP port
unreachable) with ARES_ECONNREFUSED.
"""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

import harness
from dns_server import DNS_HOST, Dnsmasq

LOCAL_TTL = 37  # distinctive, so a TTL seen by the probe can only have come from dnsmasq
INFINITE_TTL = 2**32 - 1  # DnsResolver's TTL for a literal address
PROBE_TIMEOUT = 30.0  # seconds; a hang of the probe is a failure, not a stuck test run

FQDN0 = "redis-0.redis-headless.default.svc.cluster.local"
FQDN1 = "redis-1.redis-headless.default.svc.cluster.local"
SRV_NAME = "_redis._tcp.redis-headless.default.svc.cluster.local"
SEARCH_LIST = "default.svc.cluster.local svc.cluster.local cluster.local"

HOSTS = {
    FQDN0: ["127.0.0.2"],
    FQDN1: ["127.0.0.3", "::1"],
}
SRV_RECORDS = [  # (name, target, port, priority, weight)
    (SRV_NAME, FQDN1, 6380, 0, 20),
    (SRV_NAME, FQDN0, 6379, 0, 50),
    (SRV_NAME, "redis-2.redis-headless.default.svc.cluster.local", 6381, 1, 10),
]


@pytest.fixture
def workdir(processes):
    return processes.new_workdir()


@pytest.fixture
def dnsmasq(processes, workdir):
    return processes.add(Dnsmasq(workdir, HOSTS, SRV_RECORDS, local_ttl=LOCAL_TTL))


def probe_path():
    path = os.path.join(harness.build_dir(), "tests", "integration", "dns_resolver_probe")
    if not os.path.exists(path):
        raise harness.HarnessError("%s is missing: build dns_resolver_probe" % path)
    return path


def run_probe(names=(), srv=(), servers=(), resolv_conf=None, timeout_ms=1000, tries=2,
              port=6379):
    """Runs the probe; returns (exit status, answers in arrival order, stderr, wall seconds)."""
    argv = [probe_path(), "--timeout-ms", str(timeout_ms), "--tries", str(tries),
            "--port", str(port)]
    for server in servers:
        argv += ["--dns-server", server]
    if resolv_conf is not None:
        argv += ["--resolv-conf", resolv_conf]
    for name in srv:
        argv += ["--srv", name]
    argv += list(names)
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                            check=False)
    elapsed = time.monotonic() - started
    # 3: the loop still had handles once the resolver had closed: a leak in DnsResolver.
    assert result.returncode != 3, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    return result.returncode, answers, result.stderr, elapsed


def by_name(answers):
    return {answer["name"]: answer for answer in answers}


def write_resolv_conf(workdir, name, lines):
    path = os.path.join(workdir, name)
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_a_records_carry_the_ttl_dnsmasq_serves(dnsmasq):
    code, answers, stderr, _ = run_probe([FQDN0, FQDN1], servers=[dnsmasq.server])
    assert code == 0, stderr
    answers = by_name(answers)
    assert answers[FQDN0]["addresses"] == ["127.0.0.2:6379"]
    assert answers[FQDN0]["ttl"] == LOCAL_TTL
    # Both families, each address with the requested port.
    assert sorted(answers[FQDN1]["addresses"]) == ["127.0.0.3:6379", "[::1]:6379"]
    assert answers[FQDN1]["ttl"] == LOCAL_TTL


def test_requested_port_is_set_on_every_address(dnsmasq):
    code, answers, stderr, _ = run_probe([FQDN1], servers=[dnsmasq.server], port=7001)
    assert code == 0, stderr
    assert sorted(answers[0]["addresses"]) == ["127.0.0.3:7001", "[::1]:7001"]


def test_nxdomain_fails_fast_with_not_found(dnsmasq):
    name = "redis-9.redis-headless.default.svc.cluster.local"
    code, answers, _, _ = run_probe([name, FQDN0], servers=[dnsmasq.server], timeout_ms=2000)
    assert code == 1
    answers = by_name(answers)
    assert answers[name]["status_name"] == "ARES_ENOTFOUND"
    assert answers[name]["addresses"] == [] and answers[name]["ttl"] == 0
    assert name in answers[name]["error"]
    # (an answer, not a timeout: that would be ARES_ETIMEOUT)
    assert answers[FQDN0]["status"] == 0


def test_address_change_is_seen_on_the_next_query(dnsmasq):
    code, answers, stderr, _ = run_probe([FQDN0], servers=[dnsmasq.server])
    assert code == 0, stderr
    assert answers[0]["addresses"] == ["127.0.0.2:6379"]

    moved = dict(HOSTS)
    moved[FQDN0] = ["127.0.0.5"]
    dnsmasq.write_hosts(moved)
    dnsmasq.reload()
    started = time.monotonic()

    def moved_answer():
        _, seen, _, _ = run_probe([FQDN0], servers=[dnsmasq.server])
        return seen[0]["addresses"] == ["127.0.0.5:6379"] and seen[0]

    answer = harness.wait_until(moved_answer, 5.0, "the new address of %s" % FQDN0)
    assert answer["ttl"] == LOCAL_TTL
    print("address change seen %.3f s after SIGHUP" % (time.monotonic() - started))


def test_short_names_resolve_through_the_search_list(dnsmasq, workdir):
    # As in a pod. The nameserver line is there as in a pod's file, but c-ares 1.18 cannot take
    # a port from it: --dns-server supplies dnsmasq's address and port.
    resolv_conf = write_resolv_conf(workdir, "resolv.conf", [
        "nameserver " + DNS_HOST, "search " + SEARCH_LIST, "options ndots:5"])
    short = ["redis-0.redis-headless", "redis-1.redis-headless.default",
             "redis-0.redis-headless.default.svc"]
    code, answers, stderr, _ = run_probe(short + [FQDN0], servers=[dnsmasq.server],
                                         resolv_conf=resolv_conf)
    assert code == 0, stderr
    answers = by_name(answers)
    assert answers["redis-0.redis-headless"]["addresses"] == ["127.0.0.2:6379"]
    assert sorted(answers["redis-1.redis-headless.default"]["addresses"]) == [
        "127.0.0.3:6379", "[::1]:6379"]
    assert answers["redis-0.redis-headless.default.svc"]["addresses"] == ["127.0.0.2:6379"]
    assert answers[FQDN0]["addresses"] == ["127.0.0.2:6379"]
    assert all(answer["ttl"] == LOCAL_TTL for answer in answers.values())


def test_short_name_fails_without_a_search_list(dnsmasq, workdir):
    # The same server with a resolv.conf that has no search line: the short name is asked as is,
    # which dnsmasq cannot answer, so the search list is what made the test above pass.
    resolv_conf = write_resolv_conf(workdir, "resolv-nosearch.conf", [
        "nameserver " + DNS_HOST, "options ndots:5"])
    code, answers, _, _ = run_probe(["redis-0.redis-headless"], servers=[dnsmasq.server],
                                    resolv_conf=resolv_conf)
    assert code == 1
    assert answers[0]["status"] != 0 and answers[0]["addresses"] == []


def test_srv_records_give_targets_ports_and_ttl(dnsmasq, workdir):
    resolv_conf = write_resolv_conf(workdir, "resolv.conf", [
        "nameserver " + DNS_HOST, "search " + SEARCH_LIST, "options ndots:5"])
    short = "_redis._tcp.redis-headless"
    code, answers, stderr, _ = run_probe(srv=[SRV_NAME, short], servers=[dnsmasq.server],
                                         resolv_conf=resolv_conf)
    assert code == 0, stderr
    answers = by_name(answers)
    expected = [  # priority first, then the heavier weight
        {"target": FQDN0, "port": 6379, "priority": 0, "weight": 50},
        {"target": FQDN1, "port": 6380, "priority": 0, "weight": 20},
        {"target": "redis-2.redis-headless.default.svc.cluster.local", "port": 6381,
         "priority": 1, "weight": 10},
    ]
    for name in (SRV_NAME, short):
        assert answers[name]["kind"] == "srv"
        assert answers[name]["targets"] == expected
        assert answers[name]["ttl"] == LOCAL_TTL


def test_srv_lookup_of_a_name_without_records_fails(dnsmasq):
    name = "_memcache._tcp.redis-headless.default.svc.cluster.local"
    code, answers, _, _ = run_probe(srv=[name], servers=[dnsmasq.server])
    assert code == 1
    assert answers[0]["status"] != 0 and answers[0]["targets"] == []
    assert answers[0]["status_name"] != "ARES_ETIMEOUT"  # an answer, not a timeout


def test_silent_server_times_out_within_the_c_ares_bound(dnsmasq):
    timeout_ms, tries = 200, 2
    bound_ms = timeout_ms * (2**tries - 1)  # 200 + 400: c-ares doubles the timeout per round
    dnsmasq.kill(signal.SIGSTOP)
    try:
        code, answers, _, _ = run_probe([FQDN0, "10.1.2.3", "::1"], servers=[dnsmasq.server],
                                        timeout_ms=timeout_ms, tries=tries)
    finally:
        dnsmasq.kill(signal.SIGCONT)
    assert code == 1
    # Literal addresses need no server: answered first, with no TTL to expire.
    assert [answer["name"] for answer in answers[:2]] == ["10.1.2.3", "::1"]
    assert answers[0]["addresses"] == ["10.1.2.3:6379"]
    assert answers[1]["addresses"] == ["[::1]:6379"]
    assert answers[0]["ttl"] == answers[1]["ttl"] == INFINITE_TTL
    timed_out = answers[2]
    assert timed_out["name"] == FQDN0
    assert timed_out["status_name"] == "ARES_ETIMEOUT"
    # Every try was waited for (a lower bound: a loaded machine only makes it later).
    assert timed_out["elapsed_ms"] >= bound_ms - 50, timed_out


def test_fast_answer_is_not_held_up_by_a_slow_one(processes, workdir):
    # dnsmasq forwards slow.test to a socket that never answers and serves cluster.local itself:
    # one server, one fast name, one that times out. The fast answer must come first.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((DNS_HOST, 0))
    try:
        server = processes.add(Dnsmasq(workdir, HOSTS, local_ttl=LOCAL_TTL, extra_args=[
            "--server=/slow.test/%s#%d" % (DNS_HOST, silent.getsockname()[1])]))
        code, answers, _, _ = run_probe(["redis-0.slow.test", FQDN0], servers=[server.server],
                                        timeout_ms=300, tries=2)
    finally:
        silent.close()
    assert code == 1
    assert [answer["name"] for answer in answers] == [FQDN0, "redis-0.slow.test"]
    assert answers[0]["addresses"] == ["127.0.0.2:6379"]
    assert answers[1]["status"] != 0
    assert answers[1]["elapsed_ms"] >= 300


def test_port_nobody_listens_on_fails_at_once(processes):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((DNS_HOST, 0))
        port = s.getsockname()[1]
    # Closed again: the kernel answers queries to it with ICMP port unreachable.
    code, answers, _, _ = run_probe([FQDN0], servers=["%s:%d" % (DNS_HOST, port)],
                                    timeout_ms=2000)
    assert code == 1
    assert answers[0]["status_name"] == "ARES_ECONNREFUSED"  # at once: not ARES_ETIMEOUT


@pytest.mark.parametrize("argv_tail,message", [
    (["--dns-server", "dns.example:53"], "invalid DNS server"),
    (["--dns-server", "127.0.1.1:99999"], "invalid DNS server"),
    (["--resolv-conf", "/nonexistent/resolv.conf"], "cannot read resolv.conf"),
])
def test_invalid_options_are_rejected(argv_tail, message):
    result = subprocess.run([probe_path()] + argv_tail + [FQDN0], capture_output=True,
                            text=True, timeout=PROBE_TIMEOUT, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
