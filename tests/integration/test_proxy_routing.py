"""Routing through ringproxy: every key lands on the backend placement_tool names for it, replies
come back to the right request in order, split commands merge like one Redis would answer, and
multi-key commands run only where all their keys live.

One proxy over four backends for the module, plus one plain redis-server used as the oracle:
the same commands sent to it must give the same replies.
"""

import random
import threading

import pytest
import redis

import proxy_testing

BACKENDS = 4


@pytest.fixture(scope="module")
def cluster(module_processes):
    servers = module_processes.redis_many(BACKENDS + 1)
    # md5 spreads short, similar keys (key0..key39) over all backends; nutcracker's fnv1a_64 puts
    # most of them on one or two.
    sharded = proxy_testing.ShardedProxy(module_processes, servers[:BACKENDS], workers=2,
                                         hash="md5")
    sharded.oracle = servers[BACKENDS]
    return sharded


@pytest.fixture
def env(cluster):
    cluster.flush_backends()
    cluster.oracle.client().flushall()
    return cluster


def _uncooked(client):
    """`client` with redis-py's reply post-processing turned off, for exact comparisons."""
    client.response_callbacks.clear()
    return client


def _run(client, commands):
    """Replies to `commands` (lists of arguments), pipelined, errors returned as exceptions."""
    pipe = _uncooked(client).pipeline(transaction=False)
    for cmd in commands:
        pipe.execute_command(*cmd)
    return pipe.execute(raise_on_error=False)


def _comparable(replies):
    return [("error", str(r)) if isinstance(r, Exception) else r for r in replies]


# Per command class: (TYPE name, writes for key k and index i, reads for key k).
COMMAND_CLASSES = {
    "string": ("string",
               lambda k, i: [["SET", k, "v%d" % i], ["APPEND", k, "-tail"],
                             ["SETRANGE", k, 0, "V"], ["SETNX", k, "ignored"]],
               lambda k: [["GET", k], ["STRLEN", k], ["GETRANGE", k, 0, 3]]),
    "counter": ("string",
                lambda k, i: [["INCR", k], ["INCRBY", k, i * 10], ["DECR", k],
                              ["INCRBYFLOAT", k, "0.5"]],
                lambda k: [["GET", k]]),
    "setex": ("string",
              lambda k, i: [["SETEX", k, 100000, "e%d" % i], ["GETSET", k, "g%d" % i]],
              lambda k: [["GET", k], ["GETDEL", k + ":none"]]),
    "hash": ("hash",
             lambda k, i: [["HSET", k, "f1", "a%d" % i, "f2", "b"], ["HINCRBY", k, "n", i],
                           ["HSETNX", k, "f1", "no"], ["HDEL", k, "f2"]],
             lambda k: [["HGETALL", k], ["HGET", k, "f1"], ["HLEN", k], ["HMGET", k, "f1", "x"],
                        ["HEXISTS", k, "n"]]),
    "list": ("list",
             lambda k, i: [["RPUSH", k, "a", "b%d" % i, "c"], ["LPUSH", k, "z"],
                           ["LSET", k, 1, "A"], ["LINSERT", k, "BEFORE", "c", "bc"],
                           ["RPOP", k]],
             lambda k: [["LRANGE", k, 0, -1], ["LLEN", k], ["LINDEX", k, 2], ["LPOS", k, "A"]]),
    "set": ("set",
            lambda k, i: [["SADD", k, "a", "b", "m%d" % i], ["SREM", k, "b"]],
            lambda k: [["SCARD", k], ["SISMEMBER", k, "a"], ["SMISMEMBER", k, "a", "b"]]),
    "zset": ("zset",
             lambda k, i: [["ZADD", k, 1, "a", 2, "b", i, "c"], ["ZINCRBY", k, 5, "a"]],
             lambda k: [["ZRANGE", k, 0, -1, "WITHSCORES"], ["ZSCORE", k, "a"],
                        ["ZRANK", k, "b"], ["ZCARD", k]]),
    "hyperloglog": ("string",
                    lambda k, i: [["PFADD", k, "a", "b", "c%d" % i]],
                    lambda k: [["PFCOUNT", k]]),
    "bitmap": ("string",
               lambda k, i: [["SETBIT", k, 7, 1], ["SETBIT", k, 100 + i, 1],
                             ["BITFIELD", k, "SET", "u8", 16, 200]],
               lambda k: [["GETBIT", k, 7], ["BITCOUNT", k], ["BITPOS", k, 1], ["GET", k],
                          ["BITFIELD_RO", k, "GET", "u8", 16]]),
    "geo": ("zset",
            lambda k, i: [["GEOADD", k, "13.361389", "38.115556", "Palermo", "15.087269",
                           "37.502669", "Catania"]],
            lambda k: [["GEODIST", k, "Palermo", "Catania", "km"], ["GEOHASH", k, "Palermo"],
                       ["GEOSEARCH", k, "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC"]]),
    "stream": ("stream",
               lambda k, i: [["XADD", k, "1-1", "f", "v%d" % i], ["XADD", k, "2-1", "f", "w"]],
               lambda k: [["XRANGE", k, "-", "+"], ["XLEN", k], ["XREVRANGE", k, "+", "-"]]),
    "expire": ("string",
               lambda k, i: [["SET", k, "x%d" % i], ["PEXPIREAT", k, 4102444800000 + i]],
               lambda k: [["PEXPIRETIME", k], ["EXPIRETIME", k], ["PERSIST", k + ":none"]]),
}

