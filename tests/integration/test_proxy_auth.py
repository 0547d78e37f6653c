"""Passwords and databases: redis_auth guards the proxy's clients (and, when the backends want the
same password, the proxy's own server connections); redis_db picks the backends' database.

One ringproxy with five pools: "secured" (redis_auth, open backends), "open" (no redis_auth),
"backend_pw" (backends with requirepass, redis_auth the same), "db2" (redis_db: 2) and
"backend_pw_db2" (both).
"""

import pytest
import redis

import proxy_testing
from proxy_testing import RawConnection

PASSWORD = "s3cret-pw"
NOAUTH = b"-NOAUTH Authentication required.\r\n"


@pytest.fixture(scope="module")
def setup(module_processes):
    plain = module_processes.redis_many(2)
    locked = module_processes.redis_many(2)

    def pool(servers, **options):
        base = {"redis": True, "hash": "fnv1a_64", "distribution": "ketama", "timeout": 5000}
        base.update(options)
        # Named servers: placement then does not depend on the ports of the day.
        base["servers"] = ["%s:1 s%d" % (s.address, i) for i, s in enumerate(servers)]
        return base

    proxy = module_processes.ringproxy(workers=2, pools={
        "secured": pool(plain, redis_auth=PASSWORD),
        "open": pool(plain),
        "backend_pw": pool(locked, redis_auth=PASSWORD, preconnect=True),
        "db2": pool(plain, redis_db=2),
        "backend_pw_db2": pool(locked, redis_auth=PASSWORD, redis_db=2),
    })
    return proxy, plain, locked


@pytest.fixture
def env(setup):
    proxy, plain, locked = setup
    for s in plain:
        s.client().flushall()
    for s in locked:
        s.client().flushall()
    return setup


def _keys_everywhere(servers, db=0):
    return sorted(k for s in servers for k in s.client(db=db).keys())


def test_requests_before_auth_get_noauth_and_reach_no_backend(env):
    proxy, plain, _ = env
    with RawConnection(proxy.ports["secured"]) as conn:
        for cmd in (["GET", "k"], ["SET", "k", "v"], ["MGET", "a", "b"], ["DEL", "a", "b"],
                    ["PING"], ["ECHO", "x"], ["KEYS", "*"], ["EVAL", "return 1", 1, "k"],
                    ["CLIENT", "SETNAME", "x"], ["INFO"], ["SELECT", "0"]):
            assert conn.command(*cmd) == NOAUTH, cmd
        conn.send(b"SET inline v\r\n")
        assert conn.reply_bytes() == NOAUTH
    assert _keys_everywhere(plain) == []


def test_wrong_password_is_refused_and_the_client_stays_unauthenticated(env):
    proxy, plain, _ = env
    with RawConnection(proxy.ports["secured"]) as conn:
        assert conn.command("AUTH", "wrong") == b"-ERR invalid password\r\n"
        assert conn.command("AUTH", PASSWORD[:-1]) == b"-ERR invalid password\r\n"
        assert conn.command("AUTH", PASSWORD + "x") == b"-ERR invalid password\r\n"
        assert conn.command("AUTH", "") == b"-ERR invalid password\r\n"
        assert conn.command("SET", "k", "v") == NOAUTH
    assert _keys_everywhere(plain) == []


def test_right_password_lets_commands_through(env):
    proxy, plain, _ = env
    with RawConnection(proxy.ports["secured"]) as conn:
        assert conn.command("AUTH", PASSWORD) == b"+OK\r\n"
        assert conn.command("SET", "k", "v") == b"+OK\r\n"
        assert conn.command("MSET", "a", "1", "b", "2", "c", "3") == b"+OK\r\n"
        assert conn.command("MGET", "k", "a", "nope", "c") == (
            b"*4\r\n$1\r\nv\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n")
        assert conn.command("PING") == b"+PONG\r\n"
    assert _keys_everywhere(plain) == [b"a", b"b", b"c", b"k"]


def test_auth_with_a_username(env):
    proxy, _, _ = env
    port = proxy.ports["secured"]
    with RawConnection(port) as conn:
        assert conn.command("AUTH", "default", PASSWORD) == b"+OK\r\n"
        assert conn.command("SET", "u", "1") == b"+OK\r\n"
    with RawConnection(port) as conn:
        assert conn.command("AUTH", "other", PASSWORD).startswith(b"-WRONGPASS")
        assert conn.command("AUTH", "default", "wrong").startswith(b"-WRONGPASS")
        assert conn.command("GET", "u") == NOAUTH


