"""RESP2 and RESP3 clients at once, on the same shards and the same keys, each pipelining: every
client must get its own protocol's bytes, exactly what one redis-server sends a client of that
protocol for the same commands. One client switches protocol on every round, inside its
pipeline. Then the servers behind the proxy must hold what the clients wrote.

Each client's commands are first run on an oracle redis-server on a connection of the same
protocol; its keys of its own are written by it alone, the shared keys are only read, except
one counter all of them increment (its replies depend on the interleaving: only their type is
compared, and the final count). RINGPROXY_RESP3_TARGET=redis runs the file against a plain
redis-server (resp3_testing.py).
"""

import threading

import pytest

import resp3_testing as r3
from proxy_testing import RawConnection

ROUNDS = 40
COUNTER = "{mixed}counter"
# Client protocols: a number is a fixed protocol; "switch" alternates HELLO 3 / HELLO 2 inside
# each round's pipeline.
CLIENTS = [2, 3, 2, 3, 3, 2, "switch", "switch"]


@pytest.fixture(scope="module")
def setup(module_processes):
    return r3.Target(module_processes), module_processes.redis()


@pytest.fixture
def env(setup):
    target, oracle = setup
    target.flush()
    r3.wipe(oracle)
    return target, oracle


def _seed(target, oracle):
    """Shared keys of every type on every shard; returns their names by type."""
    shared = {"hash": target.keys_per_backend(2, prefix="sh-hash"),
              "zset": target.keys_per_backend(2, prefix="sh-zset"),
              "set": target.keys_per_backend(1, prefix="sh-set"),
              "str": target.keys_per_backend(2, prefix="sh-str"),
              "missing": target.keys_per_backend(1, prefix="sh-missing")}
    for i, k in enumerate(shared["hash"]):
        values = {"a": str(i), "b": "", "c": "x" * i}
        target.owner(k).client().hset(k, mapping=values)
        oracle.client().hset(k, mapping=values)
    for i, k in enumerate(shared["zset"]):
        scores = {"lo": float("-inf"), "half": 1.5, "big": 3e20, "n%d" % i: i}
        target.owner(k).client().zadd(k, scores)
        oracle.client().zadd(k, scores)
    for k in shared["set"]:
        target.owner(k).client().sadd(k, 3, 1, 2)
        oracle.client().sadd(k, 3, 1, 2)
    for k in shared["str"]:
        target.owner(k).client().set(k, "value of " + k)
        oracle.client().set(k, "value of " + k)
    return shared


def _script(index, protocol, shared):
    """The commands client `index` sends, one list per round (each round one pipeline)."""
    own = ["%d:own%d" % (j, index) for j in range(4)]
    rounds = []
    for n in range(ROUNDS):
        batch = []
        if protocol == "switch":
            batch.append(["HELLO", "3" if n % 2 == 0 else "2"])
        batch += [["HGETALL", k] for k in shared["hash"][:3]]
        batch += [["ZSCORE", shared["zset"][n % len(shared["zset"])], m]
                  for m in ("lo", "half", "big", "nope")]
        batch.append(["ZRANGE", shared["zset"][0], 0, -1, "WITHSCORES"])
        batch.append(["SMEMBERS", shared["set"][n % len(shared["set"])]])
        batch.append(["MGET"] + shared["str"][:5] + shared["missing"][:3])
        batch.append(["GET", shared["missing"][n % len(shared["missing"])]])
        batch.append(["HMGET", shared["hash"][0], "a", "nope", "c"])
        batch.append(["HSET", own[0], "round", n, "client", index])
        batch.append(["HGETALL", own[0]])
        batch.append(["ZINCRBY", own[1], "0.5", "m"])
        batch.append(["ZRANGE", own[1], 0, -1, "WITHSCORES"])
        batch.append(["RPUSH", own[2], n])
        batch.append(["LPOP", own[2]])
        batch.append(["LPOP", own[2]])
        batch.append(["SET", own[3], "c%d-r%d" % (index, n), "GET"])
        batch.append(["EXISTS"] + own + shared["missing"][:2])
        batch.append(["INCR", COUNTER])
        rounds.append(batch)
    return rounds