KEYS_PER_CLASS = 8


def test_every_command_class_lands_on_the_backend_placement_names(env):
    proxy = env.client()
    oracle = env.oracle.client()
    keys = {cls: ["%s:%d" % (cls, i) for i in range(KEYS_PER_CLASS)] for cls in COMMAND_CLASSES}
    writes = [cmd for cls, (_, write, _) in COMMAND_CLASSES.items()
              for i, k in enumerate(keys[cls]) for cmd in write(k, i)]
    through_proxy = _run(proxy, writes)
    assert _comparable(through_proxy) == _comparable(_run(oracle, writes))
    assert not [r for r in through_proxy if isinstance(r, Exception)]

    all_keys = [k for ks in keys.values() for k in ks]
    owners = env.owners(all_keys)
    assert len({b.port for b in owners.values()}) == BACKENDS, "keys should reach every backend"
    for cls, (type_name, _, read) in COMMAND_CLASSES.items():
        for k in keys[cls]:
            owner = owners[k]
            for b in env.backends:
                held = b.client().exists(k)
                assert held == (1 if b is owner else 0), (
                    "%s key %r on %s, placement says %s" % (cls, k, b.address, owner.address))
            assert owner.client().type(k) == type_name.encode()
            reads = read(k)
            via_proxy = _comparable(_run(proxy, reads))
            assert via_proxy == _comparable(_run(owner.client(), reads)), (cls, k)
            assert via_proxy == _comparable(_run(oracle, reads)), (cls, k)
    # TTL counts down, so it is only checked to be set and sane.
    assert 0 < proxy.ttl("expire:0") <= 4102444800


def test_hash_tagged_keys_share_the_tags_backend(env):
    proxy = env.client()
    tags = ["user%d" % i for i in range(24)]
    forms = ["{%s}:a", "{%s}:b", "x:{%s}", "{%s}"]
    keys = [f % t for t in tags for f in forms]
    for i, key in enumerate(keys):
        assert proxy.set(key, i) is True
    owners = env.owners(keys)
    tag_owners = env.owners(tags)
    for t in tags:
        wanted = tag_owners[t]
        for f in forms:
            key = f % t
            assert owners[key] is wanted, "placement_tool: %r not with tag %r" % (key, t)
            assert wanted.client().get(key) is not None, "%r not on %s" % (key, wanted.address)
    assert len({b.port for b in tag_owners.values()}) > 1, "tags should spread over backends"
    assert sum(b.client().dbsize() for b in env.backends) == len(keys)


