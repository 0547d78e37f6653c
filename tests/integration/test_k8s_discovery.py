"""Pools that name no servers one by one: `statefulset:` and `srv:`, through the real ringproxy.

Pods are redis-server processes on 127.0.0.2-5 sharing one port, named through dnsmasq (TTL 1 s)
as a headless Service names them. Either shorthand must place every key exactly where a pool
listing the same pods by name (redis-0 ... redis-N) places it, and the proxy must route there.
An `srv:` pool follows the SRV record set: a new member is a new server (its share of the keys
moves to it, see the README's "Scaling shards").
"""

import os
import re
import time

import redis

import dns_server
import harness
import k8s_testing
import proxy_testing
from k8s_testing import SRV_NAME, pod_fqdn

POD_HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
MEMBERS_BOUND = 10.0  # seconds for the proxy to follow a changed SRV set (TTL 1 s)


def explicit_pool(port, count):
    return ["%s:%d:1 redis-%d" % (pod_fqdn(i), port, i) for i in range(count)]


def header(listen_port):
    return ("  listen: 127.0.0.1:%d\n  redis: true\n  hash: fnv1a_64\n  distribution: ketama\n"
            "  timeout: 2000\n" % listen_port)


def write_config(path, text):
    k8s_testing.write_file(path, text)
    return path


def placed(path, keys, pool_index=0):
    return proxy_testing.place(path, keys, pool_index)


def assert_routed(proxy_port, pods, owner_of, tag):
    """Writes every key of `owner_of` through the proxy with a value unique to this call; each
    value is on the pod named, and on no other."""
    client = redis.Redis(host="127.0.0.1", port=proxy_port, socket_timeout=10)
    try:
        for key in owner_of:
            assert client.set(key, tag + key)
    finally:
        client.close()
    keys = list(owner_of)
    for index, pod in enumerate(pods):
        values = pod.client().mget(keys)
        for key, value in zip(keys, values):
            mine = owner_of[key] == "redis-%d" % index
            assert (value == (tag + key).encode()) == mine, (key, index, owner_of[key], value)


def test_statefulset_pools_place_and_route_as_the_explicit_pod_list(processes):
    pods = k8s_testing.start_pods(processes, POD_HOSTS[:3])
    port = pods[0].port
    dns = dns_server.start(processes, {pod_fqdn(i): [h]
                                                for i, h in enumerate(POD_HOSTS[:3])})
    resolv_conf = write_config(os.path.join(processes.root, "resolv.conf"),
                               "nameserver %s\nsearch %s\noptions ndots:5\n" % (
                                   dns_server.DNS_HOST, k8s_testing.SEARCH_LIST))
    full_port, short_port = harness.free_port(), harness.free_port()
    text = ("full:\n" + header(full_port) +
            "  statefulset:\n    service: redis-headless\n    namespace: default\n"
            "    replicas: 3\n    port: %d\n" % port +
            "short:\n" + header(short_port) +
            "  statefulset:\n    name: redis\n    service: redis-headless\n    replicas: 3\n"
            "    port: %d\n" % port)
    explicit = write_config(os.path.join(processes.root, "explicit.yml"),
                            "explicit:\n" + header(1) + "  servers:\n" + "".join(
                                "   - %s\n" % line for line in explicit_pool(port, 3)))
    proxy = processes.ringproxy(config_text=text, listen_ports=[full_port, short_port],
                                workers=2, verbosity=5,
                                extra_args=["--dns-server", dns.server, "--resolv-conf",
                                            resolv_conf, "--dns-ttl-max", "1"])
    keys = ["%d:sts" % i for i in range(600)]
    by_name = placed(explicit, keys)
    assert sorted(set(by_name)) == ["redis-0", "redis-1", "redis-2"]
    assert placed(proxy.config_path, keys, 0) == by_name
    assert placed(proxy.config_path, keys, 1) == by_name
    owner_of = dict(zip(keys, by_name))
    assert_routed(full_port, pods, owner_of, "full:")
    assert_routed(short_port, pods, owner_of, "short:")


def test_srv_pool_learns_members_and_follows_a_new_one(processes):
    pods = k8s_testing.start_pods(processes, POD_HOSTS)
    port = pods[0].port
    records = [(SRV_NAME, pod_fqdn(i), port, 0, 1) for i in range(3)]
    dns = dns_server.start(processes, {pod_fqdn(i): [h] for i, h in enumerate(POD_HOSTS)},
                                    srv_records=records)
    listen = harness.free_port()
    text = "srv:\n" + header(listen) + "  srv: %s\n" % SRV_NAME
    proxy = processes.ringproxy(config_text=text, listen_ports=[listen], workers=2, verbosity=5,
                                extra_args=["--dns-server", dns.server, "--dns-ttl-max", "1"])
    keys = ["%d:srv" % i for i in range(600)]
    three = write_config(os.path.join(processes.root, "three.yml"), "explicit:\n" + header(1) +
                         "  servers:\n" + "".join("   - %s\n" % line
                                                  for line in explicit_pool(port, 3)))
    four = write_config(os.path.join(processes.root, "four.yml"), "explicit:\n" + header(1) +
                        "  servers:\n" + "".join("   - %s\n" % line
                                                 for line in explicit_pool(port, 4)))
    on_three, on_four = placed(three, keys), placed(four, keys)
    moving = [k for k, a, b in zip(keys, on_three, on_four) if a != b]
    # ketama: the new member takes keys only to itself.
    assert moving and {b for a, b in zip(on_three, on_four) if a != b} == {"redis-3"}

    # The members are the SRV targets, named by their first label: the ring of redis-0..2.
    k8s_testing.wait_log(proxy, r"dns: SRV %s: 3 members: redis-0 redis-1 redis-2" %
                         re.escape(SRV_NAME))
    assert_routed(listen, pods, dict(zip(keys, on_three)), "three:")

    # The StatefulSet scales to 4: the SRV set grows, redis-3 becomes a server.
    log_offset = len(k8s_testing.proxy_log(proxy))
    scaled_at = time.monotonic()
    dns.restart(records + [(SRV_NAME, pod_fqdn(3), port, 0, 1)])
    k8s_testing.wait_log(proxy, r"dns: SRV %s: 4 members: redis-0 redis-1 redis-2 redis-3" %
                         re.escape(SRV_NAME), MEMBERS_BOUND, log_offset)
    probe = moving[0]

    def reaches_redis_3():
        client = redis.Redis(host="127.0.0.1", port=listen, socket_timeout=10)
        try:
            client.set(probe, "probe")
        finally:
            client.close()
        return pods[3].client().get(probe) == b"probe"

    harness.wait_until(reaches_redis_3, MEMBERS_BOUND, "a key of redis-3 to reach it")
    print("\nSRV scale 3 -> 4: redis-3 served %.3f s after the record set changed; %d of %d keys "
          "moved, all to redis-3" % (time.monotonic() - scaled_at, len(moving), len(keys)))
    assert_routed(listen, pods, dict(zip(keys, on_four)), "four:")
