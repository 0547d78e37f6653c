"""What a client sees of ringproxy itself: the commands it answers locally, the ones it refuses,
inline commands, protocol errors, and the clients people use (redis-cli, redis-py, a library
handshake). Where Redis has a text for something, a backend is asked the same thing directly
and the replies must match byte for byte.
"""

import os
import pty
import random
import select
import subprocess
import time

import pytest
import redis

import proxy_testing
from proxy_testing import RawConnection, encode, parse

PONG = b"+PONG\r\n"


@pytest.fixture(scope="module")
def cluster(module_processes):
    servers = module_processes.redis_many(2)
    return proxy_testing.ShardedProxy(module_processes, servers, workers=2)


@pytest.fixture
def env(cluster):
    cluster.flush_backends()
    return cluster


def _same_on_both(env, *requests):
    """Sends each request (raw bytes) to the proxy and to a backend; returns the proxy's replies
    after checking they equal the backend's."""
    direct = env.backends[0]
    replies = []
    with RawConnection(env.port) as via_proxy, RawConnection(direct.port) as plain:
        for data in requests:
            via_proxy.send(data)
            plain.send(data)
            got, want = via_proxy.reply_bytes(), plain.reply_bytes()
            assert got == want, (data, got, want)
            replies.append(got)
    return replies


# KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHDB, FLUSHALL and WAIT are served across the pool
# (test_keyspace_commands.py), blocking commands on connections of their own
# (test_blocking_commands.py), pub/sub through shared subscriber connections (test_pubsub.py).
UNSUPPORTED = [
    ["CONFIG", "GET", "maxmemory"], ["MONITOR"],
    ["SHUTDOWN"], ["DEBUG", "SLEEP", "0"],
    ["MOVE", "k", "1"], ["SWAPDB", "0", "1"], ["TIME"],
]


def test_unsupported_commands_are_refused_by_name_and_the_connection_stays_open(env):
    env.backends[0].client().set("k", "still-here")
    with RawConnection(env.port) as conn:
        for cmd in UNSUPPORTED:
            reply = conn.command(*cmd)
            assert reply == b"-ERR %s is not supported through the proxy\r\n" % (
                cmd[0].upper().encode()), cmd
            assert conn.command("PING") == PONG, cmd
    # None of them reached a backend (SHUTDOWN and MONITOR would show).
    for b in env.backends:
        assert b.client().ping() is True
    assert env.backends[0].client().get("k") == b"still-here"


def test_unknown_commands_get_redis_text(env):
    long_arg = "x" * 300
    replies = _same_on_both(env, encode("foo"), encode("foo", "a", "b"),
                            encode("NoSuchCommand", long_arg, "more"), b"foo a b\r\n",
                            encode("f" * 200, "a"), encode("PING"))
    assert replies[1] == b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    assert replies[-1] == PONG


ARITY_ERRORS = [
    ["GET"], ["GET", "a", "b"], ["SET", "k"], ["HSET", "k", "f"], ["EXPIRE", "k"], ["MGET"],
    ["DEL"], ["MSET", "a"], ["MSET", "a", "1", "b"], ["EXISTS"], ["ECHO"], ["ECHO", "a", "b"],
    ["SELECT"], ["EVAL", "return 1"], ["SUNIONSTORE", "d"], ["LMOVE", "a", "b", "LEFT"],
]


def test_wrong_arity_gets_redis_text_and_the_connection_stays_open(env):
    replies = _same_on_both(env, *[encode(*cmd) for cmd in ARITY_ERRORS], encode("PING"))
    assert replies[0] == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert replies[-1] == PONG


