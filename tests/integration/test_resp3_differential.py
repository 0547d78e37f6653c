"""ringproxy against a real redis-server in RESP3: the same corpus of commands goes through
ringproxy (four shards) and to one plain redis-server, each connection after `HELLO 3`, and
every reply must be byte-identical, except the fields that name the answering server
(resp3_testing.HELLO_EXCLUDED and REPLY_EXCLUDED: HELLO's server, version and id, CLIENT ID,
INFO's text), which keep their type and place.

The corpus (1,199 commands): the nutcracker differential's 769 (test_proxy_differential.py:
strings, numbers, expiry, hashes, lists, sets, sorted sets, HyperLogLog, bitmaps, geo, split
MGET/MSET/DEL/TOUCH/UNLINK, binary keys, hash-tagged multi-key commands, scripts, errors), then
402 whose RESP3 replies differ from RESP2's: maps (HGETALL, XINFO, XREAD, XREADGROUP, LCS IDX,
FUNCTION LIST), sets (SMEMBERS, SINTER, SUNION, SDIFF, SPOP with a count), doubles (ZSCORE,
ZMSCORE, ZINCRBY, ZADD INCR, WITHSCORES, GEOSEARCH WITHDIST: inf, -inf, 1.5, exponents, -0),
nulls (GET, LPOP, ZSCORE, HGET, XREAD, ZMPOP, GEOPOS, and inside arrays: MGET, HMGET, ZMSCORE,
BITFIELD OVERFLOW FAIL), empty collections, transactions whose EXEC carries RESP3 replies,
functions, and Lua with redis.setresp(3) for what no plain command returns: booleans, big
numbers, verbatim strings, maps and sets built by a script; then 28 the proxy answers itself
(PING, ECHO, SELECT, CLIENT SETNAME/GETNAME/ID, HELLO, INFO, COMMAND COUNT) or that are errors.

Unreachable through the proxy with redis-server 7.0, so not in this corpus: push replies (`>`:
only pub/sub, client tracking and DEBUG PROTOCOL send them; the proxy refuses all three),
attributes (`|`: only DEBUG PROTOCOL attrib) and blob errors (`!`: nothing in Redis 7.0 sends
one). test_resp3_framing.py puts them on the wire from a relay in front of each real shard.

The same corpus in RESP2 must match too: that control passes with a RESP2-only proxy, so a
RESP3 difference is one of protocol, not of the corpus. Replies that depend on a hash-table
order, a clock or randomness are left out (sets of strings, XINFO CONSUMERS, idle times,
SRANDMEMBER with a count below the set's size), so that two redis-servers agree.

RINGPROXY_RESP3_TARGET=redis compares two plain redis-servers instead (resp3_testing.py).
"""

import pytest

import resp3_testing as r3
from test_proxy_differential import _corpus as nutcracker_corpus

INF_ZSET = "{z}inf"

# Lua that returns types only RESP3 has, after redis.setresp(3) (which also makes redis.call
# hand the script RESP3 replies: maps, sets, doubles, nulls).
LUA_RESP3 = [
    "return {map={field='value'}}",
    "return {map={}}",
    "return {set={member=true}}",
    "return {set={}}",
    "return {double=1.5}",
    "return {double=1/0}",
    "return {double=-1/0}",
    "return {double=1e300}",
    "return {double=-1.25e-7}",
    "return {double=-0.0}",
    "return {double=3}",
    "return {big_number='1234567890123456789012345678901234567890'}",
    "return {big_number='-1'}",
    "return {verbatim_string={format='txt', string='plain text'}}",
    "return {verbatim_string={format='mkd', string='# markdown\\r\\nline'}}",
    "return true",
    "return false",
    "return nil",
    "return {1, true, false, 'x'}",
    "return {}",
    "return {map={outer={map={inner={set={a=true}}}}}}",
    "return {map={d={double=2.5}, b={big_number='99999999999999999999'}, t=true}}",
    "return {{map={}}, {set={}}, {}, {double=0}}",
    "return {err='CUSTOM raised by the script'}",
    "return redis.error_reply('MY error reply')",
    "return redis.status_reply('FINE')",
    "return {ok='STATUS'}",
]


