"""StatefulSet pods that move, seen through headless-service DNS, by the real ringproxy.

Pods are redis-server processes on 127.0.0.2-4 sharing one port; their names
redis-N.redis-headless.default.svc.cluster.local come from dnsmasq standing in for kube-dns
(TTL 1 s). ringproxy gets --dns-server for dnsmasq and --dns-ttl-max 1. Clients (KeyLoop) write
and read every shard's keys throughout, each round with a unique value; timings are printed
(pytest -s shows them).
"""

import os
import re
import time

import pytest

import dns_server
import harness
import k8s_testing
import proxy_testing
from k8s_testing import KeyLoop, pod_fqdn

POD_HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
MOVED_HOST = "127.0.0.5"  # where redis-1 is rescheduled
NAMES = ["redis-0", "redis-1", "redis-2"]
RECOVERY_BOUND = 5.0  # seconds to wait past DNS showing a change for the proxy to act (TTL 1 s)
PROGRESS_TIMEOUT = 20.0
LOOPS_PER_SHARD = 2  # two connections per shard: with two workers, both are likely exercised


def pool(servers, timeout):
    return {"k8s": {"redis": True, "hash": "fnv1a_64", "distribution": "ketama",
                    "timeout": timeout, "auto_eject_hosts": False, "servers": servers}}


def dns_servers(port, host_of=pod_fqdn):
    return ["%s:%d:1 %s" % (host_of(i), port, name) for i, name in enumerate(NAMES)]


def start_proxy(processes, dns, servers, timeout, extra_args=()):
    return processes.ringproxy(
        pools=pool(servers, timeout), workers=2, verbosity=5,  # NOTICE: address changes
        extra_args=["--dns-server", dns.server, "--dns-ttl-max", "1"] + list(extra_args))


def dns_address_changes(proxy):
    return proxy_testing.metric(proxy_testing.metrics(proxy), "ringproxy_dns_address_changes_total")


def start_cluster(processes):
    pods = k8s_testing.start_pods(processes, POD_HOSTS, spare_hosts=[MOVED_HOST])
    dns = dns_server.start(
        processes, {pod_fqdn(i): [host] for i, host in enumerate(POD_HOSTS)})
    return pods, dns


def start_loops(proxy, keys):
    """{shard name: [KeyLoop, ...]}, each loop on its own connection and its own keys."""
    loops = {}
    for name, shard_keys in keys.items():
        loops[name] = [KeyLoop(proxy.port, shard_keys[i::LOOPS_PER_SHARD], "%s/%d" % (name, i))
                       for i in range(LOOPS_PER_SHARD)]
    for loop in all_loops(loops):
        loop.start()
    return loops


def all_loops(loops):
    return [loop for shard in loops.values() for loop in shard]


def wait_rounds(loops, rounds=20, timeout=PROGRESS_TIMEOUT, since=0.0, successes=False):
    """Waits until every loop in `loops` did `rounds` more rounds (or successes after `since`)."""
    targets = [(loop, loop.rounds() + rounds) for loop in loops]

    def done():
        for loop, target in targets:
            if loop.problem is not None:
                raise harness.HarnessError("client %s: %s" % (loop.label, loop.problem))
            if successes:
                if len(loop.successes(since)) < rounds:
                    return False
            elif loop.rounds() < target:
                return False
        return True

    harness.wait_until(done, timeout, "client rounds")


def stop_loops(loops):
    for loop in all_loops(loops):
        loop.stop()
    problems = {loop.label: loop.problem for loop in all_loops(loops) if loop.problem}
    assert not problems, problems


def assert_data_on_owners(loops, owners, absent_from=()):
    """Every key's last acknowledged value is on the server that owns it by name; keys are on
    no other server of `absent_from`."""
    for name, shard_loops in loops.items():
        owner = owners[name].client()
        for loop in shard_loops:
            for key, value in loop.written.items():
                assert owner.get(key) == value.encode(), (name, key)
                for other_name, other in absent_from:
                    if other_name != name:
                        assert other.client().exists(key) == 0, (key, other_name)