# Arguments Redis refuses by themselves, before touching a key: a numkeys that does not count
# the keys after it (not a number, negative, zero where keys are needed, more than there are),
# XREAD's unbalanced or missing STREAMS. Each command checks them in its own order and words
# (EVALSHA and FCALL look up the script first), so a server answers them.
REFUSED_ARGUMENTS = [
    ["EVAL", "return 1", "-1"], ["EVAL", "return 1", "5", "a"], ["EVAL", "return 1", "x"],
    ["EVAL_RO", "return 1", "01", "a"], ["EVALSHA", "abc", "3", "a"], ["FCALL", "f", "-1"],
    ["FCALL_RO", "f", "2", "a"], ["ZUNION", "0", "a"], ["ZUNION", "-1", "a"], ["ZUNION", "3", "a"],
    ["ZINTER", "x", "a"], ["ZDIFF", "0", "a"], ["ZINTERSTORE", "d", "0", "a"],
    ["ZUNIONSTORE", "d", "5", "a"], ["ZDIFFSTORE", "d", "2", "a"], ["SINTERCARD", "0", "a"],
    ["SINTERCARD", "3", "a"], ["LMPOP", "0", "LEFT"], ["LMPOP", "x", "a", "LEFT"],
    ["ZMPOP", "-1", "a", "MIN"], ["BLMPOP", "0", "-1", "a", "LEFT"], ["BZMPOP", "0", "4", "a", "MAX"],
    ["XREAD", "STREAMS", "a"], ["XREAD", "STREAMS", "a", "b", "0"], ["XREAD", "COUNT", "1", "a"],
    ["XREAD", "BLOCK", "0", "STREAMS", "a"], ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a"],
]


def test_arguments_redis_refuses_by_themselves_get_redis_own_error(env):
    replies = _same_on_both(env, *[encode(*cmd) for cmd in REFUSED_ARGUMENTS], encode("PING"))
    assert all(r.startswith(b"-") for r in replies[:-1]), replies
    assert replies[-1] == PONG
    # In a transaction they are queued, and EXEC's reply holds each error in its place.
    transaction = [encode("MULTI"), encode("SET", "k", "1"), encode("ZUNION", "0", "k"),
                   encode("EVAL", "return 1", "x"), encode("GET", "k"), encode("EXEC")]
    replies = _same_on_both(env, *transaction)
    assert replies[2] == replies[3] == b"+QUEUED\r\n"
    assert parse(replies[-1])[0] == b"OK"


def test_ping_echo_select_quit(env):
    with RawConnection(env.port) as conn:
        assert conn.command("PING") == PONG
        assert conn.command("ping", "hello world") == b"$11\r\nhello world\r\n"
        assert conn.command("ECHO", b"\x00\xff\r\n") == b"$4\r\n\x00\xff\r\n\r\n"
        assert conn.command("SELECT", "0") == b"+OK\r\n"
        assert conn.command("SELECT", "1").startswith(b"-ERR ")
        assert conn.command("SELECT", "abc").startswith(b"-ERR ")
        assert conn.command("PING") == PONG
        conn.send(encode("SET", "q", "1") + encode("QUIT") + encode("PING"))
        assert conn.read_until_closed() == b"+OK\r\n+OK\r\n"
    assert env.owner("q").client().get("q") == b"1"


# A number in a client's arguments has one spelling, as Redis reads it (string2ll): no leading
# zero, no "-0", no '+', no spaces, within int64. The proxy answers SELECT and HELLO itself, so it
# must refuse exactly what Redis refuses: "SELECT 00" may not switch a client to database 0 that
# Redis would have refused, nor "HELLO 02" start a session.
NUMBER_SPELLINGS = (
    [["SELECT", n] for n in ("0", "01", "00", "-0", "+0", " 0", "0 ", "", "0x0",
                             "9223372036854775808", "-9223372036854775809")] +
    [["HELLO", n] for n in ("03", "02", "-0", "+2", " 2", "2 ", "", "2.0", "-1", "0", "4",
                            "9223372036854775808")])