def _mixed_commands(prefix, count, rng):
    """A deterministic mix of reads and writes with a value unique to each command, so that a
    reply given to the wrong request (or out of order) cannot look right."""
    cmds = []
    for i in range(count):
        k = "%s:s%d" % (prefix, rng.randrange(300))
        op = rng.randrange(10)
        if op == 0:
            cmds.append(["SET", k, "%s-%d" % (prefix, i)])
        elif op == 1:
            cmds.append(["GET", k])
        elif op == 2:
            cmds.append(["INCRBY", "%s:c%d" % (prefix, rng.randrange(50)), i])
        elif op == 3:
            cmds.append(["HSET", "%s:h%d" % (prefix, rng.randrange(50)), "f%d" % i, i])
        elif op == 4:
            cmds.append(["HLEN", "%s:h%d" % (prefix, rng.randrange(50))])
        elif op == 5:
            cmds.append(["RPUSH", "%s:l%d" % (prefix, rng.randrange(50)), i])
        elif op == 6:
            cmds.append(["MGET"] + ["%s:s%d" % (prefix, rng.randrange(300)) for _ in range(5)])
        elif op == 7:
            cmds.append(["APPEND", k, "+%d" % i])
        elif op == 8:
            cmds.append(["EXISTS", k])
        else:
            cmds.append(["PING", "%s-%d" % (prefix, i)])
    return cmds


def test_concurrent_pipelines_of_thousands_of_commands_get_their_own_replies(env):
    clients = 4
    per_client = 5000
    corpora = [_mixed_commands("p%d" % c, per_client, random.Random(c)) for c in range(clients)]
    results = [None] * clients
    errors = []

    def run(index):
        try:
            client = redis.Redis(host="127.0.0.1", port=env.port, socket_timeout=30)
            results[index] = _run(client, corpora[index])
            client.close()
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    oracle = env.oracle.client()
    for c in range(clients):
        expected = _comparable(_run(oracle, corpora[c]))
        got = _comparable(results[c])
        assert len(got) == per_client
        wrong = [(i, corpora[c][i], got[i], expected[i]) for i in range(per_client)
                 if got[i] != expected[i]]
        assert not wrong, "client %d: %d wrong replies, first: %r" % (c, len(wrong), wrong[:3])


def test_clients_that_leave_mid_pipeline_do_not_shift_replies_for_others(env):
    """Clients that send thousands of requests and hang up at once leave their replies in
    flight on the shared server connections; those replies must be dropped, never handed to
    the next request in line."""
    proxy = env.client()
    big = "x" * 4096
    proxy.mset({"leave:%d" % i: "%s-%d" % (big, i) for i in range(50)})
    checker = proxy_testing.RawConnection(env.port)
    try:
        for attempt in range(5):
            leavers = [proxy_testing.RawConnection(env.port) for _ in range(8)]
            for conn in leavers:
                conn.send(b"".join(proxy_testing.encode("GET", "leave:%d" % (i % 50))
                                   for i in range(3000)) +
                          proxy_testing.encode("MGET", *["leave:%d" % i for i in range(50)]))
            for conn in leavers:
                conn.close()
            cmds = [c for i in range(500) for c in (["SET", "mine:%d" % (i % 40),
                                                     "a%d-%d" % (attempt, i)],
                                                    ["GET", "mine:%d" % (i % 40)])]
            replies = checker.pipeline(cmds)
            for i in range(0, len(cmds), 2):
                want = cmds[i][2].encode()
                assert replies[i] == b"+OK\r\n", (cmds[i], replies[i])
                assert replies[i + 1] == b"$%d\r\n%s\r\n" % (len(want), want), (
                    cmds[i + 1], replies[i + 1][:60])
    finally:
        checker.close()
    assert env.proxy.running()


def _seed(client, n=40):
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set("key%d" % i, "value-%d" % i)
    pipe.hset("ahash", "f", "v")
    pipe.execute()


SPLIT_COMMANDS = [
    ["MGET"] + ["key%d" % i for i in range(40)],
    ["MGET", "key3", "missing1", "key17", "key3", "ahash", "missing2", "key39"],
    ["MGET", "missing"],
    ["MGET"] + ["key%d" % (i % 45) for i in range(1000)],
    ["EXISTS", "key1", "key1", "key2", "missing", "key2", "key30"],
    ["EXISTS", "missing", "missing2"],
    ["TOUCH", "key4", "key5", "key5", "missing", "key33"],
    ["MSET"] + [x for i in range(30) for x in ("m%d" % i, "mv%d" % i)],
    ["MGET"] + ["m%d" % i for i in range(30)],
    ["MSET", "key1", "new1", "key2", "new2", "key1", "newer1"],
    ["MGET", "key1", "key2"],
    ["DEL", "key1", "key1", "key2", "missing", "key3"],
    ["UNLINK", "key4", "key5", "key6", "key6", "missing"],
    ["DEL", "key1", "key2"],
    ["EXISTS", "key1", "key4", "key7"],
    ["MGET", "key1", "key4", "key7", "key8"],
    ["DEL"] + ["m%d" % i for i in range(30)],
]


