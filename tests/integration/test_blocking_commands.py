"""Blocking commands through the proxy, with real redis-server shards: BLPOP and friends, XREAD
and XREADGROUP with BLOCK, each on a server connection dedicated to its client while it blocks.
A timeout answers nil as Redis does; a push from another client wakes it; fifty blocked clients
leave the others at full speed; a client that hangs up while blocked loses nothing (what the
server popped for it after it left is given back); a killed shard fails its blocked clients at
once; one blocked client over max_pinned_connections is refused at once; the pool's request
timeout does not cut a command that blocks longer; RESP3 clients block on RESP3 connections.
"""

import signal
import threading

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, encode, parse

SHARDS = 3


def wait_until(predicate, what, timeout=10.0):
    return harness.wait_until(predicate, timeout, what)


def shard_blocked(backend):
    return int(backend.client().info("clients")["blocked_clients"])


def wait_blocked(backends, count):
    """Until the shards together hold `count` blocked clients: the proxy's commands arrived."""
    wait_until(lambda: sum(shard_blocked(b) for b in backends) == count,
               "%d clients blocked on the shards" % count)


def send(conn, *args):
    conn.send(encode(*args))


@pytest.fixture(scope="module")
def backends(module_processes):
    return module_processes.redis_many(SHARDS)


@pytest.fixture(scope="module")
def sharded(module_processes, backends):
    return proxy_testing.ShardedProxy(module_processes, backends, workers=2)


@pytest.fixture
def empty(sharded):
    sharded.flush_backends()
    return sharded


def test_blpop_that_times_out_answers_nil_as_redis_does(empty):
    key = empty.keys_on_distinct_shards(1)[0]
    with RawConnection(empty.port) as conn:
        assert conn.command("BLPOP", key, "0.1") == b"*-1\r\n"
        assert conn.command("BZPOPMIN", key, "0.1") == b"*-1\r\n"
        blmove = ["BLMOVE", key, "{%s}x" % key, "LEFT", "LEFT", "0.1"]
        with RawConnection(empty.owner(key).port) as direct:
            assert conn.command(*blmove) == direct.command(*blmove)
        # The connection is back with the server: the client goes on as before.
        assert conn.command("SET", key, "v") == b"+OK\r\n"
    samples = proxy_testing.metrics(empty.proxy)
    assert proxy_testing.metric(samples, "ringproxy_server_pinned_connections") == 0
    assert proxy_testing.metric(samples, "ringproxy_blocked_clients") == 0


def test_blpop_woken_by_a_push_from_another_client(empty):
    key = empty.keys_on_distinct_shards(1)[0]
    owner = empty.owner(key)
    with RawConnection(empty.port) as blocked, RawConnection(empty.port) as pusher:
        send(blocked, "BLPOP", key, "0")
        wait_blocked([owner], 1)
        assert pusher.command("RPUSH", key, "job") == b":1\r\n"
        assert parse(blocked.reply_bytes()) == [key.encode(), b"job"]
        assert blocked.command("LLEN", key) == b":0\r\n"


def test_blocking_commands_across_servers_get_the_cross_shard_error(empty):
    a, b = empty.keys_on_distinct_shards(2)
    with RawConnection(empty.port) as conn:
        reply = conn.command("BLPOP", a, b, "0")
        assert reply.startswith(b"-CROSSSLOT") and b"BLPOP" in reply, reply
        # WATCH pins the client to a's server: a BLPOP on b's is refused, the WATCH stays.
        assert conn.command("WATCH", a) == b"+OK\r\n"
        reply = conn.command("BLPOP", b, "0")
        assert reply.startswith(b"-CROSSSLOT") and b"WATCH" in reply, reply
        # On the WATCH's own server it runs on the WATCH's connection.
        assert conn.command("BLPOP", a, "0.05") == b"*-1\r\n"
        assert conn.command("MULTI") == b"+OK\r\n"
        assert conn.command("SET", a, "1") == b"+QUEUED\r\n"
        assert conn.command("EXEC") == b"*1\r\n+OK\r\n"


def test_inside_multi_a_blocking_command_does_not_block_as_in_redis(empty):
    key = empty.keys_on_distinct_shards(1)[0]
    with RawConnection(empty.port) as conn:
        assert conn.command("MULTI") == b"+OK\r\n"
        assert conn.command("BLPOP", key, "0") == b"+QUEUED\r\n"
        assert conn.command("EXEC") == b"*1\r\n*-1\r\n"


