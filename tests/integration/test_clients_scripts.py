"""Scripts as client libraries use them, at default options: redis-py's Lock (its release and
extend are scripts called by SHA, loaded with SCRIPT LOAD on NOSCRIPT), ioredis's defineCommand
and node-redis's scripts (EVALSHA, EVAL on NOSCRIPT), SCRIPT LOAD / EXISTS / FLUSH, and EVALSHA
on a key of every shard. And a script whose reply nests 600 arrays deep, while another client
writes to the same shard.

RINGPROXY_PATTERNS_TARGET=redis runs this file against one plain redis-server (see
client_patterns.py).
"""

import hashlib
import threading

import pytest
import redis

import client_patterns as cp
import proxy_testing

INCR_LUA = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
SET_LUA = "return redis.call('SET', KEYS[1], ARGV[1])"
# A script each backend holds before a test, loaded there directly: SCRIPT FLUSH through the
# target must remove it from every one.
SENTINEL_LUA = "return 'loaded on this backend before the test'"
# An array nested ARGV[1] levels deep around KEYS[1].
NESTED_LUA = """local root = {}
local node = root
for i = 2, tonumber(ARGV[1]) do
  local child = {}
  node[1] = child
  node = child
end
node[1] = KEYS[1]
return root"""


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def setup(module_processes):
    return cp.PatternTarget(module_processes)


@pytest.fixture
def target(setup):
    setup.reset()
    for b in setup.backends:
        c = b.client()
        c.script_flush()
        c.script_load(SENTINEL_LUA)
    return setup


def _noscript_errors(target):
    return sum(target.error_count(b, "NOSCRIPT") for b in target.backends)


def _sentinel_flushed_everywhere(target):
    return [b.client().script_exists(sha1(SENTINEL_LUA))[0] for b in target.backends] == [
        False] * len(target.backends)


@pytest.mark.parametrize("flush_first", [False, True], ids=["loaded", "after-script-flush"])
def test_redis_py_lock_acquires_extends_and_releases_on_every_shard(target, flush_first):
    """Lock.release() and extend() are scripts by SHA: the first call on a server that lacks
    them gets NOSCRIPT, and redis-py then sends SCRIPT LOAD and EVALSHA again."""
    r = target.client()
    names = target.keys_on_every_shard("lock")
    if flush_first:
        r.script_flush()
        assert _sentinel_flushed_everywhere(target)
    for name in names:
        owner = target.owner(name)
        lock = r.lock(name, timeout=10)
        assert lock.acquire(blocking=False)
        assert not r.lock(name, timeout=10).acquire(blocking=False), "two holders of %s" % name
        r.incr("work:" + name)
        assert lock.extend(20)
        assert owner.client().pttl(name) > 10000, "extend() did not reach %s" % name
        lock.release()
        assert owner.client().exists(name) == 0, "the lock %s is held after release" % name
        # Free again: another holder gets it at once.
        again = r.lock(name, timeout=10)
        assert again.acquire(blocking=False)
        again.release()
        assert target.owner("work:" + name).client().get("work:" + name) == b"1"
    # redis-py registered the scripts lazily: it met NOSCRIPT and loaded them itself.
    assert _noscript_errors(target) >= 1
    r.close()


def _redis_py_scripts(target, keys):
    r = target.client()
    try:
        incr = r.register_script(INCR_LUA)
        out = {"before_flush": [incr(keys=[k], args=[1]) for k in keys]}
        out["flush"] = "OK" if r.script_flush() else "failed"
        out["after_flush"] = [incr(keys=[k], args=[10]) for k in keys]
        out["sha"] = r.script_load(SET_LUA)
        out["exists"] = r.script_exists(out["sha"])
        out["evalsha"] = [r.evalsha(out["sha"], 1, k, "by-sha:" + k).decode() for k in keys]
        return out
    finally:
        r.close()


@pytest.mark.parametrize("client", cp.client_params())
def test_scripts_by_sha_run_on_every_shard_before_and_after_script_flush(target, client):
    keys = target.keys_on_every_shard("script-%s" % client.id)
    if client.is_node:
        out = cp.node_ok(cp.run_node(client, target, "scripts", {
            "keys": keys, "incr_lua": INCR_LUA, "set_lua": SET_LUA}))
    else:
        out = _redis_py_scripts(target, keys)
    assert out["before_flush"] == [1] * len(keys), out
    assert out["flush"] == "OK", out
    assert _sentinel_flushed_everywhere(target), "SCRIPT FLUSH did not reach every backend"
    # After the flush the client met NOSCRIPT and reloaded the script its own way.
    assert out["after_flush"] == [11] * len(keys), out
    assert _noscript_errors(target) >= 1
    # SCRIPT LOAD once through the target: the script is on every backend, EVALSHA runs on a
    # key of each.
    assert out["sha"] == sha1(SET_LUA), out
    assert out["exists"] == [True], out
    for b in target.backends:
        assert b.client().script_exists(sha1(SET_LUA)) == [True], "not loaded on %d" % b.port
    assert out["evalsha"] == ["OK"] * len(keys), out
    for key in keys:
        assert target.owner(key).client().get(key) == ("by-sha:" + key).encode()


def test_script_exists_is_true_only_where_every_backend_has_the_script(target):
    r = target.client()
    sha = r.script_load(SET_LUA)
    assert r.script_exists(sha, sha1("return 'never loaded'")) == [True, False]
    if len(target.backends) > 1:
        # One backend lost it (restarted): a proxy must not claim it is there.
        target.backends[-1].client().script_flush()
        assert r.script_exists(sha) == [False]
    r.close()


def _nested_reply(key, depth):
    """The exact bytes Redis sends for NESTED_LUA's reply."""
    return b"*1\r\n" * depth + b"$%d\r\n%s\r\n" % (len(key), key.encode())


def test_a_600_level_reply_reaches_its_client_while_another_writes_to_the_same_shard(target):
    depth, rounds = 600, 5
    eval_key, set_key = "{deep}:eval", "{deep}:set"
    assert target.owner(eval_key) is target.owner(set_key)
    writing = threading.Event()
    stop = threading.Event()
    writes = []
    failures = []

    def writer():
        # SETs before, during and after the EVALs: 20 before they start, 20 after they end.
        r = target.client()
        try:
            i = after = 0
            while after < 20:
                writes.append(r.set(set_key, i))
                i += 1
                if i == 20:
                    writing.set()
                if stop.is_set():
                    after += 1
        except redis.RedisError as exc:
            failures.append(repr(exc))
        finally:
            writing.set()
            r.close()

    thread = threading.Thread(target=writer)
    thread.start()
    replies = []
    try:
        assert writing.wait(20)
        with proxy_testing.RawConnection(target.port, timeout=20) as conn:
            for _ in range(rounds):
                replies.append(conn.command("EVAL", NESTED_LUA, 1, eval_key, depth))
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert not failures, "the other client's SETs failed: %s" % failures
    assert writes and all(w is True for w in writes), writes[:10]
    assert target.owner(set_key).client().get(set_key) == str(len(writes) - 1).encode()
    assert replies == [_nested_reply(eval_key, depth)] * rounds