def test_split_commands_merge_like_one_redis(env):
    proxy = env.client()
    oracle = env.oracle.client()
    _seed(proxy)
    _seed(oracle)
    owners = env.owners(["key%d" % i for i in range(40)])
    assert len({b.port for b in owners.values()}) == BACKENDS
    for cmd in SPLIT_COMMANDS:
        got = _comparable([proxy.execute_command(*cmd)])
        assert got == _comparable([oracle.execute_command(*cmd)]), cmd[:8]
    # What is left sits where placement says.
    for key, owner in env.owners(["key%d" % i for i in range(40)]).items():
        for b in env.backends:
            assert b.client().get(key) == (oracle.get(key) if b is owner else None), key


def test_mset_puts_each_pair_on_its_own_backend(env):
    proxy = env.client()
    pairs = {"ms:%d" % i: "val:%d" % i for i in range(64)}
    assert proxy.mset(pairs) is True
    for key, owner in env.owners(list(pairs)).items():
        assert owner.client().get(key) == pairs[key].encode()
        assert sum(b.client().exists(key) for b in env.backends) == 1


# Multi-key commands whose keys share the tag {t}, so they all live on one backend.
SAME_SERVER_COMMANDS = [
    ["SADD", "{t}a", "1", "2", "3"],
    ["SADD", "{t}b", "3", "4"],
    ["SUNIONSTORE", "{t}u", "{t}a", "{t}b"],
    ["SINTERSTORE", "{t}i", "{t}a", "{t}b"],
    ["SDIFF", "{t}a", "{t}b"],
    ["SINTERCARD", 2, "{t}a", "{t}b"],
    ["SMOVE", "{t}a", "{t}b", "1"],
    ["SMEMBERS", "{t}u"],
    ["SET", "{t}x", "rename-me"],
    ["RENAME", "{t}x", "{t}y"],
    ["RENAMENX", "{t}y", "{t}a"],
    ["GET", "{t}y"],
    ["COPY", "{t}y", "{t}y2"],
    ["GET", "{t}y2"],
    ["RPUSH", "{t}l1", "a", "b", "c"],
    ["LMOVE", "{t}l1", "{t}l2", "LEFT", "RIGHT"],
    ["RPOPLPUSH", "{t}l1", "{t}l2"],
    ["LRANGE", "{t}l2", 0, -1],
    ["ZADD", "{t}z1", 1, "a", 2, "b"],
    ["ZADD", "{t}z2", 3, "b", 4, "c"],
    ["ZUNIONSTORE", "{t}z", 2, "{t}z1", "{t}z2", "WEIGHTS", 1, 2],
    ["ZRANGE", "{t}z", 0, -1, "WITHSCORES"],
    ["ZINTER", 2, "{t}z1", "{t}z2"],
    ["PFADD", "{t}h1", "a", "b"],
    ["PFADD", "{t}h2", "b", "c"],
    ["PFMERGE", "{t}h", "{t}h1", "{t}h2"],
    ["PFCOUNT", "{t}h1", "{t}h2"],
    ["SET", "{t}b1", "\x0f"],
    ["SET", "{t}b2", "\xf0"],
    ["BITOP", "OR", "{t}b3", "{t}b1", "{t}b2"],
    ["GET", "{t}b3"],
    ["MSETNX", "{t}n1", "1", "{t}n2", "2"],
    ["EVAL", "return {redis.call('incr', KEYS[1]), redis.call('get', KEYS[2]), ARGV[1]}",
     2, "{t}cnt", "{t}y", "arg"],
    ["EVAL", "return redis.call('get', KEYS[1])", 1, "{t}y2"],
]


def test_multi_key_commands_with_one_hash_tag_run_on_its_backend(env):
    proxy = env.client()
    oracle = env.oracle.client()
    for cmd in SAME_SERVER_COMMANDS:
        got = _comparable([proxy.execute_command(*cmd)])
        assert got == _comparable([oracle.execute_command(*cmd)]), cmd
    owner = env.owner("t")
    for key in ("{t}u", "{t}y", "{t}y2", "{t}l2", "{t}z", "{t}h", "{t}b3", "{t}n1", "{t}cnt"):
        assert owner.client().exists(key) == 1, key
    assert sum(b.client().dbsize() for b in env.backends if b is not owner) == 0


