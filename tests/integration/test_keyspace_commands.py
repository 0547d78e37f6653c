"""The pool's keyspace as one, with real redis-server shards: SCAN across the servers (every key
present throughout is returned while another client writes, MATCH, COUNT and TYPE, Redis's
invalid cursor, a down server failing the scan instead of skipping its keys, Redis's reply bytes
in RESP2 and RESP3), DBSIZE, KEYS and RANDOMKEY against the shards' own answers, FLUSHDB and
FLUSHALL refused unless the pool's allow_flush, and WAIT on the server of the client's last
write, on the connection that carried it, taken from the other clients while WAIT blocks.
"""

import select
import threading
import time

import pytest

import proxy_testing
from proxy_testing import RawConnection, parse

SHARDS = 4
STABLE_KEYS = 100_000
U64_MAX = (1 << 64) - 1


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


def scan_all(conn, *options):
    """Every page of a whole SCAN through `conn`: (keys in order returned, pages)."""
    keys, pages, cursor = [], 0, b"0"
    while True:
        reply = parse(conn.command("SCAN", cursor, *options))
        assert isinstance(reply, list), reply
        cursor, page = reply
        keys.extend(page)
        pages += 1
        if cursor == b"0":
            return keys, pages


def fill(conn, keys, command="SET"):
    for start in range(0, len(keys), 5000):
        batch = keys[start:start + 5000]
        if command == "SET":
            replies = conn.pipeline([["SET", k, "v"] for k in batch])
            assert set(replies) == {b"+OK\r\n"}
        else:
            replies = conn.pipeline([["HSET", k, "f", "v"] for k in batch])
            assert set(replies) == {b":1\r\n"}


def shard_keys(backends):
    return [set(b.client().keys("*")) for b in backends]


# --- SCAN ----------------------------------------------------------------------------------------

def test_scan_returns_every_key_present_throughout_while_another_client_writes(empty):
    stable = [b"stable:%d" % i for i in range(STABLE_KEYS)]
    with RawConnection(empty.port) as conn:
        fill(conn, stable)
    per_shard = [len(keys) for keys in shard_keys(empty.backends)]
    assert sum(per_shard) == STABLE_KEYS and min(per_shard) > 0, per_shard

    stop = threading.Event()
    churned = []

    def churn():
        # Keys come and go on every shard while the scan runs: their hash tables grow and shrink
        # (rehashing), which is what SCAN's guarantee is about.
        with RawConnection(empty.port) as writer:
            n = 0
            while not stop.is_set():
                batch = [b"churn:%d" % i for i in range(n, n + 200)]
                writer.pipeline([["SET", k, "x"] for k in batch])
                writer.pipeline([["DEL", k] for k in batch[:150]])
                churned.extend(batch)
                n += 200

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        started = time.monotonic()
        with RawConnection(empty.port) as conn:
            returned, pages = scan_all(conn)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        writer.join()
    seen = set(returned)
    missing = set(stable) - seen
    assert not missing, "%d stable keys never returned, e.g. %r" % (len(missing),
                                                                    sorted(missing)[:5])
    assert seen <= set(stable) | set(churned)
    assert churned, "the writer never ran"
    duplicates = len(returned) - len(seen)
    print("\nSCAN figures: %d stable keys on %d shards %r, %d keys returned (%d churn keys written "
          "meanwhile), %d pages, %d duplicates, %.2f s" %
          (STABLE_KEYS, SHARDS, per_shard, len(returned), len(churned), pages, duplicates,
           elapsed))


def test_scan_match_count_and_type_reach_every_shard(empty):
    strings = [b"s:%d" % i for i in range(3000)]
    hashes = [b"h:%d" % i for i in range(1000)]
    with RawConnection(empty.port) as conn:
        fill(conn, strings)
        fill(conn, hashes, command="HSET")
        matched, _ = scan_all(conn, "MATCH", "s:1*")
        assert sorted(set(matched)) == sorted(k for k in strings if k.startswith(b"s:1"))
        typed, _ = scan_all(conn, "TYPE", "hash")
        assert sorted(set(typed)) == sorted(hashes)
        both, _ = scan_all(conn, "MATCH", "h:2*", "TYPE", "hash")
        assert sorted(set(both)) == sorted(k for k in hashes if k.startswith(b"h:2"))
        assert scan_all(conn, "TYPE", "zset")[0] == []
        everything, default_pages = scan_all(conn)
        counted, counted_pages = scan_all(conn, "COUNT", "1000")
        assert set(everything) == set(counted) == set(strings) | set(hashes)
        assert counted_pages < default_pages / 10, (counted_pages, default_pages)
        # Options the server refuses are refused as it refuses them.
        direct = RawConnection(empty.backends[0].port)
        with direct:
            for bad in (["COUNT", "0"], ["COUNT", "x"], ["MATCH"], ["NOSUCH", "1"]):
                assert conn.command("SCAN", "0", *bad) == direct.command("SCAN", "0", *bad), bad


