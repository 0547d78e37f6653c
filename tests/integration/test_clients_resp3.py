"""Real clients in RESP3 at their default options, and every node client's protocol: node-redis 6
and ioredis 6 with no options (both say HELLO 3 on connect), node-redis 5 with RESP: 3; the
RESP2 clients beside them. Each must speak the protocol it asked for through the target (ioredis
6 falls back to RESP2 silently when HELLO 3 is refused, so this is asked of the connection
itself), and plain commands, raw commands of every RESP3 reply type and a pipeline over keys of
every shard must give the client exactly what it gets from one plain redis-server.

The rest of the client-pattern matrix (transactions, WATCH loops, scripts by SHA, stream groups,
big pipelines and values) runs the same RESP3 clients through the proxy in the other
test_clients_*.py files. RINGPROXY_PATTERNS_TARGET=redis runs this file against one
redis-server (client_patterns.py).
"""

import pytest

import client_patterns as cp

class Direct:
    """One plain redis-server as run_node() takes a target (its port)."""

    def __init__(self, server):
        self.server = server
        self.port = server.port


@pytest.fixture(scope="module")
def setup(module_processes):
    return cp.PatternTarget(module_processes), Direct(module_processes.redis())


@pytest.fixture
def env(setup):
    target, direct = setup
    target.reset()
    direct.server.client().flushall()
    return target, direct


@pytest.mark.parametrize("client", cp.client_params(with_redis_py=False))
def test_each_client_speaks_the_protocol_it_asked_for(env, client):
    target, direct = env
    out = cp.node_ok(cp.run_node(client, target, "protocol", {}))
    want = cp.node_ok(cp.run_node(client, direct, "protocol", {}))
    assert want["proto"] == (3 if client.resp3 else 2), want
    assert out["proto"] == want["proto"], (
        "%s speaks RESP%s through %s, RESP%s to redis-server" % (
            client.id, out["proto"], target.name, want["proto"]))
    assert out["hello_fields"] == want["hello_fields"], out
    assert not out["client_errors"], out


def _keys(target, client):
    every = target.keys_on_every_shard("plain-%s" % client.id)
    tag = "{plain-%s}" % client.id
    return {"every": every, "str": every[0], "missing": tag + "missing", "num": tag + "num",
            "hash": tag + "hash", "set": tag + "set", "zset": tag + "zset",
            "stream": tag + "stream"}


def _raw(keys):
    """Raw commands whose replies take every RESP3 type a client parses."""
    h, s, z, x, k = keys["hash"], keys["set"], keys["zset"], keys["stream"], keys["str"]
    lua = "redis.setresp(3); return "
    return [["HGETALL", h], ["HGETALL", keys["missing"]], ["SMEMBERS", s], ["ZSCORE", z, "half"],
            ["ZSCORE", z, "top"], ["ZSCORE", z, "bottom"], ["ZMSCORE", z, "half", "nope"],
            ["ZRANGE", z, 0, -1, "WITHSCORES"], ["GET", keys["missing"]],
            ["MGET"] + keys["every"] + [keys["missing"]],
            ["EVAL", lua + "{double=1.5}", 1, k], ["EVAL", lua + "true", 1, k],
            ["EVAL", lua + "false", 1, k],
            ["EVAL", lua + "{big_number='123456789012345678901234567890'}", 1, k],
            ["EVAL", lua + "{verbatim_string={format='txt', string='verbatim'}}", 1, k],
            ["EVAL", lua + "{set={member=true}}", 1, k],
            ["EVAL", lua + "{map={field={double=-1/0}}}", 1, k],
            ["XADD", x, "1-1", "f", "v"], ["XINFO", "STREAM", x], ["XREAD", "STREAMS", x, "0"],
            ["XREAD", "STREAMS", keys["missing"], "0"], ["PING"], ["ECHO", "echoed"],
            ["CLIENT", "GETNAME"], ["HRANDFIELD", h, 5, "WITHVALUES"],
            ["GET"], ["HGET", s, "f"]]


@pytest.mark.parametrize("client", cp.client_params(with_redis_py=False))
def test_plain_commands_and_a_pipeline_get_what_one_redis_server_gives(env, client):
    target, direct = env
    keys = _keys(target, client)
    args = {"keys": keys, "raw": _raw(keys)}
    out = cp.node_ok(cp.run_node(client, target, "plain_commands", args))
    want = cp.node_ok(cp.run_node(client, direct, "plain_commands", args))
    assert not want["client_errors"], want
    for part in ("typed", "raw"):
        for name in (want[part] if part == "typed" else range(len(want[part]))):
            assert out[part][name] == want[part][name], (client.id, part, name,
                                                         args["raw"][name] if part == "raw"
                                                         else None)
    assert out["client_errors"] == want["client_errors"]
    typed = out["typed"]
    assert typed["get"] == "value" and typed["get_missing"] is None, typed
    assert len(typed["pipeline"]) == 5 * len(keys["every"])
    assert typed["del"] == len(keys["every"])
    errors = [r for r in out["raw"] if isinstance(r, dict) and "error" in r]
    assert len(errors) == 2, errors  # GET without a key, HGET of a set
    # What the client parsed: ZRANGE WITHSCORES is a list of [member, score] pairs in RESP3,
    # one flat list in RESP2, whatever the library maps maps and doubles to.
    zrange = out["raw"][7]
    assert isinstance(zrange[0], list) == client.resp3, (client.id, zrange)
    for key in keys["every"]:
        assert target.owner(key).client().exists(key) == 0
    assert target.owner(keys["hash"]).client().hgetall(keys["hash"]) == {b"a": b"1",
                                                                         b"b": b"two"}