def test_select_and_hello_read_numbers_as_redis_does(env):
    replies = _same_on_both(env, *[encode(*cmd) for cmd in NUMBER_SPELLINGS], encode("PING"))
    by_command = dict(zip((" ".join(cmd) for cmd in NUMBER_SPELLINGS), replies))
    assert by_command["SELECT 0"] == b"+OK\r\n"
    for refused in ("SELECT 01", "SELECT 00", "SELECT -0"):
        assert by_command[refused] == b"-ERR value is not an integer or out of range\r\n"
    for refused in ("HELLO 03", "HELLO 02", "HELLO -0"):
        assert by_command[refused] == b"-ERR Protocol version is not an integer or out of range\r\n"
    assert by_command["HELLO 4"] == b"-NOPROTO unsupported protocol version\r\n"
    assert replies[-1] == PONG


def _hello_fields(reply):
    value = parse(reply)
    assert isinstance(value, list) and len(value) % 2 == 0, reply
    return dict(zip(value[::2], value[1::2]))


def test_hello_2_answers_a_resp2_map_and_an_unknown_version_is_refused(env):
    """HELLO 3 and the RESP3 replies are test_resp3_*.py's."""
    with RawConnection(env.port) as conn:
        for cmd in (["HELLO"], ["HELLO", "2"], ["hello", "2", "SETNAME", "app-1"]):
            fields = _hello_fields(conn.command(*cmd))
            assert fields[b"server"] == b"redis"
            assert fields[b"proto"] == 2
            assert fields[b"version"].startswith(b"7.")
            assert fields[b"mode"] == b"standalone"
            assert fields[b"role"] == b"master"
            assert isinstance(fields[b"id"], int)
        assert conn.command("CLIENT", "GETNAME") == b"$5\r\napp-1\r\n"
        assert conn.command("HELLO", "4") == b"-NOPROTO unsupported protocol version\r\n"
        assert conn.command("HELLO", "4", "SETNAME", "x") == (
            b"-NOPROTO unsupported protocol version\r\n")
        assert conn.command("CLIENT", "GETNAME") == b"$5\r\napp-1\r\n"
        assert conn.command("PING") == PONG


def test_command_count_and_info_describe_commands_as_redis_does(env):
    backend = env.backends[0].client()
    with RawConnection(env.port) as conn:
        count = parse(conn.command("COMMAND", "COUNT"))
        assert count > 150
        everything = parse(conn.command("COMMAND"))
        assert len(everything) == count
        names = [entry[0].decode() for entry in everything]
        assert {"get", "set", "mget", "ping", "eval"} <= set(names)
        # Arity, first key, last key, step (what clients route and validate by) as Redis has
        # them, for every command the proxy lists.
        theirs = backend.execute_command("COMMAND", "INFO", *names)
        differ = []
        for entry in everything:
            name = entry[0].decode()
            info = theirs.get(name)
            want = None if info is None else [info["arity"], info["first_key_pos"],
                                              info["last_key_pos"], info["step_count"]]
            got = [entry[1], entry[3], entry[4], entry[5]]
            if got != want:
                differ.append((name, got, want))
        assert not differ, "COMMAND differs from Redis (name, proxy, redis): %r" % differ
        for name in ("get", "mget", "eval"):
            mine = parse(conn.command("COMMAND", "INFO", name))
            assert len(mine) == 1 and mine[0] == everything[names.index(name)]
        assert parse(conn.command("COMMAND", "INFO", "nosuchcommand")) == [None]
        assert conn.command("PING") == PONG


