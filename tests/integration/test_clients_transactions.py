"""Transactions as client libraries send them, at default options: redis-py's default
pipeline(), ioredis's and node-redis's multi().exec(), and the WATCH retry loop of optimistic
locking. On one shard a transaction applies exactly once; one the proxy must refuse (keys across
shards, or a queued command Redis itself refuses) applies nothing, checked on every backend.

RINGPROXY_PATTERNS_TARGET=redis runs this file against one plain redis-server (see
client_patterns.py).
"""

import threading

import pytest
import redis

import client_patterns as cp

TRANSFER = 30


@pytest.fixture(scope="module")
def setup(module_processes):
    return cp.PatternTarget(module_processes)


@pytest.fixture
def target(setup):
    setup.reset()
    yield setup
    # Every path releases what it pinned (EXEC, DISCARD, UNWATCH, a refused transaction, a
    # client gone): nothing stays pinned once the clients are done.
    assert not setup.wait_unpinned(), "server connections still pinned after the test"


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _transaction(client, target, commands):
    """Runs MULTI/commands/EXEC with `client`; returns {"replies"} or {"exec_error"}, and
    "after": a GET of the first command's key on the same connection afterwards (a connection
    left inside MULTI would answer +QUEUED)."""
    if client.is_node:
        return cp.node_ok(cp.run_node(client, target, "transaction", {"commands": commands}))
    r = target.client()
    try:
        pipe = r.pipeline()  # redis-py's default: transaction=True, MULTI ... EXEC
        for command in commands:
            pipe.execute_command(*command)
        try:
            out = {"replies": [_text(v) for v in pipe.execute()]}
        except redis.ResponseError as exc:
            out = {"exec_error": str(exc)}
        # The pipeline's connection is back in the pool, whose next command takes it.
        out["after"] = _text(r.get(commands[0][1]))
        return out
    finally:
        r.close()


def _seed(target, values):
    """Writes `values` on their owning backends directly."""
    for key, value in values.items():
        target.owner(key).client().set(key, value)


def _backend_state(target, keys, commands=("incrby", "decrby", "set")):
    """Per backend: the values of `keys`, its key count and its calls of each write command
    (not EXEC: Redis counts an EXEC it answers with -EXECABORT as a call)."""
    state = []
    for b in target.backends:
        c = b.client()
        state.append({"port": b.port, "values": [_text(v) for v in c.mget(keys)],
                      "dbsize": c.dbsize(),
                      "calls": {cmd: target.command_calls(b, cmd) for cmd in commands}})
    return state


@pytest.mark.parametrize("client", cp.client_params())
def test_a_transaction_on_one_shard_returns_its_replies_and_applies_once(target, client):
    tag = "{tx-%s}" % client.id
    a, b = tag + ":a", tag + ":b"
    _seed(target, {a: 100, b: 0})
    out = _transaction(client, target, [["DECRBY", a, TRANSFER], ["INCRBY", b, TRANSFER],
                                        ["GET", a], ["GET", b]])
    assert out.get("replies") == [70, 30, "70", "30"], out
    owner = target.owner(a)
    assert target.owner(b) is owner
    c = owner.client()
    assert [_text(v) for v in c.mget([a, b])] == ["70", "30"]
    # Exactly once: one EXEC ran the two writes, once each, on the owner and nowhere else.
    for backend in target.backends:
        calls = [target.command_calls(backend, cmd) for cmd in ("decrby", "incrby", "exec")]
        assert calls == ([1, 1, 1] if backend is owner else [0, 0, 0]), (backend.port, calls)
    assert out["after"] == "70", out


@pytest.mark.skipif(cp.DIRECT, reason="one redis-server has no shards to cross")
@pytest.mark.parametrize("client", cp.client_params())
def test_a_transaction_across_shards_is_refused_and_applies_nothing(target, client):
    a, b = target.keys_on_distinct_shards(2, prefix="xs-%s" % client.id)
    _seed(target, {a: 100, b: 0})
    before = _backend_state(target, [a, b])
    out = _transaction(client, target, [["DECRBY", a, TRANSFER], ["INCRBY", b, TRANSFER]])
    # (what the client reports, EXEC's -EXECABORT or the refused command's error, is the
    # library's choice: ioredis and node-redis 4 report the first, the others the second)
    assert "exec_error" in out, "the client was not told its transaction failed: %s" % out
    assert out["after"] == "100", out
    assert _backend_state(target, [a, b]) == before
    assert [_text(v) for v in target.client().mget([a, b])] == ["100", "0"]