def _run(port, protocol, rounds):
    """Sends each round as one pipeline on one connection; returns all replies, in order."""
    replies = []
    with RawConnection(port) as conn:
        if protocol != "switch":
            r3.hello(conn, protocol)
        for batch in rounds:
            replies += conn.pipeline(batch)
    return replies


def test_resp2_and_resp3_clients_at_once_each_get_their_own_protocol(env):
    target, oracle = env
    shared = _seed(target, oracle)
    scripts = [_script(i, p, shared) for i, p in enumerate(CLIENTS)]
    # What one redis-server answers each client (a connection of the same protocol).
    want = [_run(oracle.port, p, s) for p, s in zip(CLIENTS, scripts)]
    r3.wipe(oracle)

    got = [None] * len(CLIENTS)
    errors = []
    start = threading.Barrier(len(CLIENTS))

    def client(i):
        try:
            start.wait(10)
            got[i] = _run(target.port, CLIENTS[i], scripts[i])
        except Exception as exc:  # pylint: disable=broad-except
            errors.append("client %d (%s): %r" % (i, CLIENTS[i], exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(CLIENTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a client is still running after 60 s"
    assert not errors, errors

    for i, protocol in enumerate(CLIENTS):
        commands = [c for batch in scripts[i] for c in batch]
        assert len(got[i]) == len(commands)
        counters = [n for n, c in enumerate(commands) if c[1:] == [COUNTER]]
        for n in counters:
            assert got[i][n].startswith(b":"), (i, got[i][n])
        keep = [n for n in range(len(commands)) if n not in set(counters)]
        diffs = r3.diff([commands[n] for n in keep], [want[i][n] for n in keep],
                        [got[i][n] for n in keep])
        assert not diffs, "client %d (%s): %s" % (i, protocol, r3.describe(diffs, len(keep)))
        seen = set()
        for reply in got[i]:
            seen |= r3.kinds(reply)
        if protocol == 2:
            assert seen <= {b"+", b"-", b":", b"$", b"*"}, (i, seen)
        else:
            assert {b"%", b",", b"_", b"~"} <= seen, (i, seen)
    # Every increment of every client landed once.
    owner = target.owner(COUNTER).client()
    assert owner.get(COUNTER) == str(len(CLIENTS) * ROUNDS).encode()
    assert target.owner("0:own0").client().hget("0:own0", "round") == str(ROUNDS - 1).encode()


def test_a_resp3_client_and_a_resp2_client_interleave_single_commands_on_one_key(env):
    """Request by request, alternating between the two connections, on one key per shard: a
    reply given to the wrong client, or in the wrong protocol, shows at once."""
    target, oracle = env
    keys = target.keys_per_backend(1, prefix="alt")
    with RawConnection(target.port) as two, RawConnection(target.port) as three, \
            RawConnection(oracle.port) as two_o, RawConnection(oracle.port) as three_o:
        r3.hello(three, 3)
        r3.hello(three_o, 3)
        for n in range(25):
            for k in keys:
                for conn, plain in ((two, two_o), (three, three_o)):
                    for cmd in (["HSET", k, "n", n], ["HGETALL", k], ["ZADD", k + "z", n, "m"],
                                ["ZSCORE", k + "z", "m"], ["GET", k + "missing"]):
                        got, want = conn.command(*cmd), plain.command(*cmd)
                        assert got == want, (cmd, got, want)


def test_the_shards_serve_a_resp3_client_on_resp3_server_connections(env):
    """A RESP3 client's requests travel on server connections that said HELLO 3 (Redis shows
    them as resp=3), a RESP2 client's on RESP2 ones; checked on every shard while both clients
    are connected."""
    target, _ = env
    keys = target.keys_per_backend(1, prefix="conn")
    with RawConnection(target.port) as two, RawConnection(target.port) as three:
        r3.hello(three, 3)
        for k in keys:
            assert three.command("GET", k) == b"_\r\n"
            assert two.command("GET", k) == b"$-1\r\n"
        for backend in target.backends:
            c = backend.client()
            mine = c.client_id()
            protocols = {str(x.get("resp")) for x in c.client_list() if int(x["id"]) != mine}
            assert {"2", "3"} <= protocols, (backend.port, protocols)