def test_client_setname_getname_id_setinfo(env):
    with RawConnection(env.port) as conn:
        assert conn.command("CLIENT", "GETNAME") == b"$-1\r\n"
        assert conn.command("CLIENT", "SETNAME", "worker-7") == b"+OK\r\n"
        assert conn.command("CLIENT", "GETNAME") == b"$8\r\nworker-7\r\n"
        assert conn.command("CLIENT", "SETNAME", "has space").startswith(b"-ERR ")
        assert conn.command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == b"+OK\r\n"
        assert conn.command("CLIENT", "SETINFO", "LIB-VER", "5.0.1") == b"+OK\r\n"
        client_id = parse(conn.command("CLIENT", "ID"))
        assert isinstance(client_id, int) and client_id > 0
        assert parse(conn.command("CLIENT", "ID")) == client_id
        assert conn.command("CLIENT", "KILL", "ID", "1").startswith(b"-ERR ")
        assert conn.command("PING") == PONG


def test_client_ids_are_unique_across_connections(env):
    """Redis never reuses a client id; libraries key per-connection state (client tracking,
    CLIENT KILL ID) on it, and with several workers each worker counts on its own."""
    conns = [RawConnection(env.port) for _ in range(24)]
    try:
        ids = [parse(c.command("CLIENT", "ID")) for c in conns]
        hello_ids = [_hello_fields(c.command("HELLO", "2"))[b"id"] for c in conns]
    finally:
        for c in conns:
            c.close()
    assert ids == hello_ids
    assert len(set(ids)) == len(ids), "duplicate client ids: %s" % sorted(ids)


def test_info_looks_like_redis_info(env):
    info = redis.Redis(host="127.0.0.1", port=env.port, socket_timeout=10).info()
    assert info["redis_version"].startswith("7.")
    assert info["loading"] == 0
    with RawConnection(env.port) as conn:
        text = parse(conn.command("INFO", "server"))
        assert b"redis_version:" in text and b"\r\n" in text


def test_replies_to_local_and_forwarded_commands_keep_request_order(env):
    """One write mixing commands the proxy answers itself with ones it forwards: the replies
    must come back in request order."""
    batch = b"".join([
        encode("SET", "o1", "v1"), encode("PING"), encode("GET", "o1"),
        encode("CLIENT", "SETNAME", "n1"), encode("MGET", "o1", "o2", "o1"), encode("ECHO", "e"),
        encode("TIME"), encode("GET", "o2"), encode("nosuch"), encode("CLIENT", "GETNAME"),
    ]) * 50
    with RawConnection(env.port) as conn:
        conn.send(batch)
        replies = [conn.reply_bytes() for _ in range(500)]
    expected = [b"+OK\r\n", PONG, b"$2\r\nv1\r\n", b"+OK\r\n",
                b"*3\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv1\r\n", b"$1\r\ne\r\n",
                b"-ERR TIME is not supported through the proxy\r\n", b"$-1\r\n",
                b"-ERR unknown command 'nosuch', with args beginning with: \r\n", b"$2\r\nn1\r\n"]
    assert replies == expected * 50


def test_redis_cli_with_commands_as_arguments(env):
    def cli(*args, stdin=None):
        result = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(env.port)] +
                                list(args), input=stdin, capture_output=True, timeout=20,
                                check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout.decode()

    assert cli("ping") == "PONG\n"
    assert cli("set", "cli-key", "hello world") == "OK\n"
    assert cli("get", "cli-key") == "hello world\n"
    assert cli("mset", "c1", "1", "c2", "2", "c3", "3") == "OK\n"
    assert cli("mget", "c1", "c2", "nope", "c3") == "1\n2\n\n3\n"
    assert cli("incrby", "c1", "41") == "42\n"
    assert "not supported through the proxy" in cli("time")
    assert cli("--no-raw", "hgetall", "nope") == "(empty array)\n"
    # Commands read from stdin, one per line, as in `redis-cli < file`.
    assert cli(stdin=b"set s1 a\nget s1\nexists s1 c1 nope\n") == "OK\na\n2\n"
    assert env.owner("cli-key").client().get("cli-key") == b"hello world"