def test_fifty_blocked_clients_leave_the_others_at_full_speed(empty):
    per_backend = empty.keys_per_backend(2, prefix="queue")
    keys = [k for ks in per_backend.values() for k in ks]
    conns = [RawConnection(empty.port) for _ in range(50)]
    try:
        for i, conn in enumerate(conns):
            send(conn, "BLPOP", keys[i % len(keys)], "0")
        wait_blocked(empty.backends, 50)
        samples = proxy_testing.metrics(empty.proxy)
        assert proxy_testing.metric(samples, "ringproxy_blocked_clients") == 50
        assert proxy_testing.metric(samples, "ringproxy_server_pinned_connections") == 50
        with RawConnection(empty.port) as other:
            info = parse(other.command("INFO", "clients")).decode()
            assert "blocked_clients:50\r\n" in info, info
            # Keys on every shard, each round trip answered while the fifty block: the shared
            # connections carry nothing that blocks.
            done = 0
            for i in range(300):
                replies = other.pipeline([["SET", k, str(i)] for k in ["x:%d" % j for j in
                                                                       range(20)]])
                assert set(replies) == {b"+OK\r\n"}
                done += len(replies)
            assert done == 6000
        with RawConnection(empty.port) as pusher:
            for i in range(50):
                assert pusher.command("RPUSH", keys[i % len(keys)], "job%d" % i).startswith(b":")
        woken = sorted(parse(conn.reply_bytes())[1] for conn in conns)
        assert woken == sorted(b"job%d" % i for i in range(50))
    finally:
        for conn in conns:
            conn.close()
    wait_until(lambda: proxy_testing.metric(proxy_testing.metrics(empty.proxy),
                                            "ringproxy_blocked_clients") == 0,
               "no blocked client left")


@pytest.mark.parametrize("command,expected", [
    (["BLPOP", "{k}", "0"], [b"a", b"b", b"c"]),
    (["BRPOP", "{k}", "0"], [b"a", b"b", b"c"]),
    (["BLMPOP", "0", "1", "{k}", "LEFT", "COUNT", "2"], [b"a", b"b", b"c"]),
])
def test_a_blocked_client_that_hangs_up_loses_nothing_pushed_after(empty, command, expected):
    key = empty.keys_on_distinct_shards(1)[0]
    command = [key if arg == "{k}" else arg for arg in command]
    owner = empty.owner(key)
    # Many rounds, with the push right after the hang-up: the server sometimes serves the
    # command before the proxy has unblocked it, and the element must come back.
    for _ in range(20):
        owner.client().delete(key)
        conn = RawConnection(empty.port)
        send(conn, *command)
        wait_blocked([owner], 1)
        conn.close()
        with RawConnection(empty.port) as pusher:
            assert pusher.command("RPUSH", key, "a", "b", "c") == b":3\r\n"
        wait_until(lambda: shard_blocked(owner) == 0 and proxy_testing.metric(
            proxy_testing.metrics(empty.proxy), "ringproxy_server_pinned_connections") == 0,
            "the hung-up client's connection released")
        wait_until(lambda: owner.client().llen(key) == 3, "the list whole again")
        assert owner.client().lrange(key, 0, -1) == expected


def test_a_blocked_sorted_set_pop_that_hangs_up_loses_nothing(empty):
    key = empty.keys_on_distinct_shards(1)[0]
    owner = empty.owner(key)
    for _ in range(10):
        owner.client().delete(key)
        conn = RawConnection(empty.port)
        send(conn, "BZPOPMIN", key, "0")
        wait_blocked([owner], 1)
        conn.close()
        with RawConnection(empty.port) as pusher:
            assert pusher.command("ZADD", key, "1.5", "m", "2", "n") == b":2\r\n"
        wait_until(lambda: owner.client().zcard(key) == 2 and shard_blocked(owner) == 0,
                   "the sorted set whole again")
        assert owner.client().zrange(key, 0, -1, withscores=True) == [(b"m", 1.5), (b"n", 2.0)]


def test_xreadgroup_block_with_a_consumer_group(empty):
    stream = empty.keys_on_distinct_shards(1)[0]
    owner = empty.owner(stream)
    with RawConnection(empty.port) as reader, RawConnection(empty.port) as writer:
        assert writer.command("XGROUP", "CREATE", stream, "g", "$", "MKSTREAM") == b"+OK\r\n"
        send(reader, "XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "BLOCK", "0", "STREAMS",
             stream, ">")
        wait_blocked([owner], 1)
        entry_id = parse(writer.command("XADD", stream, "*", "f", "v"))
        reply = parse(reader.reply_bytes())
        assert reply == [[stream.encode(), [[entry_id, [b"f", b"v"]]]]]
        # Delivered to c1: pending in the group until acknowledged.
        assert parse(writer.command("XPENDING", stream, "g"))[0] == 1
        # XREAD BLOCK too, with a timeout.
        assert reader.command("XREAD", "BLOCK", "50", "STREAMS", stream, "$") == b"*-1\r\n"


