"""Commands the proxy's table does not know are learned from the servers' own key specifications
(COMMAND INFO) and routed by their keys: a newer Redis, Valkey or a module works without a proxy
release. Here the servers run with rename-command, so MYHSET, MYEVAL, MYGEORADIUS and MYBLPOP
are real commands of the servers that the proxy's table has never heard of."""

import pytest

import proxy_testing
from proxy_testing import RawConnection, ShardedProxy

RENAMED = ["--rename-command", "HSET", "MYHSET", "--rename-command", "EVAL", "MYEVAL",
           "--rename-command", "GEORADIUS", "MYGEORADIUS", "--rename-command", "BLPOP", "MYBLPOP"]


@pytest.fixture
def renamed(processes):
    backends = processes.redis_many(4, extra_args=RENAMED)
    return ShardedProxy(processes, backends, workers=1)


def _command_info_calls(backend):
    stats = backend.client().info("commandstats")
    return stats.get("cmdstat_command|info", {}).get("calls", 0)


def test_a_command_the_servers_know_is_learned_and_routed_by_its_key(renamed):
    placed = renamed.keys_per_backend(2, prefix="learned")
    with RawConnection(renamed.port) as conn:
        for port, keys in placed.items():
            for key in keys:
                assert conn.command("MYHSET", key, "field", key) == b"+OK\r\n"
    for backend in renamed.backends:
        for key in placed[backend.port]:
            assert backend.client().hget(key, "field") == key.encode()
    # Learned once: the servers were asked once each, not per request.
    assert [_command_info_calls(b) for b in renamed.backends] == [1, 1, 1, 1]


def test_learned_commands_with_movable_keys_follow_their_key_specifications(renamed):
    placed = renamed.keys_per_backend(2, prefix="movable")
    (one_a, one_b), (other, _) = list(placed.values())[:2]
    renamed.client().set(one_a, "v")
    with RawConnection(renamed.port) as conn:
        # EVAL's keys are counted by numkeys (a keynum specification).
        assert conn.command("MYEVAL", "return redis.call('GET', KEYS[1])", 2, one_a,
                            one_b) == b"$1\r\nv\r\n"
        assert conn.command("MYEVAL", "return 1", 2, one_a, other).startswith(b"-CROSSSLOT ")
        assert conn.command("MYEVAL", "return 1", 0) == (
            b"-ERR MYEVAL without keys is not supported through the proxy: a key decides the "
            b"server\r\n")
        # GEORADIUS stores after a keyword (a keyword specification).
        assert conn.command("MYGEORADIUS", one_a, 15, 37, 200, "km", "STORE",
                            other).startswith(b"-CROSSSLOT ")
        assert conn.command("MYHSET", "only-a-key").startswith(
            b"-ERR wrong number of arguments for 'myhset' command")


def test_a_learned_blocking_command_is_refused_like_the_tables_own(renamed):
    with RawConnection(renamed.port) as conn:
        assert conn.command("MYBLPOP", "list", 0) == (
            b"-ERR MYBLPOP is not supported through the proxy\r\n")
        assert conn.command("PING") == b"+PONG\r\n"


def test_a_command_no_server_knows_gets_redis_error_and_is_not_asked_again_at_once(renamed):
    with RawConnection(renamed.port) as conn:
        for _ in range(3):
            assert conn.command("NOSUCHCMD", "a") == (
                b"-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' \r\n")
        # A name that cannot be a command is not even asked about.
        assert conn.command("no such", "a").startswith(b"-ERR unknown command 'no such'")
    assert [_command_info_calls(b) for b in renamed.backends] == [1, 1, 1, 1]


def test_requests_behind_a_command_being_learned_keep_their_order(renamed):
    placed = renamed.keys_per_backend(1, prefix="order")
    keys = [k for ks in placed.values() for k in ks]
    with RawConnection(renamed.port) as conn:
        commands = []
        for key in keys:
            commands += [["SET", key, "a"], ["MYHSET", key + ":h", "f", "b"], ["GET", key],
                         ["APPEND", key, "c"]]
        replies = conn.pipeline(commands)
    expected = []
    for _ in keys:
        expected += [b"+OK\r\n", b"+OK\r\n", b"$1\r\na\r\n", b":2\r\n"]
    assert replies == expected


def test_a_learned_command_runs_inside_a_transaction(renamed):
    key = renamed.keys_per_backend(1, prefix="tx")[renamed.backends[0].port][0]
    with RawConnection(renamed.port) as conn:
        replies = conn.pipeline([["MULTI"], ["MYHSET", key, "f", "v"], ["HGET", key, "f"],
                                 ["EXEC"]])
    assert replies == [b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"*2\r\n+OK\r\n$1\r\nv\r\n"]


def test_a_stranger_before_auth_makes_the_proxy_ask_nothing(processes):
    backends = processes.redis_many(2, extra_args=RENAMED)
    sharded = ShardedProxy(processes, backends, workers=1, redis_auth="s3cret")
    with RawConnection(sharded.port) as conn:
        assert conn.command("MYHSET", "k", "f", "v").startswith(b"-ERR unknown command 'MYHSET'")
        assert conn.command("AUTH", "s3cret") == b"+OK\r\n"
        assert conn.command("MYHSET", "k", "f", "v") == b"+OK\r\n"
    assert sum(_command_info_calls(b) for b in backends) == 2
    assert proxy_testing.metric(proxy_testing.metrics(sharded.proxy),
                                "ringproxy_client_connections") == 0