def test_scan_cursors_name_the_server_and_end_at_zero_after_the_last(empty):
    with RawConnection(empty.port) as conn:
        # An empty pool: cursor 0 visits each server in turn, the last one answering 0.
        cursors = []
        cursor = b"0"
        while True:
            reply = conn.command("SCAN", cursor)
            cursor, keys = parse(reply)
            assert keys == []
            cursors.append(cursor)
            if cursor == b"0":
                break
        assert cursors == [b"%d" % i for i in range(1, SHARDS)] + [b"0"]
        # Redis's strtoul: "" is 0, a sign is read, anything else is an invalid cursor.
        for valid in ("", "+0", "00"):
            assert parse(conn.command("SCAN", valid))[0] == b"1", valid
        assert parse(conn.command("SCAN", str(U64_MAX)))[0] == b"0"  # the last server's
        for invalid in ("abc", "1x", " 1", "18446744073709551616", "-", "1.5"):
            assert conn.command("SCAN", invalid) == b"-ERR invalid cursor\r\n", invalid
        direct = RawConnection(empty.backends[0].port)
        with direct:
            assert direct.command("SCAN", "abc") == b"-ERR invalid cursor\r\n"
        assert conn.command("SCAN") == \
            b"-ERR wrong number of arguments for 'scan' command\r\n"


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_scan_replies_are_redis_bytes(module_processes, protocol):
    # A pool of one server: the cursor is the server's own, so every byte can be compared.
    backend = module_processes.redis()
    single = proxy_testing.ShardedProxy(module_processes, [backend], workers=1)
    with RawConnection(single.port) as conn:
        fill(conn, [b"one:%d" % i for i in range(500)])
    with RawConnection(single.port) as proxied, RawConnection(backend.port) as direct:
        assert parse(proxied.command("HELLO", protocol))
        assert parse(direct.command("HELLO", protocol))
        cursor = b"0"
        pages = 0
        while True:
            reply = proxied.command("SCAN", cursor, "COUNT", "50")
            assert reply == direct.command("SCAN", cursor, "COUNT", "50")
            assert reply.startswith(b"*2\r\n$")
            cursor = parse(reply)[0]
            pages += 1
            if cursor == b"0":
                break
        assert pages > 1
    # Over several servers the keys array is still the server's, in either protocol; so is
    # RANDOMKEY's nil when every server is empty.
    backends = module_processes.redis_many(2)
    sharded = proxy_testing.ShardedProxy(module_processes, backends, workers=1)
    with RawConnection(sharded.port) as conn:
        assert parse(conn.command("HELLO", protocol))
        assert conn.command("RANDOMKEY") == (b"$-1\r\n" if protocol == "2" else b"_\r\n")
        assert conn.command("KEYS", "*") == b"*0\r\n"
        fill(conn, [b"two:%d" % i for i in range(100)])
        cursor, seen = b"0", []
        while True:
            reply = conn.command("SCAN", cursor, "COUNT", "1000")
            cursor, keys = parse(reply)
            assert reply == (
                b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(cursor), cursor, len(keys)) +
                b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys))
            seen.extend(keys)
            if cursor == b"0":
                break
        assert sorted(seen) == sorted(b"two:%d" % i for i in range(100))


def test_a_scan_reaching_a_down_server_fails_rather_than_skipping_its_keys(processes):
    backends = processes.redis_many(3)
    pool = proxy_testing.ShardedProxy(processes, backends, workers=1)
    with RawConnection(pool.port) as conn:
        fill(conn, [b"d:%d" % i for i in range(300)])
    backends[1].stop()
    with RawConnection(pool.port) as conn:
        cursor, replies = b"0", []
        while True:
            reply = conn.command("SCAN", cursor, "COUNT", "1000")
            replies.append(reply)
            if reply.startswith(b"-"):
                break
            cursor = parse(reply)[0]
            assert cursor != b"0", "the scan ended without the down server's keys"
        # The first server's page, then the error of the second: never the third's page first.
        assert len(replies) == 2, replies
        # DBSIZE, KEYS and RANDOMKEY ask every configured server: an error, not a partial answer.
        for command in (["DBSIZE"], ["KEYS", "*"], ["RANDOMKEY"]):
            assert conn.command(*command).startswith(b"-ERR"), command


