"""HELLO and the replies the proxy makes itself, in RESP3: HELLO 3's map, switching back and forth
on a live connection (also in the middle of a pipeline), HELLO with AUTH and SETNAME on a pool
with a password, server connections that authenticate and select a database before HELLO 3,
unsupported versions, PING, ECHO, CLIENT, COMMAND and INFO in the form Redis gives a RESP3
client, the proxy's own errors as simple errors, and client tracking refused with the connection
left usable.

Where Redis defines the reply, an oracle redis-server is asked the same on its own connection and
the replies must be byte-identical except the fields that name the server (HELLO's server,
version and id; CLIENT ID; INFO's text: resp3_testing.py). RINGPROXY_RESP3_TARGET=redis runs the
file against a plain redis-server; the tests of what only a proxy does (its refusals) then check
the Redis side of the same behaviour instead.
"""

import socket

import pytest

import proxy_testing
import resp3_testing as r3
from proxy_testing import RawConnection, encode

PASSWORD = "r3-s3cret"
SERVER_PASSWORD = "r3-servers-only"
PONG = b"+PONG\r\n"
HELLO_FIELDS = ["server", "version", "proto", "id", "mode", "role", "modules"]


@pytest.fixture(scope="module")
def setup(module_processes):
    return r3.Target(module_processes), module_processes.redis()


@pytest.fixture
def env(setup):
    target, oracle = setup
    target.flush()
    r3.wipe(oracle)
    return target, oracle


@pytest.fixture(scope="module")
def secured(module_processes):
    """A target whose pool has redis_auth (a redis-server with requirepass in the direct mode),
    and an oracle redis-server with the same password."""
    return (r3.Target(module_processes, password=PASSWORD),
            module_processes.redis(password=PASSWORD))


def _both(target, oracle, protocol, commands, hello_options=()):
    """Replays `commands` on both after HELLO `protocol`; asserts the masked replies are equal
    and returns the target's (HELLO reply first)."""
    want_hello, want = r3.replay(oracle.port, protocol, commands, hello_options)
    got_hello, got = r3.replay(target.port, protocol, commands, hello_options)
    cmds = [["HELLO", protocol]] + commands
    diffs = r3.diff(cmds, [want_hello] + want, [got_hello] + got)
    assert not diffs, r3.describe(diffs, len(cmds))
    return [got_hello] + got


def _pipelined(port, commands):
    """Sends every command in one write on a fresh connection; returns the replies' bytes."""
    with RawConnection(port) as conn:
        return conn.pipeline(commands)


def test_hello_3_answers_redis_map_with_proto_3(env):
    target, oracle = env
    with RawConnection(target.port) as conn, RawConnection(oracle.port) as plain:
        for options in ([], ["SETNAME", "app"]):
            got = r3.hello(conn, 3, *options)
            want = r3.hello(plain, 3, *options)
            fields = r3.hello_fields(got)
            assert got.startswith(b"%7\r\n"), got
            assert list(fields) == HELLO_FIELDS, got
            assert fields["proto"].encode() == b":3\r\n"
            for name, (kind, _) in r3.HELLO_EXCLUDED.items():
                assert fields[name].kind == kind, (name, got)
            assert int(fields["id"].text()) > 0
            assert fields["version"].text().startswith(b"7."), got
            assert fields["modules"].kind == b"*", got
            # mode and role: how a client must talk to this endpoint (a standalone master).
            assert r3.masked(["HELLO"], got) == r3.masked(["HELLO"], want)
        # HELLO without a version reports the connection's protocol: 3 now.
        got, want = conn.command("HELLO"), plain.command("HELLO")
        assert r3.hello_fields(got)["proto"].encode() == b":3\r\n"
        assert r3.masked(["HELLO"], got) == r3.masked(["HELLO"], want)
        # The id is the connection's, as CLIENT ID says.
        assert conn.command("CLIENT", "ID") == r3.hello_fields(got)["id"].encode()
        assert conn.command("CLIENT", "GETNAME") == b"$3\r\napp\r\n"


