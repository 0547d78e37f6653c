"""A pod moving the realistic way: its old IP silently vanishes.

Each pod is a network namespace on a private bridge (PodNetwork: an `unreachable` route covers
the test subnet's /16 first, so nothing can leave the machine) with redis-server inside on port
6379. Deleting the pod's link makes its address disappear without a FIN or RST: requests to it
hang, so only the pool timeout fails them, until DNS names the pod's new address in a new
namespace. Other shards must see no error at all. Timings are printed (pytest -s).
"""

import time

import pytest

import dns_server
import harness
import k8s_testing
from k8s_testing import KeyLoop, pod_fqdn

REDIS_PORT = 6379  # every pod has its own network namespace, as in Kubernetes
TIMEOUT_MS = 500
NAMES = ["redis-0", "redis-1", "redis-2"]
RECOVERY_BOUND = 5.0  # seconds to wait, past DNS showing the new address, for a success
PROGRESS_TIMEOUT = 20.0


@pytest.fixture
def pod_network():
    network = k8s_testing.PodNetwork()
    try:
        network.open()
    except harness.HarnessError as exc:
        network.close()
        if "Operation not permitted" in str(exc):
            pytest.skip("network namespaces are not permitted here: %s" % exc)
        raise
    try:
        yield network
    finally:
        network.close()


def start_pod(processes, network, index):
    netns, address = network.add_pod(index)
    pod = k8s_testing.NetnsRedis(processes.new_workdir(), netns, address, REDIS_PORT)
    processes.processes.append(pod)
    return pod.start()


def wait_for(loops, predicate, timeout, what):
    def done():
        for loop in loops:
            if loop.problem is not None:
                raise harness.HarnessError("client %s: %s" % (loop.label, loop.problem))
        return all(predicate(loop) for loop in loops)

    harness.wait_until(done, timeout, what)


def test_pod_whose_address_vanishes_times_out_then_is_followed(processes, pod_network):
    pods = [start_pod(processes, pod_network, i) for i in range(3)]
    dns = dns_server.start(processes, {pod_fqdn(i): [pod.host]
                                                for i, pod in enumerate(pods)})
    servers = ["%s:%d:1 %s" % (pod_fqdn(i), REDIS_PORT, name) for i, name in enumerate(NAMES)]
    proxy = processes.ringproxy(
        pools={"k8s": {"redis": True, "hash": "fnv1a_64", "distribution": "ketama",
                       "timeout": TIMEOUT_MS, "auto_eject_hosts": False, "servers": servers}},
        workers=2, verbosity=5,
        extra_args=["--dns-server", dns.server, "--dns-ttl-max", "1"])
    keys = k8s_testing.keys_by_owner(proxy.config_path, NAMES, 12)
    loops = {name: [KeyLoop(proxy.port, keys[name][i::2], "%s/%d" % (name, i)) for i in range(2)]
             for name in NAMES}
    moved, others = loops["redis-1"], loops["redis-0"] + loops["redis-2"]
    everyone = moved + others
    for loop in everyone:
        loop.start()
    try:
        wait_for(everyone, lambda loop: loop.rounds() >= 20, PROGRESS_TIMEOUT, "first rounds")

        # The node loses the pod: its address vanishes at once, nothing is sent to anyone.
        old_netns = pods[1].netns
        pod_network.vanish(old_netns)
        vanished_at = time.monotonic()
        pods[1].kill()  # its FIN has no link to leave by
        pods[1].stop()
        pod_network.remove(old_netns)
        # Until DNS says otherwise, the proxy can only time out on the old address.
        wait_for(moved, lambda loop: len(loop.errors(vanished_at)) >= 3,
                 PROGRESS_TIMEOUT, "timeouts on redis-1's old address")

        new_pod = start_pod(processes, pod_network, 3)
        changed_at = time.monotonic()
        dns.update({pod_fqdn(0): [pods[0].host], pod_fqdn(1): [new_pod.host],
                    pod_fqdn(2): [pods[2].host]})
        dns_shows = dns.wait_answer(pod_fqdn(1), [new_pod.host])
        wait_for(moved, lambda loop: len(loop.successes(changed_at)) >= 20,
                 RECOVERY_BOUND + PROGRESS_TIMEOUT, "redis-1's keys served by the new pod")
        wait_for(others, lambda loop: len(loop.successes(dns_shows)) >= 20, PROGRESS_TIMEOUT,
                 "more rounds on the other shards")
    finally:
        for loop in everyone:
            loop.stop()
    problems = {loop.label: loop.problem for loop in everyone if loop.problem}
    assert not problems, problems

    outage = [e for loop in moved for e in loop.errors(vanished_at)]
    first_success = min(loop.successes(changed_at)[0][1] for loop in moved)
    other_errors = [e for loop in others for e in loop.errors()]
    print("\nmove (netns, old IP vanished): %d timed-out rounds on the moved shard; DNS change "
          "-> first request served by the new address: %.3f s (%.3f s after dnsmasq was seen "
          "answering it); other shards: %d errors in %d rounds" % (
              len(outage), first_success - changed_at, first_success - dns_shows,
              len(other_errors), sum(loop.rounds() for loop in others)))

    assert other_errors == [], other_errors[:5]
    # Hangs, not refusals: the pool timeout fails the requests to the vanished address; once the
    # kernel gives up resolving its link-layer address, a connection attempt still in flight to
    # it may fail as unreachable instead.
    assert {e[2] for e in outage} <= {"ERR Connection timed out", "ERR No route to host"}, \
        outage[:5]
    for loop in moved:
        first = loop.errors(vanished_at)[0]
        assert first[2] == "ERR Connection timed out", first
        assert first[1] - first[0] >= TIMEOUT_MS / 1000 * 0.9, first
    for loop in moved:
        back = loop.successes(changed_at)[0][0]
        assert loop.errors(since=back) == [], (loop.label, loop.errors(since=back)[:3])
    # Every acknowledged write since the move is on the new pod, none on the other shards.
    direct = new_pod.client()
    for loop in moved:
        for key, value in loop.written.items():
            assert direct.get(key) == value.encode(), key
    for pod, name in ((pods[0], "redis-0"), (pods[2], "redis-2")):
        moved_keys = [k for loop in moved for k in loop.written]
        assert pod.client().exists(*moved_keys) == 0, name
        for loop in loops[name]:
            for key, value in loop.written.items():
                assert pod.client().get(key) == value.encode(), key