# --- DBSIZE, KEYS, RANDOMKEY ---------------------------------------------------------------------

def test_dbsize_keys_and_randomkey_answer_for_the_whole_pool(empty):
    with RawConnection(empty.port) as conn:
        # Empty: 0, none, and a nil in the client's protocol.
        assert conn.command("DBSIZE") == b":0\r\n"
        assert conn.command("KEYS", "*") == b"*0\r\n"
        assert conn.command("RANDOMKEY") == b"$-1\r\n"
        # One key on one shard: RANDOMKEY finds it whichever shard answers first.
        conn.command("SET", "lonely", "1")
        for _ in range(20):
            assert conn.command("RANDOMKEY") == b"$6\r\nlonely\r\n"
        keys = [b"k:%d" % i for i in range(2000)]
        fill(conn, keys)
        on_shards = shard_keys(empty.backends)
        assert parse(conn.command("DBSIZE")) == sum(len(s) for s in on_shards) == 2001
        listed = parse(conn.command("KEYS", "*"))
        assert len(listed) == 2001 and set(listed) == set().union(*on_shards)
        assert sorted(parse(conn.command("KEYS", "k:1?"))) == sorted(b"k:1%d" % i
                                                                      for i in range(10))
        assert conn.command("KEYS", "nothing*") == b"*0\r\n"
        # RANDOMKEY: existing keys, from more than one shard.
        picked = {parse(conn.command("RANDOMKEY")) for _ in range(200)}
        assert picked <= set(listed)
        shards_hit = {i for i, s in enumerate(on_shards) for k in picked if k in s}
        assert len(shards_hit) > 1, shards_hit
        for command in (["DBSIZE", "x"], ["KEYS"], ["RANDOMKEY", "x"]):
            assert conn.command(*command).startswith(b"-ERR wrong number of arguments"), command
        # Inside MULTI they are refused, and the transaction with them.
        assert conn.command("MULTI") == b"+OK\r\n"
        assert conn.command("DBSIZE").startswith(b"-ERR DBSIZE inside MULTI")
        assert conn.command("EXEC").startswith(b"-EXECABORT")


# --- FLUSHDB, FLUSHALL ---------------------------------------------------------------------------

def test_flush_is_refused_unless_the_pool_allows_it(module_processes, empty):
    with RawConnection(empty.port) as conn:
        fill(conn, [b"f:%d" % i for i in range(100)])
        for command in (["FLUSHDB"], ["FLUSHALL"], ["FLUSHALL", "ASYNC"], ["flushdb", "SYNC"]):
            reply = conn.command(*command)
            assert reply == (b"-ERR %s is refused through this proxy: it would empty every server "
                             b"of the pool (the pool's allow_flush lets it through)\r\n" %
                             command[0].upper().encode()), reply
        assert parse(conn.command("DBSIZE")) == 100
    allowing = proxy_testing.ShardedProxy(module_processes, empty.backends, workers=1,
                                          allow_flush=True)
    with RawConnection(allowing.port) as conn:
        assert conn.command("FLUSHDB") == b"+OK\r\n"
        assert [len(s) for s in shard_keys(empty.backends)] == [0] * SHARDS
        fill(conn, [b"f:%d" % i for i in range(100)])
        assert conn.command("FLUSHALL", "ASYNC") == b"+OK\r\n"
        assert parse(conn.command("DBSIZE")) == 0
        # The server's own refusal of a bad option comes back.
        assert conn.command("FLUSHALL", "NOW") == b"-ERR syntax error\r\n"


# --- WAIT ----------------------------------------------------------------------------------------