def _read_pty(fd, done, timeout=10):
    """Reads redis-cli's terminal output until done(output) holds, answering linenoise's cursor
    position queries on the way (it waits for them before reading a line)."""
    out = b""
    deadline = time.monotonic() + timeout
    while not done(out):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("redis-cli printed %r" % out[-300:])
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EOFError("redis-cli exited; printed %r" % out[-300:])
            out += chunk
            for _ in range(chunk.count(b"\x1b[6n")):
                os.write(fd, b"\x1b[1;1R")
    return out


def test_redis_cli_interactive_session(env):
    """redis-cli on a terminal: it asks COMMAND DOCS for its hints, then runs what is typed."""
    prompt = b"127.0.0.1:%d> " % env.port
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes redis-cli
        os.execvp("redis-cli", ["redis-cli", "-h", "127.0.0.1", "-p", str(env.port)])

    def converse(line, answer):
        os.write(fd, line + b"\r")
        _read_pty(fd, lambda out: answer in out and out.rfind(prompt) > out.find(answer))

    try:
        _read_pty(fd, lambda out: prompt in out)
        converse(b"set tty-key 42", b"\nOK")
        converse(b"incr tty-key", b"(integer) 43")
        converse(b"time", b"not supported through the proxy")
        converse(b"ping", b"PONG")
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    assert env.owner("tty-key").client().get("tty-key") == b"43"


def test_redis_py_clients_connect_and_work(env):
    plain = redis.Redis(host="127.0.0.1", port=env.port, socket_timeout=10)
    named = redis.Redis(host="127.0.0.1", port=env.port, socket_timeout=10,
                        client_name="named-app", decode_responses=True)
    try:
        assert plain.ping() is True
        assert plain.set("py", "1") is True and plain.incr("py") == 2
        assert named.client_getname() == "named-app"
        assert named.get("py") == "2"
        assert named.echo("x") == "x"
    finally:
        plain.close()
        named.close()


def test_a_modern_library_handshake_in_one_write_gets_resp3_and_works(env):
    """What current clients (go-redis 9, redis-py 5, node-redis 6) send on connect, pipelined
    in one write as they do: HELLO 3 with SETNAME, then their setup commands."""
    with RawConnection(env.port) as conn:
        conn.send(encode("HELLO", "3", "SETNAME", "lib-app") +
                  encode("CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.21)") +
                  encode("CLIENT", "SETINFO", "LIB-VER", "9.0.5") + encode("SELECT", "0") +
                  encode("PING"))
        replies = [conn.reply_bytes() for _ in range(5)]
        assert replies[0].startswith(b"%7\r\n") and b"$5\r\nproto\r\n:3\r\n" in replies[0], (
            replies[0])
        assert replies[1:] == [b"+OK\r\n"] * 3 + [PONG]
        info = conn.command("INFO")
        assert info.startswith(b"=") and b"redis_version:" in info and b"loading:0" in info
        assert conn.command("SET", "lib", "ok") == b"+OK\r\n"
        assert conn.command("GET", "lib") == b"$2\r\nok\r\n"
        assert conn.command("GET", "lib-missing") == b"_\r\n"
        assert conn.command("CLIENT", "GETNAME") == b"$7\r\nlib-app\r\n"


def test_inline_commands_are_parsed_as_redis_parses_them(env):
    replies = _same_on_both(
        env, b"PING\r\n", b'SET k "a b"\r\n', b"GET k\r\n", b"SET k2 'single \"q\"'\n",
        b"GET k2\r\n", b'SET k3 "tab\\there\\x41\\n"\r\n', b"GET k3\r\n",
        b"   GET    k   \r\n", b"EXISTS k k2 k3 nope\r\n", b"ping hi\n", b"ECHO \"\"\r\n")
    assert replies[0] == PONG
    assert replies[2] == b"$3\r\na b\r\n"
    assert replies[8] == b":3\r\n"
    with RawConnection(env.port) as conn:
        conn.send(b"\r\n\r\nPING\r\n")  # empty lines are skipped
        assert conn.reply_bytes() == PONG


