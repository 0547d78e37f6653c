"""A stream consumer group as applications run one, at default options and without BLOCK:
XGROUP CREATE, XADD, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO and XREAD, by
redis-py, ioredis and node-redis. Streams that share a hash tag are read together; streams on
different shards are refused, and a refused XREADGROUP delivers nothing anywhere.

RINGPROXY_PATTERNS_TARGET=redis runs this file against one plain redis-server (see
client_patterns.py).
"""

import pytest
import redis

import client_patterns as cp


@pytest.fixture(scope="module")
def setup(module_processes):
    return cp.PatternTarget(module_processes)


@pytest.fixture
def target(setup):
    setup.reset()
    return setup


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _entries(entries):
    return [[_text(i), {_text(k): _text(v) for k, v in fields.items()}] for i, fields in entries]


def _streams(reply):
    return [[_text(name), _entries(entries)] for name, entries in reply or []]


def _redis_py_stream_group(r, s, g):
    """The pattern of client_patterns.mjs's streamGroup(), with redis-py's API."""
    out = {"created": "OK" if r.xgroup_create(s, g, id="0", mkstream=True) else "failed"}
    out["ids"] = [_text(r.xadd(s, {"n": str(i)})) for i in (1, 2, 3)]
    out["read"] = _streams(r.xreadgroup(g, "alice", {s: ">"}, count=10))
    out["acked"] = r.xack(s, g, out["ids"][0])
    pending = r.xpending(s, g)
    out["pending"] = {"count": pending["pending"], "min": _text(pending["min"]),
                      "max": _text(pending["max"]),
                      "consumers": {_text(c["name"]): c["pending"]
                                    for c in pending["consumers"]}}
    out["claimed"] = [_text(e[0]) for e in r.xclaim(s, g, "bob", 0, [out["ids"][1]])]
    auto = r.xautoclaim(s, g, "carol", 0, "0-0", count=10)
    out["autoclaimed"] = {"next": _text(auto[0]), "ids": [_text(e[0]) for e in auto[1]]}
    out["groups"] = [{"name": _text(gr["name"]), "consumers": gr["consumers"],
                      "pending": gr["pending"]} for gr in r.xinfo_groups(s)]
    out["consumers"] = {_text(c["name"]): c["pending"] for c in r.xinfo_consumers(s, g)}
    out["length"] = r.xinfo_stream(s)["length"]
    out["xread"] = _streams(r.xread({s: "0"}, count=10))
    return out


@pytest.mark.parametrize("client", cp.client_params())
def test_a_consumer_group_reads_acks_claims_and_reports_as_redis_does(target, client):
    stream, group = "orders:%s" % client.id, "billing"
    if client.is_node:
        out = cp.node_ok(cp.run_node(client, target, "stream_group",
                                     {"stream": stream, "group": group}))
    else:
        r = target.client()
        try:
            out = _redis_py_stream_group(r, stream, group)
        finally:
            r.close()
    ids = out["ids"]
    assert len(ids) == 3 and len(set(ids)) == 3, out
    entries = [[ids[i], {"n": str(i + 1)}] for i in range(3)]
    assert out["created"] == "OK"
    assert out["read"] == [[stream, entries]], out
    assert out["acked"] == 1
    assert out["pending"] == {"count": 2, "min": ids[1], "max": ids[2],
                              "consumers": {"alice": 2}}, out
    assert out["claimed"] == [ids[1]], out
    assert out["autoclaimed"] == {"next": "0-0", "ids": [ids[1], ids[2]]}, out
    assert out["groups"] == [{"name": group, "consumers": 3, "pending": 2}], out
    assert out["consumers"] == {"alice": 0, "bob": 0, "carol": 2}, out
    assert out["length"] == 3
    assert out["xread"] == [[stream, entries]], out
    # The group lives on the stream's shard, as the client left it.
    owner = target.owner(stream).client()
    assert owner.xlen(stream) == 3
    assert owner.xpending(stream, group)["pending"] == 2


def test_streams_sharing_a_hash_tag_are_read_and_group_read_together(target):
    r = target.client()
    first, second = "{feed}:a", "{feed}:b"
    r.xgroup_create(first, "g", id="0", mkstream=True)
    r.xgroup_create(second, "g", id="0", mkstream=True)
    one = _text(r.xadd(first, {"f": "1"}))
    two = _text(r.xadd(second, {"f": "2"}))
    assert _streams(r.xread({first: "0", second: "0"}, count=5)) == [
        [first, [[one, {"f": "1"}]]], [second, [[two, {"f": "2"}]]]]
    assert _streams(r.xreadgroup("g", "c", {first: ">", second: ">"}, count=5)) == [
        [first, [[one, {"f": "1"}]]], [second, [[two, {"f": "2"}]]]]
    assert r.xack(first, "g", one) == 1
    r.close()


@pytest.mark.skipif(cp.DIRECT, reason="one redis-server has no shards to cross")
def test_a_read_of_streams_on_two_shards_is_refused_and_delivers_nothing(target):
    r = target.client()
    first, second = target.keys_on_distinct_shards(2, prefix="stream")
    for s in (first, second):
        target.owner(s).client().xgroup_create(s, "g", id="0", mkstream=True)
        target.owner(s).client().xadd(s, {"f": s})
    with pytest.raises(redis.ResponseError):
        r.xread({first: "0", second: "0"}, count=5)
    with pytest.raises(redis.ResponseError):
        r.xreadgroup("g", "c", {first: ">", second: ">"}, count=5)
    for s in (first, second):
        # Nothing was delivered to the group on either shard.
        assert target.owner(s).client().xpending(s, "g")["pending"] == 0
    # The connection still serves a read on one shard.
    assert len(_streams(r.xread({first: "0"}, count=5))[0][1]) == 1
    r.close()