def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def test_wait_counts_the_replicas_of_the_server_of_the_last_write(processes):
    primaries = processes.redis_many(2)
    replica = processes.redis(extra_args=["--replicaof", primaries[0].host,
                                          str(primaries[0].port)])
    wait_for(lambda: replica.client().info("replication").get("master_link_status") == "up",
             "the replica to sync")
    wait_for(lambda: primaries[0].client().info("replication").get("connected_slaves") == 1,
             "the primary to see its replica")
    pool = proxy_testing.ShardedProxy(processes, primaries, workers=1)
    with_replica, without = pool.keys_per_backend(1, prefix="w")[primaries[0].port][0], \
        pool.keys_per_backend(1, prefix="w")[primaries[1].port][0]
    with RawConnection(pool.port) as conn:
        # Nothing written yet: any live server answers (the first, which has the replica).
        assert conn.command("WAIT", "1", "2000") == b":1\r\n"
        assert conn.command("SET", with_replica, "1") == b"+OK\r\n"
        assert conn.command("WAIT", "1", "2000") == b":1\r\n"
        assert replica.client().get(with_replica) == b"1"
        # A write to the server with no replica: WAIT goes there, and times out with none.
        assert conn.command("SET", without, "1") == b"+OK\r\n"
        started = time.monotonic()
        assert conn.command("WAIT", "1", "200") == b":0\r\n"
        assert time.monotonic() - started >= 0.15
        # Back to the replicated server: a transaction's server counts too.
        assert conn.pipeline([["MULTI"], ["INCR", with_replica], ["EXEC"]])[2] == b"*1\r\n:2\r\n"
        assert conn.command("WAIT", "1", "2000") == b":1\r\n"
        assert replica.client().get(with_replica) == b"2"
        assert conn.command("WAIT", "1") == \
            b"-ERR wrong number of arguments for 'wait' command\r\n"
        with RawConnection(primaries[1].port) as direct:
            assert conn.command("WAIT", "x", "0") == direct.command("WAIT", "x", "0")


def test_a_wait_longer_than_the_pool_timeout_blocks_only_its_own_client(processes):
    # No replica: WAIT 1 blocks for its whole timeout, as on Redis, longer than the pool's
    # timeout. Its client's connection to the server becomes its own while it waits, so another
    # client on the same (single) shared connection is answered at once, nothing times out, and
    # the healthy server is never ejected.
    backends = processes.redis_many(1)
    pool = proxy_testing.ShardedProxy(processes, backends, workers=1, timeout=300,
                                      auto_eject_hosts=True, server_failure_limit=2,
                                      server_retry_timeout=30000)
    with RawConnection(pool.port) as waiter, RawConnection(pool.port) as other:
        # Two: with server_failure_limit 2, two timeouts would eject the server.
        for _ in range(2):
            assert waiter.command("SET", "w", "1") == b"+OK\r\n"
            started = time.monotonic()
            waiter.send(proxy_testing.encode("WAIT", "1", "1500"))
            wait_for(lambda: proxy_testing.metric(proxy_testing.metrics(pool.proxy),
                                                  "ringproxy_blocked_clients") == 1,
                     "the WAIT to block")
            assert other.command("GET", "w") == b"$1\r\n1\r\n"
            # Answered while the WAIT still blocks: its reply has not come, and it still counts.
            assert not select.select([waiter.sock], [], [], 0)[0]
            assert proxy_testing.metric(proxy_testing.metrics(pool.proxy),
                                        "ringproxy_blocked_clients") == 1
            assert waiter.reply_bytes() == b":0\r\n"
            # Not cut by the pool's timeout: Redis answers after WAIT's own 1500 ms.
            assert time.monotonic() - started >= 1.45
        # Forever (0), then the client hangs up: the server is told, the connection comes back.
        waiter.send(proxy_testing.encode("WAIT", "1", "0"))
        wait_for(lambda: proxy_testing.metric(proxy_testing.metrics(pool.proxy),
                                              "ringproxy_blocked_clients") == 1,
                 "the WAIT to block")
    samples = proxy_testing.metrics(pool.proxy)
    assert proxy_testing.metric(samples, "ringproxy_server_ejects_total") == 0
    assert proxy_testing.metric(samples, "ringproxy_server_errors_total", kind="timeout") == 0
    wait_for(lambda: proxy_testing.metric(proxy_testing.metrics(pool.proxy),
                                          "ringproxy_server_pinned_connections") == 0 and
             proxy_testing.metric(proxy_testing.metrics(pool.proxy),
                                  "ringproxy_blocked_clients") == 0,
             "the abandoned WAIT's connection to be let go")
    wait_for(lambda: int(backends[0].client().info("clients")["blocked_clients"]) == 0,
             "the server to unblock the WAIT")
    with RawConnection(pool.port) as conn:
        assert conn.command("GET", "w") == b"$1\r\n1\r\n"