@pytest.mark.parametrize("client", cp.client_params())
def test_a_transaction_with_a_queued_arity_error_is_discarded_as_redis_does(target, client):
    """Redis answers a queued command with the wrong arity at once and EXEC with -EXECABORT:
    nothing of the transaction runs. The same must hold through the proxy."""
    tag = "{abort-%s}" % client.id
    a, b = tag + ":a", tag + ":b"
    _seed(target, {a: 100, b: 0})
    before = _backend_state(target, [a, b])
    out = _transaction(client, target, [["DECRBY", a, TRANSFER], ["GET", a, "surplus"],
                                        ["INCRBY", b, TRANSFER]])
    assert "exec_error" in out, out
    assert (out["exec_error"].startswith("EXECABORT") or
            "wrong number of arguments for 'get' command" in out["exec_error"]), out
    assert out["after"] == "100", out
    assert _backend_state(target, [a, b]) == before


def _redis_py_watch_increments(target, key, conflict_key, clients, increments):
    first, second = target.client(), target.client()
    try:
        with first.pipeline() as pipe:
            pipe.watch(conflict_key)
            pipe.get(conflict_key)
            second.set(conflict_key, "written by another client")
            pipe.multi()
            pipe.set(conflict_key, "stale")
            try:
                pipe.execute()
                conflict_detected = False
            except redis.WatchError:
                conflict_detected = True
    finally:
        first.close()
        second.close()

    retries = [0] * clients
    errors = []

    def run(index):
        r = target.client()
        try:
            with r.pipeline() as pipe:
                done = 0
                while done < increments:
                    try:
                        pipe.watch(key)
                        value = int(pipe.get(key) or 0)
                        pipe.multi()
                        pipe.set(key, value + 1)
                        pipe.execute()
                        done += 1
                    except redis.WatchError:
                        retries[index] += 1
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(repr(exc))
        finally:
            r.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a WATCH loop is still running after 60 s"
    assert not errors, errors
    return {"conflict_detected": conflict_detected, "retries": retries}


@pytest.mark.parametrize("client", cp.client_params())
def test_a_watch_retry_loop_from_four_clients_loses_no_increment(target, client):
    clients, increments = 4, 50
    key = "watched:%s" % client.id
    conflict_key = "conflict:%s" % client.id
    args = {"key": key, "conflict_key": conflict_key, "clients": clients,
            "increments": increments}
    if client.is_node:
        out = cp.node_ok(cp.run_node(client, target, "watch_increments", args, deadline=40))
    else:
        out = _redis_py_watch_increments(target, key, conflict_key, clients, increments)
    print("\n%s: WATCH retries per client %s" % (client.id, out["retries"]))
    assert out["conflict_detected"], "EXEC ran although the watched key changed: %s" % out
    assert target.owner(conflict_key).client().get(conflict_key) == b"written by another client"
    assert target.owner(key).client().get(key) == str(clients * increments).encode()


@pytest.mark.skipif(cp.DIRECT, reason="a plain redis-server pins nothing")
def test_a_watch_holds_one_pinned_connection_until_unwatch_and_a_closed_client_frees_its_own(
        target):
    key = target.keys_on_every_shard("pin")[0]
    first, second = target.client(), target.client()
    try:
        first.execute_command("WATCH", key)
        assert target.pinned_connections() == 1
        second.execute_command("WATCH", key)
        assert target.pinned_connections() == 2
        first.execute_command("UNWATCH")
        assert target.wait_unpinned(timeout=0.0) == 1, "UNWATCH releases the first client's pin"
    finally:
        # redis-py's close() keeps the socket in the client's pool: hang up for real.
        first.connection_pool.disconnect()
        second.connection_pool.disconnect()
    # The second client left while watching: its pin goes with it.
    assert target.wait_unpinned() == 0