def test_pod_moving_to_a_new_address_is_followed_and_no_key_moves(processes):
    pods, dns = start_cluster(processes)
    proxy = start_proxy(processes, dns, dns_servers(pods[0].port), timeout=2000)
    keys = k8s_testing.keys_by_owner(proxy.config_path, NAMES, 6 * LOOPS_PER_SHARD)
    # The ring is built from names: the same servers written as IP addresses place every key
    # exactly where the DNS names do, so an address change cannot move a key.
    ip_config = os.path.join(processes.root, "by-address.yml")
    by_address = pool(["%s:1 %s" % (pod.address, name) for pod, name in zip(pods, NAMES)], 2000)
    by_address["k8s"]["listen"] = "127.0.0.1:1"  # never started, only placed
    k8s_testing.write_file(ip_config, harness.render_config(by_address))
    every_key = [k for shard in keys.values() for k in shard]
    assert proxy_testing.place(ip_config, every_key) == proxy_testing.place(
        proxy.config_path, every_key)

    loops = start_loops(proxy, keys)
    moved, others = loops["redis-1"], loops["redis-0"] + loops["redis-2"]
    try:
        wait_rounds(all_loops(loops))
        log_offset = len(k8s_testing.proxy_log(proxy))

        # The pod is rescheduled: gone from its address, then up (empty) elsewhere, then DNS.
        pods[1].stop()
        stopped_at = time.monotonic()
        new_pod = processes.redis(host=MOVED_HOST, port=pods[1].port)
        new_pod_up = time.monotonic()
        changed_at = time.monotonic()  # the new answer can be served from here on
        dns.update({pod_fqdn(0): [POD_HOSTS[0]], pod_fqdn(1): [MOVED_HOST],
                    pod_fqdn(2): [POD_HOSTS[2]]})
        dns_shows = dns.wait_answer(pod_fqdn(1), [MOVED_HOST])

        wait_rounds(moved, rounds=20, timeout=RECOVERY_BOUND + PROGRESS_TIMEOUT,
                    since=stopped_at, successes=True)
        wait_rounds(others)
    finally:
        stop_loops(loops)

    first_success = min(loop.successes(stopped_at)[0][1] for loop in moved)
    recovery = first_success - changed_at
    moved_errors = sum(len(loop.errors(stopped_at)) for loop in moved)
    other_errors = sum(len(loop.errors()) for loop in others)
    print("\nmove (loopback): DNS change -> first request served by the new address: %.3f s "
          "(%.3f s after dnsmasq was seen answering it); the pod was away %.3f s; moved shard: "
          "%d failed rounds; other shards: %d errors in %d rounds" % (
              recovery, first_success - dns_shows, first_success - stopped_at, moved_errors,
              other_errors, sum(loop.rounds() for loop in others)))

    assert other_errors == 0, [loop.errors()[:3] for loop in others]
    for loop in moved:
        # Nothing answered while no pod existed; once served from the new pod, never failed
        # again (old connections are gone, none is used by mistake).
        assert not [e for e in loop.successes(stopped_at) if e[1] < new_pod_up], loop.label
        back = loop.successes(stopped_at)[0][0]
        assert loop.errors(since=back) == [], (loop.label, loop.errors(since=back)[:3])
    # Every acknowledged write is on its shard by name: redis-1's on the new pod.
    assert_data_on_owners(loops, {"redis-0": pods[0], "redis-1": new_pod, "redis-2": pods[2]},
                          absent_from=[("redis-0", pods[0]), ("redis-2", pods[2]),
                                       ("redis-1", new_pod)])
    log = k8s_testing.proxy_log(proxy)[log_offset:]
    port = pods[1].port
    # The change is counted, and logged with the name, the old and the new address.
    k8s_testing.wait_stats_port(proxy)
    assert dns_address_changes(proxy) >= 1
    assert re.search(r"dns: %s:%d: %s:%d -> %s:%d" % (
        re.escape(pod_fqdn(1)), port, re.escape(POD_HOSTS[1]), port, re.escape(MOVED_HOST),
        port), log), log[-2000:]