def test_resp3_clients_block_on_resp3_connections(empty):
    key = empty.keys_on_distinct_shards(1)[0]
    owner = empty.owner(key)
    with RawConnection(empty.port) as conn, RawConnection(empty.port) as pusher:
        assert conn.command("HELLO", "3").startswith(b"%")
        assert conn.command("BLPOP", key, "0.05") == b"_\r\n"
        send(conn, "BZPOPMAX", key, "0")
        wait_blocked([owner], 1)
        assert pusher.command("ZADD", key, "2.5", "m") == b":1\r\n"
        assert conn.reply_bytes() == b"*3\r\n$%d\r\n%s\r\n$1\r\nm\r\n,2.5\r\n" % (
            len(key), key.encode())


def test_the_pool_timeout_does_not_cut_a_command_that_blocks_longer(module_processes, backends):
    proxy = proxy_testing.ShardedProxy(module_processes, backends, workers=1, timeout=200)
    proxy.flush_backends()
    for timeout in ("1", "0"):
        key = proxy.keys_on_distinct_shards(1, prefix="slow" + timeout)[0]
        owner = proxy.owner(key)
        with RawConnection(proxy.port) as conn:
            send(conn, "BLPOP", key, timeout)
            wait_blocked([owner], 1)
            # Past the pool's 200 ms timeout, within the command's own.
            timer = threading.Timer(0.5, lambda k=key: owner.client().rpush(k, "late"))
            timer.start()
            try:
                assert parse(conn.reply_bytes()) == [key.encode(), b"late"]
            finally:
                timer.join()
            assert conn.command("GET", key + "x") == b"$-1\r\n"


def test_blocked_clients_over_the_bound_are_refused_at_once(module_processes, backends):
    proxy = proxy_testing.ShardedProxy(module_processes, backends, workers=1,
                                       max_pinned_connections=2)
    proxy.flush_backends()
    key = proxy.keys_on_distinct_shards(1, prefix="bound")[0]
    owner = proxy.owner(key)
    conns = [RawConnection(proxy.port) for _ in range(2)]
    try:
        for conn in conns:
            send(conn, "BLPOP", key, "0")
        wait_blocked([owner], 2)
        with RawConnection(proxy.port) as third:
            reply = third.command("BLPOP", key, "0")
            assert reply.startswith(b"-ERR max_pinned_connections reached") and b"BLPOP" in reply
            assert third.command("RPUSH", key, "1", "2") == b":2\r\n"
        assert sorted(parse(c.reply_bytes())[1] for c in conns) == [b"1", b"2"]
    finally:
        for conn in conns:
            conn.close()


def test_a_shard_killed_while_clients_block_on_it_fails_them_at_once(processes):
    backends = processes.redis_many(2)
    proxy = proxy_testing.ShardedProxy(processes, backends, workers=1)
    key = proxy.keys_on_distinct_shards(1, prefix="doomed")[0]
    owner = proxy.owner(key)
    conns = [RawConnection(proxy.port) for _ in range(5)]
    try:
        for conn in conns:
            send(conn, "BLPOP", key, "0")
        wait_blocked([owner], 5)
        owner.kill()
        owner.wait()
        for conn in conns:
            assert conn.reply_bytes().startswith(b"-ERR"), "an error, not a hang"
        samples = proxy_testing.metrics(proxy.proxy)
        assert proxy_testing.metric(samples, "ringproxy_blocked_clients") == 0
    finally:
        for conn in conns:
            conn.close()


def test_an_element_popped_after_the_hang_up_but_before_the_unblock_is_given_back(
        module_processes, backends):
    # The shard is frozen while the push reaches it and the client hangs up: once it thaws it
    # serves the push (which came first) before the proxy's CLIENT UNBLOCK, so the blocked
    # connection's reply holds an element for a client that has left. It must go back.
    proxy = proxy_testing.ShardedProxy(module_processes, backends, workers=1, verbosity=6)
    key = proxy.keys_on_distinct_shards(1, prefix="race")[0]
    owner = proxy.owner(key)
    rounds = 10
    for _ in range(rounds):
        owner.client().delete(key)
        conn = RawConnection(proxy.port)
        send(conn, "BLPOP", key, "0")
        wait_blocked([owner], 1)
        with RawConnection(owner.port) as direct:
            owner.kill(signal.SIGSTOP)
            try:
                send(direct, "RPUSH", key, "a", "b")
                conn.close()
                wait_until(lambda: proxy_testing.metric(proxy_testing.metrics(proxy.proxy),
                                                        "ringproxy_blocked_clients") == 0,
                           "the proxy to see the hang-up")
            finally:
                owner.kill(signal.SIGCONT)
            assert direct.reply_bytes() == b":2\r\n"
        wait_until(lambda: shard_blocked(owner) == 0 and owner.client().llen(key) == 2,
                   "the list whole again")
        assert owner.client().lrange(key, 0, -1) == [b"a", b"b"]
    with open(proxy.proxy.log_path, encoding="utf-8", errors="replace") as log:
        given_back = log.read().count("giving back what it took")
    assert 1 <= given_back <= rounds, given_back