def test_hello_switches_protocol_back_and_forth_on_a_live_connection(env):
    target, oracle = env
    key, zkey = "{sw}h", "{sw}z"
    commands = [["HSET", key, "a", "1", "b", "2"], ["ZADD", zkey, "1.5", "m"],
                ["GET", "{sw}missing"], ["HGETALL", key], ["ZSCORE", zkey, "m"],
                ["HELLO", "2"], ["GET", "{sw}missing"], ["HGETALL", key], ["ZSCORE", zkey, "m"],
                ["HELLO"], ["HELLO", "3"], ["GET", "{sw}missing"], ["HGETALL", key],
                ["ZSCORE", zkey, "m"], ["HELLO", "3"], ["ZSCORE", zkey, "m"], ["HELLO", "2"],
                ["HELLO", "2"], ["ZSCORE", zkey, "m"]]
    got = _both(target, oracle, 3, commands)
    assert got[3:6] == [b"_\r\n", b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
                        b",1.5\r\n"]
    assert got[6].startswith(b"*14\r\n") and b"proto\r\n:2\r\n" in got[6]
    assert got[7:10] == [b"$-1\r\n", b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
                         b"$3\r\n1.5\r\n"]
    assert got[11].startswith(b"%7\r\n")
    assert got[12:15] == got[3:6]
    assert got[-1] == b"$3\r\n1.5\r\n"


def test_a_switch_in_the_middle_of_a_pipeline_applies_from_that_request_on(env):
    """Requests written in one batch around HELLO: those before it get the old protocol's
    replies, those after it the new one's, whichever shards answer them."""
    target, oracle = env
    keys = target.keys_per_backend(1, prefix="pipe-sw")
    for k in keys:
        target.owner(k).client().hset(k, mapping={"f": k})
        oracle.client().hset(k, mapping={"f": k})
    round_ = [["HGETALL", k] for k in keys] + [["MGET"] + keys + ["{nope}"]] + [
        ["HGET", k, "nope"] for k in keys]
    commands = []
    for version in ("3", "2", "3", "3", "2"):
        commands += [["HELLO", version]] + round_
    commands *= 20
    got = _pipelined(target.port, commands)
    want = _pipelined(oracle.port, commands)
    diffs = r3.diff(commands, want, got)
    assert not diffs, r3.describe(diffs, len(commands))
    assert got[1].startswith(b"%1\r\n") and got[len(round_) + 2].startswith(b"*2\r\n")