def test_name_gone_from_dns_fails_its_keys_fast_and_comes_back(processes):
    pods, dns = start_cluster(processes)
    timeout_ms = 3000
    proxy = start_proxy(processes, dns, dns_servers(pods[0].port), timeout=timeout_ms)
    keys = k8s_testing.keys_by_owner(proxy.config_path, NAMES, 6 * LOOPS_PER_SHARD)
    loops = start_loops(proxy, keys)
    moved, others = loops["redis-1"], loops["redis-0"] + loops["redis-2"]
    present = {pod_fqdn(i): [host] for i, host in enumerate(POD_HOSTS)}
    try:
        wait_rounds(all_loops(loops))
        # The pod restarts: its name is gone (NXDOMAIN). Its redis-server keeps running, so
        # only DNS can make the proxy fail its keys.
        dns.update({name: hosts for name, hosts in present.items() if name != pod_fqdn(1)})
        gone_at = dns.wait_answer(pod_fqdn(1), None)

        def host_down_seen():
            return all(any("Host is down" in e[2] for e in loop.errors(gone_at))
                       for loop in moved)

        harness.wait_until(host_down_seen, RECOVERY_BOUND, "'Host is down' for redis-1's keys")
        first_down = min(e[1] for loop in moved for e in loop.errors(gone_at))
        wait_rounds(moved, rounds=20)  # a stretch of fast failures

        dns.update(present)
        back_at = dns.wait_answer(pod_fqdn(1), [POD_HOSTS[1]])
        wait_rounds(moved, rounds=20, timeout=RECOVERY_BOUND + PROGRESS_TIMEOUT, since=back_at,
                    successes=True)
        wait_rounds(others)
    finally:
        stop_loops(loops)

    first_back = min(loop.successes(back_at)[0][1] for loop in moved)
    down = [e for loop in moved for e in loop.errors()]
    slowest = max(e[1] - e[0] for e in down)
    other_errors = sum(len(loop.errors()) for loop in others)
    print("\nNXDOMAIN: first 'Host is down' %.3f s after DNS; %d failed rounds, slowest %.3f s "
          "(pool timeout %.1f s); served again %.3f s after the name came back; other shards: "
          "%d errors" % (first_down - gone_at, len(down), slowest, timeout_ms / 1000,
                         first_back - back_at, other_errors))

    assert other_errors == 0, [loop.errors()[:3] for loop in others]
    # An answer at once, never a timeout (that would be "Connection timed out").
    assert {e[2] for e in down} == {"ERR Host is down"}
    for loop in moved:
        back = loop.successes(back_at)[0][0]
        assert loop.errors(since=back) == [], loop.label
    # The name's disappearance is counted as a change of address.
    k8s_testing.wait_stats_port(proxy)
    assert dns_address_changes(proxy) >= 1
    # Nothing was remapped: redis-1's keys were never written anywhere else.
    assert_data_on_owners(loops, dict(zip(NAMES, pods)), absent_from=list(zip(NAMES, pods)))


def test_name_coming_back_is_counted_and_logged_as_a_change(processes):
    pods, dns = start_cluster(processes)
    proxy = start_proxy(processes, dns, dns_servers(pods[0].port), timeout=2000)
    k8s_testing.wait_stats_port(proxy)
    present = {pod_fqdn(i): [host] for i, host in enumerate(POD_HOSTS)}
    dns.update({name: hosts for name, hosts in present.items() if name != pod_fqdn(1)})
    k8s_testing.wait_log(proxy, r"dns: %s:\d+: \S+ -> \(unresolved\)" % re.escape(pod_fqdn(1)))
    log_offset = len(k8s_testing.proxy_log(proxy))
    dns.update(present)
    # Every resolution change is a NOTICE with the name, the old and the new address.
    k8s_testing.wait_log(proxy, r"server 'redis-1' in pool '[^']+' moved: \(unresolved\) -> ",
                         after=log_offset)
    assert re.search(r"NOTICE dns: %s:%d: \(unresolved\) -> %s:%d" % (
        re.escape(pod_fqdn(1)), pods[1].port, re.escape(POD_HOSTS[1]), pods[1].port),
        k8s_testing.proxy_log(proxy)[log_offset:])
    assert dns_address_changes(proxy) == 2


def test_short_names_resolve_through_the_search_list(processes):
    pods, dns = start_cluster(processes)
    resolv_conf = os.path.join(processes.root, "resolv.conf")
    # As in a pod. c-ares 1.18 takes no port from a nameserver line: --dns-server gives it.
    k8s_testing.write_file(resolv_conf, "nameserver %s\nsearch %s\noptions ndots:5\n" % (
        dns_server.DNS_HOST, k8s_testing.SEARCH_LIST))
    short = ["redis-0.redis-headless", "redis-1.redis-headless.default",
             "redis-2.redis-headless.default.svc"]
    proxy = start_proxy(processes, dns, dns_servers(pods[0].port, host_of=short.__getitem__),
                        timeout=2000, extra_args=["--resolv-conf", resolv_conf])
    keys = k8s_testing.keys_by_owner(proxy.config_path, NAMES, 20)
    client = proxy.client()
    for name, shard_keys in keys.items():
        for key in shard_keys:
            assert client.set(key, "%s:%s" % (name, key))
    for pod, name in zip(pods, NAMES):
        direct = pod.client()
        for key in keys[name]:
            assert direct.get(key) == ("%s:%s" % (name, key)).encode(), (name, key)
        others = [k for n, shard_keys in keys.items() if n != name for k in shard_keys]
        assert direct.exists(*others) == 0