PROTOCOL_ERRORS = [
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n+x\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$2000000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*2\r\n$4\r\nPING\r\n*1\r\n$1\r\nx\r\n", b"-ERR Protocol error: expected '$', got '*'\r\n"),
    (b'GET "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"GET " + b"k" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
    (b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
]


@pytest.mark.parametrize("data,error", PROTOCOL_ERRORS,
                         ids=[repr(d[:16]) for d, _ in PROTOCOL_ERRORS])
def test_protocol_errors_get_redis_error_then_close(env, data, error):
    for port in (env.backends[0].port, env.port):
        with RawConnection(port) as conn:
            conn.send(data)
            assert conn.read_until_closed() == error, port


def test_replies_before_a_protocol_error_are_sent_first(env):
    with RawConnection(env.port) as conn:
        conn.send(encode("SET", "before", "1") + encode("PING") + encode("GET", "before") +
                  b"*1\r\n+x\r\n" + encode("SET", "after", "1"))
        data = conn.read_until_closed()
    assert data == (b"+OK\r\n" + PONG + b"$1\r\n1\r\n" +
                    b"-ERR Protocol error: expected '$', got '+'\r\n")
    assert sum(b.client().exists("after") for b in env.backends) == 0


def test_huge_declared_lengths_are_refused_without_allocating(env):
    pid = env.proxy.pid
    before = proxy_testing.rss_kib(pid)
    for data in (b"*2000000000\r\n", b"*1\r\n$2000000000\r\n", b"*3\r\n$3\r\nSET\r\n"
                 b"$1\r\nk\r\n$9999999999\r\n", b"*9223372036854775807\r\n"):
        for _ in range(20):
            with RawConnection(env.port) as conn:
                conn.send(data)
                reply = conn.read_until_closed()
                # (the exact text is test_protocol_errors_get_redis_error_then_close's business)
                assert reply.startswith(b"-") and b"Protocol error: " in reply, (data, reply)
    # Accepted lengths that never arrive: memory follows the bytes sent, not the promise.
    conns = []
    try:
        for _ in range(40):
            conn = RawConnection(env.port)
            conn.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n" + b"x" * 65536)
            conns.append(conn)
        conn = RawConnection(env.port)
        conns.append(conn)
        conn.send(b"*1000000\r\n$4\r\nPING\r\n")
        with RawConnection(env.port) as other:
            assert other.command("PING") == PONG
        grown = proxy_testing.rss_kib(pid) - before
        if proxy_testing.rss_bounds_apply():
            assert grown < 64 * 1024, "proxy RSS grew by %d KiB" % grown
    finally:
        for c in conns:
            c.close()
    assert env.client().get("k") is None


def test_random_bytes_do_not_take_the_proxy_down(env):
    rng = random.Random(7)
    conns = []
    try:
        for i in range(40):
            garbage = bytes(rng.randrange(256) for _ in range(rng.choice([1, 10, 100, 4096])))
            if i % 3 == 0:
                garbage = b"*" + garbage  # past the first byte, into the multibulk parser
            elif i % 3 == 1:
                garbage = b"*3\r\n$3\r\nSET\r\n" + garbage
            conn = RawConnection(env.port, timeout=2)
            conns.append(conn)
            try:
                conn.send(garbage)
            except (ConnectionResetError, BrokenPipeError):
                pass  # already answered with a protocol error and closed
        with RawConnection(env.port) as conn:
            assert conn.command("PING") == PONG
            assert conn.command("SET", "alive", "1") == b"+OK\r\n"
    finally:
        for conn in conns:
            conn.close()
    assert env.proxy.running()
    with RawConnection(env.port) as conn:
        assert conn.command("GET", "alive") == b"$1\r\n1\r\n"


def test_empty_and_null_arrays_are_skipped_like_redis(env):
    assert _same_on_both(env, b"*0\r\n*-1\r\nPING\r\n") == [PONG]