def test_hello_3_with_auth_and_setname_on_a_pool_with_a_password(secured):
    target, oracle = secured
    commands = [["HELLO", "3"], ["GET", "{a}k"], ["HELLO", "3", "AUTH", "default", "wrong"],
                ["HELLO", "3", "AUTH", "someone", PASSWORD],
                ["GET", "{a}k"],
                ["HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "authed-app"],
                ["CLIENT", "GETNAME"], ["GET", "{a}k"], ["HGETALL", "{a}k"],
                ["HELLO", "2", "AUTH", "default", "wrong"], ["GET", "{a}k"],
                ["HELLO", "2", "AUTH", "default", PASSWORD], ["GET", "{a}k"]]
    want = r3.replay(oracle.port, 2, commands)[1]
    got = r3.replay(target.port, 2, commands)[1]
    diffs = r3.diff(commands, want, got)
    assert not diffs, r3.describe(diffs, len(commands))
    assert got[0].startswith(b"-NOAUTH HELLO must be called"), got[0]
    assert got[1] == b"-NOAUTH Authentication required.\r\n"
    assert got[2].startswith(b"-WRONGPASS") and got[3].startswith(b"-WRONGPASS")
    fields = r3.hello_fields(got[5])
    assert fields["proto"].encode() == b":3\r\n"
    assert got[6:9] == [b"$10\r\nauthed-app\r\n", b"_\r\n", b"%0\r\n"]
    # A failed AUTH leaves an authenticated connection authenticated, in its protocol.
    assert got[10] == b"_\r\n"
    assert got[12] == b"$-1\r\n"


def test_hello_with_an_unsupported_version_or_bad_options_is_refused_as_redis_does(env):
    target, oracle = env
    probes = [["HELLO", "4"], ["HELLO", "1"], ["HELLO", "0"], ["HELLO", "-1"], ["HELLO", "abc"],
              ["HELLO", "99999999999999999999"], ["HELLO", "3", "BOGUS"],
              ["HELLO", "3", "AUTH", "default"], ["HELLO", "3", "SETNAME"],
              ["HELLO", "3", "SETNAME", "has space"], ["HELLO", "2", "SETNAME", "new\nline"]]
    for protocol in (2, 3):
        commands = []
        for probe in probes:
            commands += [probe, ["GET", "{v}missing"], ["CLIENT", "GETNAME"]]
        got = _both(target, oracle, protocol, commands)
        null = b"_\r\n" if protocol == 3 else b"$-1\r\n"
        assert got[1] == b"-NOPROTO unsupported protocol version\r\n"
        # The connection stays in its protocol and keeps no name a refused HELLO gave.
        assert got[2::3] == [null] * len(probes)
        assert got[3::3] == [null] * len(probes)


def test_ping_echo_select_client_and_quit_answer_as_redis_does_in_resp3(env):
    target, oracle = env
    commands = [["PING"], ["PING", "hello world"], ["ECHO", b"\x00\xff\r\n"], ["ECHO", ""],
                ["SELECT", "0"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "local-3"],
                ["CLIENT", "GETNAME"], ["CLIENT", "ID"], ["CLIENT", "SETNAME", "bad name"],
                ["CLIENT", "GETNAME"], ["PING"]]
    got = _both(target, oracle, 3, commands)
    assert got[1:5] == [PONG, b"$11\r\nhello world\r\n", b"$4\r\n\x00\xff\r\n\r\n",
                        b"$0\r\n\r\n"]
    assert got[6] == b"_\r\n", "CLIENT GETNAME without a name is RESP3's null"
    assert got[8] == b"$7\r\nlocal-3\r\n"
    with RawConnection(target.port) as conn:
        r3.hello(conn, 3)
        conn.send(encode("SET", "{q}k", "1") + encode("QUIT") + encode("PING"))
        assert conn.read_until_closed() == b"+OK\r\n+OK\r\n"


def test_info_is_a_verbatim_string_in_resp3_and_a_bulk_string_in_resp2(env):
    target, _ = env
    with RawConnection(target.port) as conn:
        r3.hello(conn, 3)
        for args in (["INFO"], ["INFO", "server"], ["INFO", "server", "clients"]):
            reply = r3.parse_reply(conn.command(*args))
            assert reply.kind == b"=", (args, reply)
            assert reply.text().startswith(b"txt:# Server\r\n"), (args, reply)
            assert b"redis_version:" in reply.text()
            if len(args) == 3:
                assert b"\r\n# Clients\r\n" in reply.text()
        r3.hello(conn, 2)
        reply = r3.parse_reply(conn.command("INFO", "server"))
        assert reply.kind == b"$" and reply.text().startswith(b"# Server\r\n"), reply


def _command_entry_kinds(data):
    """The type bytes of the first six fields of each entry of a COMMAND / COMMAND INFO reply:
    name, arity, flags, first key, last key, step (what both the proxy and Redis give)."""
    reply = r3.parse_reply(data)
    assert reply.kind == b"*", data[:100]
    return [None if e.items is None else [i.kind for i in e.items[:6]] for e in reply.items]


def test_command_takes_the_resp3_form_redis_gives(env):
    """COMMAND describes the proxy's own table, so its values are the proxy's; its form in RESP3
    is Redis's: flags are a set, DOCS a map, an unknown command a null."""
    target, oracle = env
    with RawConnection(target.port) as conn, RawConnection(oracle.port) as plain:
        resp2_count = conn.command("COMMAND", "COUNT")
        r3.hello(conn, 3)
        r3.hello(plain, 3)
        assert conn.command("COMMAND", "COUNT") == resp2_count
        assert resp2_count.startswith(b":")
        want_kinds = _command_entry_kinds(plain.command("COMMAND", "INFO", "get", "mget"))
        assert want_kinds[0] == [b"$", b":", b"~", b":", b":", b":"]
        info = conn.command("COMMAND", "INFO", "get", "mget", "nosuchcommand")
        assert _command_entry_kinds(info) == want_kinds + [None]
        assert info.endswith(b"_\r\n"), "an unknown command is RESP3's null"
        everything = _command_entry_kinds(conn.command("COMMAND"))
        assert len(everything) == int(resp2_count[1:-2])
        assert all(kinds == want_kinds[0] for kinds in everything), [
            k for k in everything if k != want_kinds[0]][:3]
        docs = conn.command("COMMAND", "DOCS")
        assert docs[:1] == b"%", docs[:100]
        assert plain.command("COMMAND", "DOCS", "get")[:1] == b"%"
        assert conn.command("PING") == PONG


def test_errors_the_proxy_makes_are_simple_errors_in_resp3_and_the_connection_stays_usable(env):
    """Redis 7 sends every error as a simple error (`-`), never a blob error (`!`), in RESP3 as
    in RESP2; the proxy's refusals read the same in both protocols."""
    target, oracle = env
    a, b = target.keys_on_distinct_shards(2, prefix="err")
    redis_defined = [["GET"], ["SET", "k"], ["nosuchcommand", "x"], ["EXEC"], ["DISCARD"],
                     ["SELECT", "abc"], ["HSET", "{e}h", "f"], ["PING", "a", "b"]]
    got = _both(target, oracle, 3, [c for cmd in redis_defined
                                     for c in (cmd, ["GET", "{e}missing"])])
    assert all(r.startswith(b"-ERR ") for r in got[1::2]), got[1::2]
    assert got[2::2] == [b"_\r\n"] * len(redis_defined)
    proxy_defined = [["TIME"], ["SINTER", a, b], ["MSETNX", a, "1", b, "2"],
                     ["EVAL", "return 1", 0], ["SELECT", "1"], ["CLIENT", "KILL", "ID", "1"],
                     ["DEBUG", "PROTOCOL", "attrib"], ["DEBUG", "PROTOCOL", "push"]]
    if r3.DIRECT:
        pytest.skip("the rest checks the proxy's own refusals, which Redis does not make "
                    "(the Redis-defined errors above were checked)")
    with RawConnection(target.port) as resp2, RawConnection(target.port) as resp3:
        r3.hello(resp3, 3)
        for cmd in proxy_defined:
            mine = resp3.command(*cmd)
            assert mine.startswith(b"-") and mine.count(b"\r\n") == 1, (cmd, mine)
            assert mine == resp2.command(*cmd), cmd
            assert resp3.command("GET", "{e}missing") == b"_\r\n", cmd


def _next_frame(conn, seconds):
    """The next frame (reply or push) that arrives on `conn` within `seconds`, or None."""
    conn.sock.settimeout(seconds)
    try:
        return conn.reply_bytes()
    except (socket.timeout, TimeoutError):
        return None
    finally:
        conn.sock.settimeout(conn.timeout)


def test_client_tracking_is_refused_with_a_clear_error_and_the_connection_stays_usable(env):
    """Tracking needs invalidation pushes from the servers to this client, which the proxy does
    not relay: it must refuse it rather than accept and never invalidate. Against a plain
    redis-server (the direct mode) the same steps show what tracking would have sent: an
    invalidation push, which the proxy's clients must never see."""
    target, _ = env
    key = "{trk}k"
    with RawConnection(target.port) as conn, RawConnection(target.port) as writer:
        r3.hello(conn, 3)
        writer.command("SET", key, "v1")
        replies = [conn.command(*cmd) for cmd in (
            ["CLIENT", "TRACKING", "ON"], ["CLIENT", "TRACKING", "ON", "BCAST"],
            ["CLIENT", "TRACKING", "ON", "OPTIN"], ["CLIENT", "CACHING", "YES"])]
        assert conn.command("GET", key) == b"$2\r\nv1\r\n"
        assert writer.command("SET", key, "v2") == b"+OK\r\n"
        if r3.DIRECT:
            assert replies[0] == b"+OK\r\n"
            frame = _next_frame(conn, 5.0)
            assert frame and frame.startswith(b">2\r\n$10\r\ninvalidate\r\n"), frame
            return
        for reply in replies:
            # A clear error: it names what is refused.
            assert reply.startswith(b"-ERR ") and reply.count(b"\r\n") == 1, reply
            assert b"CLIENT TRACKING" in reply.upper() or b"CLIENT CACHING" in reply.upper(), (
                reply)
        # No push ever arrives; the connection answers in RESP3 as before.
        assert _next_frame(conn, 0.5) is None
        assert conn.command("GET", key) == b"$2\r\nv2\r\n"
        assert conn.command("GET", "{trk}missing") == b"_\r\n"
        # Pub/sub pushes are what a RESP3 client asks for (test_pubsub.py): they are relayed.
        assert conn.command("SUBSCRIBE", "ch") == (
            b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")
        assert conn.command("HGETALL", "{trk}missing") == b"%0\r\n"


@pytest.fixture(scope="module")
def locked(module_processes):
    """Shards that want a password, behind a pool with server_auth and redis_db 2 (clients need
    no password); in the direct mode one such redis-server, and the client authenticates and
    selects the database itself, as the proxy does on its server connections."""
    if r3.DIRECT:
        server = module_processes.redis(password=SERVER_PASSWORD)
        return server.port, [server], lambda key: server
    servers = module_processes.redis_many(r3.SHARDS, password=SERVER_PASSWORD)
    sharded = proxy_testing.ShardedProxy(module_processes, servers, workers=2,
                                         server_auth=SERVER_PASSWORD, redis_db=2)
    return sharded.port, servers, sharded.owner


def test_resp3_server_connections_authenticate_and_select_the_database_first(locked, env):
    """The proxy's RESP3 server connections say HELLO 3 after AUTH and SELECT: the replies are
    RESP3 and the keys land in the pool's database."""
    port, servers, owner = locked
    _, oracle = env
    keys = ["%d:locked" % i for i in range(8)]
    commands = [c for k in keys for c in (["HSET", k, "f", k], ["HGETALL", k],
                                          ["GET", k + "-missing"], ["ZADD", k + "z", "2.5", "m"],
                                          ["ZSCORE", k + "z", "m"])]
    commands.append(["MGET"] + keys + [k + "-missing" for k in keys])
    with RawConnection(port) as conn, RawConnection(oracle.port) as plain:
        if r3.DIRECT:
            r3.hello(conn, 3, "AUTH", "default", SERVER_PASSWORD)
            assert conn.command("SELECT", "2") == b"+OK\r\n"
        else:
            r3.hello(conn, 3)
        r3.hello(plain, 3)
        assert plain.command("SELECT", "2") == b"+OK\r\n"
        got = conn.pipeline(commands)
        want = plain.pipeline(commands)
    assert got == want
    assert got[1] == b"%%1\r\n$1\r\nf\r\n$%d\r\n%s\r\n" % (len(keys[0]), keys[0].encode())
    for k in keys:
        assert owner(k).client(db=2).hget(k, "f") == k.encode()
        assert owner(k).client(db=0).exists(k) == 0
    assert sum(s.client(db=2).dbsize() for s in servers) == 2 * len(keys)