def _cross_commands(a, b):
    return [
        ("SUNION", ["SUNION", a, b]),
        ("SUNIONSTORE", ["SUNIONSTORE", a, a, b]),
        ("SINTERCARD", ["SINTERCARD", 2, a, b]),
        ("RENAME", ["RENAME", a, b]),
        ("COPY", ["COPY", a, b]),
        ("LMOVE", ["LMOVE", a, b, "LEFT", "RIGHT"]),
        ("RPOPLPUSH", ["RPOPLPUSH", a, b]),
        ("SMOVE", ["SMOVE", a, b, "m"]),
        ("ZUNIONSTORE", ["ZUNIONSTORE", a, 2, a, b]),
        ("PFMERGE", ["PFMERGE", a, b]),
        ("BITOP", ["BITOP", "AND", a, a, b]),
        ("MSETNX", ["MSETNX", a, "1", b, "2"]),
        ("EVAL", ["EVAL", "return redis.call('set', KEYS[1], 'x')", 2, a, b]),
    ]


def test_multi_key_commands_across_backends_get_crossslot_and_change_nothing(env):
    a, b = env.keys_on_distinct_shards(2, prefix="cross")
    with proxy_testing.RawConnection(env.port) as conn:
        for name, cmd in _cross_commands(a, b):
            reply = conn.command(*cmd)
            assert reply.startswith(b"-CROSSSLOT "), (cmd, reply)
            assert name.encode() in reply, (cmd, reply)
            assert conn.command("PING") == b"+PONG\r\n"
    assert sum(s.client().dbsize() for s in env.backends) == 0


def test_eval_without_keys_is_an_error_and_the_connection_stays_usable(env):
    with proxy_testing.RawConnection(env.port) as conn:
        for cmd in (["EVAL", "return 1", 0], ["EVALSHA", "a" * 40, 0],
                    ["EVAL", "return redis.call('set', 'x', 'y')", "0"]):
            reply = conn.command(*cmd)
            assert reply.startswith(b"-"), (cmd, reply)
            assert conn.command("PING") == b"+PONG\r\n"
    assert sum(s.client().dbsize() for s in env.backends) == 0


ALL_BYTES = bytes(range(256))


def test_binary_keys_and_values_round_trip_to_their_backend(env):
    proxy = env.client()
    keys = [bytes([b]) for b in range(256)] + [ALL_BYTES, ALL_BYTES[::-1], b"\r\n*1\r\n$4\r\n"]
    values = {k: ALL_BYTES + k + ALL_BYTES[::-1] for k in keys}
    pipe = proxy.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, values[k])
    assert all(r is True for r in pipe.execute())
    pipe = proxy.pipeline(transaction=False)
    for k in keys:
        pipe.get(k)
    assert pipe.execute() == [values[k] for k in keys]
    assert proxy.mget(keys) == [values[k] for k in keys]
    assert proxy.hset(b"h" + ALL_BYTES, ALL_BYTES, ALL_BYTES) == 1
    assert proxy.hgetall(b"h" + ALL_BYTES) == {ALL_BYTES: ALL_BYTES}
    owners = env.owners(keys)
    assert len({b.port for b in owners.values()}) == BACKENDS
    for k in keys:
        assert owners[k].client().get(k) == values[k], k


@pytest.mark.parametrize("size", [1 << 20, 16 << 20], ids=["1MiB", "16MiB"])
def test_large_values_round_trip(env, size):
    proxy = env.client(socket_timeout=60)
    value = (ALL_BYTES * (size // 256 + 1))[:size - 3] + b"end"
    assert proxy.set("big", value) is True
    assert proxy.get("big") == value
    assert env.owner("big").client().strlen("big") == size
    assert proxy.getrange("big", size - 3, -1) == b"end"
    # Split across backends: two big values in one MSET / MGET.
    a, b = env.keys_on_distinct_shards(2, prefix="big")
    assert proxy.mset({a: value, b: value[::-1]}) is True
    assert proxy.mget([b, "missing", a]) == [value[::-1], None, value]
    assert proxy.ping() is True