def test_hello_with_auth_authenticates(env):
    proxy, _, _ = env
    with RawConnection(proxy.ports["secured"]) as conn:
        assert conn.command("HELLO", "2").startswith(b"-NOAUTH")
        reply = proxy_testing.parse(conn.command("HELLO", "2", "AUTH", "default", PASSWORD,
                                                 "SETNAME", "h"))
        assert reply[reply.index(b"proto") + 1] == 2
        assert conn.command("GET", "x") == b"$-1\r\n"
        assert conn.command("CLIENT", "GETNAME") == b"$1\r\nh\r\n"


def test_redis_py_with_password_and_username(env):
    proxy, _, _ = env
    port = proxy.ports["secured"]
    for kwargs in ({"password": PASSWORD}, {"username": "default", "password": PASSWORD}):
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, **kwargs)
        try:
            assert client.set("py", "1") is True
            assert client.get("py") == b"1"
        finally:
            client.close()
    bad = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, password="nope")
    with pytest.raises(redis.exceptions.AuthenticationError):
        bad.ping()
    bad.close()


def test_auth_without_redis_auth_is_an_error(env):
    proxy, _, _ = env
    with RawConnection(proxy.ports["open"]) as conn:
        assert conn.command("AUTH", "x") == (
            b"-ERR Client sent AUTH, but no password is set\r\n")
        assert conn.command("AUTH", "default", "x").startswith(b"-ERR Client sent AUTH")
        assert conn.command("SET", "k", "v") == b"+OK\r\n"


def test_proxy_authenticates_to_backends_that_require_a_password(env):
    proxy, _, locked = env
    port = proxy.ports["backend_pw"]
    with RawConnection(port) as conn:
        assert conn.command("GET", "k") == NOAUTH
        assert conn.command("AUTH", PASSWORD) == b"+OK\r\n"
        pairs = [x for i in range(20) for x in ("%d:pw" % i, "v%d" % i)]
        assert conn.command("MSET", *pairs) == b"+OK\r\n"
        assert conn.command("GET", "7:pw") == b"$2\r\nv7\r\n"
        assert conn.command("INCR", "counter") == b":1\r\n"
        assert conn.command("DEL", "0:pw", "1:pw", "2:pw") == b":3\r\n"
    held = _keys_everywhere(locked)
    assert held == sorted([b"counter"] + [b"%d:pw" % i for i in range(3, 20)])
    assert all(s.client().dbsize() > 0 for s in locked), \
        "the keys should spread over both backends"


def test_redis_db_puts_keys_in_that_database(env):
    proxy, plain, _ = env
    port = proxy.ports["db2"]
    with RawConnection(port) as conn:
        assert conn.command("SELECT", "2") == b"+OK\r\n"
        # Database 0 is not this pool's: an OK would make the client believe its keys go there.
        assert conn.command("SELECT", "0") == \
            b"-ERR SELECT is not supported through the proxy: it serves database 2 only\r\n"
        assert conn.command("SELECT", "3").startswith(b"-ERR ")
        pairs = [x for i in range(20) for x in ("db%d" % i, "v%d" % i)]
        assert conn.command("MSET", *pairs) == b"+OK\r\n"
        assert conn.command("GET", "db3") == b"$2\r\nv3\r\n"
    # redis-py sends SELECT 2 itself when asked for db 2.
    client = redis.Redis(host="127.0.0.1", port=port, db=2, socket_timeout=10)
    assert client.get("db4") == b"v4"
    client.close()
    assert _keys_everywhere(plain, db=2) == sorted(b"db%d" % i for i in range(20))
    assert _keys_everywhere(plain, db=0) == []


def test_backend_password_and_redis_db_together(env):
    """nutcracker sends SELECT before AUTH (its bug #491), which such backends refuse."""
    proxy, _, locked = env
    client = redis.Redis(host="127.0.0.1", port=proxy.ports["backend_pw_db2"],
                         password=PASSWORD, socket_timeout=10)
    try:
        assert client.mset({"both%d" % i: i for i in range(10)}) is True
        assert client.mget(["both1", "both9"]) == [b"1", b"9"]
    finally:
        client.close()
    assert _keys_everywhere(locked, db=2) == sorted(
        b"both%d" % i for i in range(10))
    assert _keys_everywhere(locked, db=0) == []