def _resp3_corpus():
    cmds = []
    add = cmds.append
    # Nulls: missing keys, fields, members, elements.
    add(["GET", "{n}missing"])
    add(["GETDEL", "{n}missing"])
    add(["GETEX", "{n}missing", "PERSIST"])
    add(["SET", "{n}missing", "v", "XX", "GET"])
    add(["LPOP", "{n}missing"])
    add(["LPOP", "{n}missing", 3])
    add(["RPOP", "{n}missing"])
    add(["LINDEX", "{n}missing", 0])
    add(["LPOS", "{n}missing", "x"])
    add(["HGET", "{n}missing", "f"])
    add(["HMGET", "{n}missing", "a", "b"])
    add(["ZSCORE", "{n}missing", "m"])
    add(["ZMSCORE", "{n}missing", "a", "b"])
    add(["ZRANK", "{n}missing", "m"])
    add(["ZINCRBY", "{n}z", 1, "m"])
    add(["ZADD", "{n}z", "NX", "INCR", 5, "m"])
    add(["ZADD", "{n}z", "XX", "INCR", 5, "nope"])
    add(["ZRANDMEMBER", "{n}missing"])
    add(["SRANDMEMBER", "{n}missing"])
    add(["SPOP", "{n}missing"])
    add(["HRANDFIELD", "{n}missing"])
    add(["XREAD", "COUNT", 1, "STREAMS", "{n}missing", "0"])
    add(["ZMPOP", 1, "{n}missing", "MIN"])
    add(["LMPOP", 1, "{n}missing", "LEFT"])
    add(["OBJECT", "ENCODING", "{n}missing"])
    add(["GEOPOS", "{n}missing", "a"])
    add(["GEODIST", "{n}missing", "a", "b"])
    add(["SRANDMEMBER", "{n}missing", 2])
    add(["EVAL", "redis.setresp(3); return redis.call('get', KEYS[1])", 1, "{n}missing"])
    # Empty collections.
    add(["HGETALL", "{n}missing"])
    add(["HKEYS", "{n}missing"])
    add(["SMEMBERS", "{n}missing"])
    add(["SINTER", "{n}missing", "{n}missing2"])
    add(["SPOP", "{n}missing", 3])
    add(["ZRANGE", "{n}missing", 0, -1, "WITHSCORES"])
    add(["ZPOPMIN", "{n}missing"])
    add(["LRANGE", "{n}missing", 0, -1])
    add(["XRANGE", "{n}missing", "-", "+"])
    add(["MGET", "{n}missing", "{n}missing2"])
    add(["HRANDFIELD", "{n}missing", 2, "WITHVALUES"])
    # Hashes: maps (small hashes keep insertion order).
    for i in range(6):
        k = "%d:r3hash" % i
        add(["HSET", k, "a", "1", "b", "2%d" % i, "c", ""])
        add(["HGETALL", k])
        add(["HMGET", k, "a", "nope", "c"])
        add(["HRANDFIELD", k, 5, "WITHVALUES"])  # count >= size: the whole hash, in order
        add(["HRANDFIELD", k, 3])
        add(["HSCAN", k, 0])
        add(["HINCRBYFLOAT", k, "fl", "1.5"])
        add(["HGETALL", k])
        add(["EVAL", "redis.setresp(3); return redis.call('hgetall', KEYS[1])", 1, k])
    # Sets of integers (intsets are sorted: replies do not depend on the process's hash seed).
    for i in range(6):
        k = "{s%d}a" % i
        other = "{s%d}b" % i
        add(["SADD", k, 5, 1, 3, 100 + i])
        add(["SADD", other, 3, 7])
        add(["SMEMBERS", k])
        add(["SINTER", k, other])
        add(["SUNION", k, other])
        add(["SDIFF", k, other])
        add(["SRANDMEMBER", k, 10])  # count >= size: the whole intset
        add(["SSCAN", k, 0])
        add(["SMISMEMBER", k, 1, 2])
        add(["SINTERCARD", 2, k, other])
        add(["EVAL", "redis.setresp(3); return redis.call('smembers', KEYS[1])", 1, k])
        add(["SPOP", other, 5])
    # Sorted sets: doubles, in every form a score takes.
    add(["ZADD", INF_ZSET, "inf", "top", "-inf", "bottom", "1.5", "half", "1e-5", "tiny",
         "3e20", "huge", "-0", "negzero", "0.1", "tenth", "123456789.123", "long"])
    for cmd in (["ZSCORE", INF_ZSET, "top"], ["ZSCORE", INF_ZSET, "bottom"],
                ["ZSCORE", INF_ZSET, "half"], ["ZSCORE", INF_ZSET, "tiny"],
                ["ZSCORE", INF_ZSET, "huge"], ["ZSCORE", INF_ZSET, "negzero"],
                ["ZSCORE", INF_ZSET, "tenth"], ["ZSCORE", INF_ZSET, "long"],
                ["ZMSCORE", INF_ZSET, "top", "nope", "bottom", "half"],
                ["ZRANGE", INF_ZSET, 0, -1, "WITHSCORES"],
                ["ZRANGE", INF_ZSET, 0, -1],
                ["ZREVRANGE", INF_ZSET, 0, 2, "WITHSCORES"],
                ["ZRANGEBYSCORE", INF_ZSET, "-inf", "+inf", "WITHSCORES", "LIMIT", 1, 3],
                ["ZRANGE", INF_ZSET, "(0", "inf", "BYSCORE", "WITHSCORES"],
                ["ZRANDMEMBER", INF_ZSET, 20, "WITHSCORES"],
                ["ZSCAN", INF_ZSET, 0],
                ["ZINCRBY", INF_ZSET, "2.25", "half"],
                ["ZINCRBY", INF_ZSET, "1", "top"],
                ["ZINCRBY", INF_ZSET, "-inf", "top"],
                ["ZADD", INF_ZSET, "INCR", "0.5", "half"],
                ["ZADD", INF_ZSET, "GT", "CH", "INCR", "1", "tenth"],
                ["ZPOPMIN", INF_ZSET],
                ["ZPOPMAX", INF_ZSET, 2],
                ["ZMPOP", 1, INF_ZSET, "MIN", "COUNT", 2],
                ["EVAL", "redis.setresp(3); return redis.call('zscore', KEYS[1], 'half')", 1,
                 INF_ZSET],
                ["EVAL", "redis.setresp(3); return redis.call('zrange', KEYS[1], 0, -1, "
                         "'withscores')", 1, INF_ZSET],
                ["EVAL", "return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", 1,
                 INF_ZSET]):
        add(cmd)
    for i in range(4):
        a, b, dest = "{zz%d}a" % i, "{zz%d}b" % i, "{zz%d}dest" % i
        add(["ZADD", a, 1, "x", "2.5", "y", i, "z"])
        add(["ZADD", b, "0.5", "x", 4, "w"])
        add(["ZUNION", 2, a, b, "WITHSCORES"])
        add(["ZINTER", 2, a, b, "WEIGHTS", "2", "0.5", "WITHSCORES"])
        add(["ZDIFF", 2, a, b, "WITHSCORES"])
        add(["ZINTERCARD", 2, a, b])
        add(["ZRANGESTORE", dest, a, 0, -1])
        add(["ZRANGE", dest, 0, -1, "WITHSCORES"])
        add(["ZMPOP", 2, a, b, "MAX", "COUNT", 10])
        add(["ZRANDMEMBER", b, 5, "WITHSCORES"])
    # Lists with nulls around them.
    for i in range(3):
        k = "%d:r3list" % i
        add(["RPUSH", k, "a", "", "b", i])
        add(["LPOS", k, "b", "COUNT", 0])
        add(["LPOS", k, "zz", "COUNT", 0])
        add(["LMPOP", 1, k, "RIGHT", "COUNT", 2])
        add(["LPOP", k, 10])
        add(["LPOP", k, 10])
    # Bitfields with an overflow that yields a null inside the array.
    add(["BITFIELD", "{b}bf", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 5, "GET", "u2", 0])
    add(["BITFIELD_RO", "{b}bf", "GET", "u8", 0])
    # Geo: coordinates, distances and hashes in RESP3, nulls for missing members.
    add(["GEOADD", "{g}geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669",
         "Catania"])
    add(["GEOPOS", "{g}geo", "Palermo", "nowhere", "Catania"])
    add(["GEODIST", "{g}geo", "Palermo", "Catania"])
    add(["GEODIST", "{g}geo", "Palermo", "nowhere"])
    add(["GEOSEARCH", "{g}geo", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC",
         "WITHCOORD", "WITHDIST", "WITHHASH"])
    add(["GEORADIUSBYMEMBER", "{g}geo", "Palermo", 300, "km", "WITHDIST", "ASC"])
    # Streams with explicit ids (no clock in the replies).
    s, s2 = "{x}stream", "{x}other"
    add(["XADD", s, "1-1", "f", "v1"])
    add(["XADD", s, "1-2", "f", "v2", "g", "w"])
    add(["XADD", s, "2-0", "f", "v3"])
    add(["XADD", s2, "5-0", "a", "b"])
    add(["XLEN", s])
    add(["XRANGE", s, "-", "+"])
    add(["XREVRANGE", s, "+", "-", "COUNT", 2])
    add(["XREAD", "COUNT", 2, "STREAMS", s, s2, "0", "0"])
    add(["XREAD", "STREAMS", s, "$"])
    add(["XINFO", "STREAM", s])
    add(["XINFO", "STREAM", s, "FULL"])
    add(["XGROUP", "CREATE", s, "grp", "0"])
    add(["XGROUP", "CREATE", s, "grp", "0"])
    add(["XGROUP", "CREATECONSUMER", s, "grp", "alice"])
    add(["XREADGROUP", "GROUP", "grp", "alice", "COUNT", 2, "STREAMS", s, ">"])
    add(["XREADGROUP", "GROUP", "grp", "alice", "STREAMS", s, "0"])
    add(["XINFO", "GROUPS", s])
    add(["XPENDING", s, "grp"])
    add(["XACK", s, "grp", "1-1", "9-9"])
    add(["XCLAIM", s, "grp", "bob", 0, "1-2", "JUSTID"])
    add(["XAUTOCLAIM", s, "grp", "carol", 0, "0-0", "COUNT", 5])
    add(["XAUTOCLAIM", s, "grp", "carol", 0, "0-0", "COUNT", 5, "JUSTID"])
    add(["XINFO", "GROUPS", s])
    add(["XDEL", s, "1-1"])
    add(["XTRIM", s, "MAXLEN", 5])
    add(["XSETID", s2, "9-0"])
    add(["XINFO", "STREAM", s2])
    add(["XGROUP", "DESTROY", s, "grp"])
    add(["XINFO", "GROUPS", s])
    # LCS: its IDX form is a map.
    add(["SET", "{l}a", "ohmytext"])
    add(["SET", "{l}b", "mynewtext"])
    add(["LCS", "{l}a", "{l}b"])
    add(["LCS", "{l}a", "{l}b", "LEN"])
    add(["LCS", "{l}a", "{l}b", "IDX"])
    add(["LCS", "{l}a", "{l}b", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN"])
    # Object introspection that does not depend on time.
    add(["SET", "{o}int", 100])
    add(["OBJECT", "ENCODING", "{o}int"])
    add(["OBJECT", "REFCOUNT", "{o}int"])
    add(["OBJECT", "FREQ", "{o}int"])
    add(["TYPE", INF_ZSET])
    add(["TYPE", "{n}missing"])
    add(["EXPIREAT", "{o}int", 4102444800])
    add(["EXPIRETIME", "{o}int"])
    add(["PEXPIRETIME", "{o}int"])
    add(["EXPIRETIME", "{n}missing"])
    # Scripts: every type Lua can give back in RESP3, and RESP2 scripts on a RESP3 connection.
    for i, body in enumerate(LUA_RESP3):
        add(["EVAL", "redis.setresp(3); " + body, 1, "{lua}%d" % i])
        add(["EVAL", body, 1, "{lua}%d" % i])
    add(["SCRIPT", "LOAD", "redis.setresp(3); return {map={k={double=0.5}}}"])
    add(["SCRIPT", "EXISTS", "f2e8d4b0cd1b3bba3c9d3b0de84be1b6e0a2d5f1",
         "0000000000000000000000000000000000000000"])
    add(["EVAL_RO", "redis.setresp(3); return redis.call('zmscore', KEYS[1], 'half', 'x')", 1,
         INF_ZSET])
    # Functions: loaded on every server, called by key. (A library's functions, and the
    # libraries, are listed in hash-table order, which differs between processes: one function
    # per library, and LIST filtered to one library.)
    maps = ("#!lua name=r3lib\n"
            "redis.register_function('r3map', function(keys, args) redis.setresp(3) "
            "return {map={key=keys[1], n={double=tonumber(args[1])}}} end)")
    reads = ("#!lua name=r3read\n"
             "redis.register_function{function_name='r3ro', callback=function(keys, args) "
             "return redis.call('get', keys[1]) end, flags={'no-writes'}}")
    add(["FUNCTION", "LOAD", maps])
    add(["FCALL", "r3map", 1, "{f}a", "2.5"])
    add(["FUNCTION", "LIST"])
    add(["FUNCTION", "LIST", "WITHCODE"])
    add(["FUNCTION", "LOAD", maps])
    add(["FUNCTION", "LOAD", reads])
    add(["FCALL_RO", "r3ro", 1, "{f}a"])
    add(["FUNCTION", "LIST", "LIBRARYNAME", "r3rea"])
    add(["FUNCTION", "DELETE", "r3lib"])
    add(["FCALL", "r3map", 1, "{f}a", "1"])
    # Transactions whose EXEC carries RESP3 replies.
    add(["MULTI"])
    add(["ZADD", "{tx}z", "1.5", "m"])
    add(["ZSCORE", "{tx}z", "m"])
    add(["HSET", "{tx}h", "f", "v"])
    add(["HGETALL", "{tx}h"])
    add(["GET", "{tx}missing"])
    add(["SADD", "{tx}s", 1, 2])
    add(["SMEMBERS", "{tx}s"])
    add(["INCR", "{tx}h"])
    add(["EVAL", "redis.setresp(3); return {double=-1/0}", 1, "{tx}z"])
    add(["EXEC"])
    add(["MULTI"])
    add(["GET", "{tx}h"])
    add(["DISCARD"])
    add(["EXEC"])
    add(["WATCH", "{tx}z"])
    add(["MULTI"])
    add(["ZINCRBY", "{tx}z", "1", "m"])
    add(["EXEC"])
    add(["UNWATCH"])
    # Splits across shards with missing keys, repeated keys and RESP3 nulls.
    keys = ["%d:r3split" % i for i in range(16)]
    add(["MSET"] + [x for k in keys[:12] for x in (k, "val-" + k)])
    add(["MGET"] + keys)
    add(["MGET"] + keys[::-1] + keys[:3])
    add(["EXISTS"] + keys + keys[:2])
    add(["TOUCH"] + keys)
    add(["DEL"] + keys[:4] + keys[:2])
    add(["UNLINK"] + keys[4:8] + ["nope"])
    add(["MGET"] + keys)
    add(["DEL"] + keys[12:])
    add(["EXISTS"] + keys[12:])
    return cmds


def _local_and_errors(protocol):
    """What the proxy answers itself, and errors, in the same corpus; HELLO stays in the
    connection's protocol."""
    return [
        ["PING"], ["PING", "with an argument"], ["ECHO", "echoed"], ["ECHO", ""],
        ["SELECT", "0"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "r3-client"],
        ["CLIENT", "GETNAME"], ["CLIENT", "ID"],
        ["HELLO"], ["HELLO", protocol], ["HELLO", protocol, "SETNAME", "renamed"],
        ["CLIENT", "GETNAME"], ["HELLO", "4"], ["HELLO", "x"], ["HELLO", protocol, "BOGUS"],
        ["INFO", "server"], ["COMMAND", "COUNT"],
        ["GET"], ["SET", "k"], ["nosuchcommand", "a"], ["ZADD", INF_ZSET, "nan", "m"],
        ["HSET", "{n}h"], ["XADD", "{x}stream", "1-1", "f", "v"], ["LCS", "{l}a"],
        ["EVAL", "return {err='ONE'}", 1, "{n}k"], ["SET", "{n}k", "v", "PX", "-1"],
        ["PING"],
    ]


def corpus(protocol):
    return nutcracker_corpus() + _resp3_corpus() + _local_and_errors(protocol)


CORPUS = corpus(3)


@pytest.fixture(scope="module")
def setup(module_processes):
    target = r3.Target(module_processes)
    oracle = module_processes.redis()
    return target, oracle


@pytest.fixture
def env(setup):
    target, oracle = setup
    target.flush()
    r3.wipe(oracle)
    return target, oracle


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_the_corpus_is_byte_identical_to_one_redis_server(env, protocol):
    target, oracle = env
    commands = corpus(protocol)
    assert len(commands) > 1000
    want_hello, want = r3.replay(oracle.port, protocol, commands)
    got_hello, got = r3.replay(target.port, protocol, commands)
    if protocol == 3:
        assert r3.masked(["HELLO"], got_hello) == r3.masked(["HELLO"], want_hello), (
            got_hello, want_hello)
    closed = [commands[i] for i, r in enumerate(want) if r is None]
    assert not closed, "redis-server closed the connection on: %r" % closed[:5]
    diffs = r3.diff(commands, want, got)
    assert not diffs, r3.describe(diffs, len(commands))
    assert sum(1 for r in got if r.startswith(b"-")) > 40, "the corpus should exercise errors"
    if not r3.DIRECT:
        assert all(b.client().dbsize() > 0 for b in target.backends), (
            "the corpus should reach every shard")


def test_the_resp3_corpus_covers_every_reply_type_redis_sends(env):
    """The corpus must keep reaching every RESP3 type Redis 7.0 sends to a client of commands
    the proxy forwards (checked on the oracle's replies), the doubles that format specially,
    and nulls inside arrays."""
    _, oracle = env
    _, replies = r3.replay(oracle.port, 3, CORPUS)
    seen = set()
    for reply in replies:
        seen |= r3.kinds(reply)
    assert {b"+", b"-", b":", b"$", b"*", b"_", b"#", b",", b"(", b"=", b"%", b"~"} <= seen, (
        sorted(seen))
    everything = b"".join(replies)
    for double in (b",inf\r\n", b",-inf\r\n", b",1.5\r\n", b",3e+20\r\n",
                   b",1.0000000000000001e+300\r\n", b",-0\r\n", b",0.10000000000000001\r\n"):
        assert double in everything, double
    assert b"%0\r\n" in everything and b"~0\r\n" in everything and b"*0\r\n" in everything
    nulls_in_arrays = [r for r in replies if r.startswith(b"*") and b"\r\n_\r\n" in r]
    assert len(nulls_in_arrays) >= 5, "MGET, HMGET, ZMSCORE, GEOPOS, BITFIELD nulls"


def _pairs(target, oracle, protocol, commands):
    """Sends `commands` to the target and to the oracle on `protocol` connections (after HELLO
    3, which must be accepted, for RESP3); returns their replies (target's, oracle's)."""
    _, want = r3.replay(oracle.port, protocol, commands)
    greeting, got = r3.replay(target.port, protocol, commands)
    assert protocol == 2 or greeting.startswith(b"%7\r\n"), greeting
    return got, want


def _seed(target, oracle, values):
    """SETs `values` on their owning shards directly and on the oracle."""
    for key, value in values.items():
        target.owner(key).client().set(key, value)
        oracle.client().set(key, value)


def test_mget_across_shards_with_missing_keys_is_byte_identical_to_one_redis_server(env):
    target, oracle = env
    keys = target.keys_per_backend(3, prefix="mget")
    present = keys[::2]
    _seed(target, oracle, {k: "v:" + k for k in present})
    if not r3.DIRECT:
        assert len({target.owner(k).port for k in present}) == len(target.backends)
    commands = [["MGET"] + keys, ["MGET"] + keys[::-1] + keys[:2], ["MGET", keys[1]],
                ["MGET"] + [k for k in keys if k not in present],
                ["MGET", keys[0], "{nope}1", keys[0]]]
    got, want = _pairs(target, oracle, 3, commands)
    assert got == want
    # RESP3 nulls, not RESP2's $-1, where a key is missing.
    assert want[0].count(b"_\r\n") == len(keys) - len(present)
    assert b"$-1" not in b"".join(got)


def test_del_exists_touch_unlink_across_shards_sum_as_one_redis_server_does(env):
    target, oracle = env
    keys = target.keys_per_backend(2, prefix="sum")
    _seed(target, oracle, {k: "1" for k in keys[1:]})
    commands = [["EXISTS"] + keys + keys[:3], ["TOUCH"] + keys + ["{nope}x"],
                ["DEL"] + keys[:3] + keys[:3], ["EXISTS"] + keys,
                ["UNLINK"] + keys + ["{nope}y"], ["EXISTS"] + keys, ["DEL"] + keys,
                ["UNLINK", keys[0]]]
    got, want = _pairs(target, oracle, 3, commands)
    assert got == want
    total = len(keys) - 1
    assert want[:3] == [b":%d\r\n" % (total + 2), b":%d\r\n" % total, b":2\r\n"]
    for backend in target.backends:
        assert backend.client().dbsize() == 0
