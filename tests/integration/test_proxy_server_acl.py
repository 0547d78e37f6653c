"""server_auth_user: the proxy logs in to its backends as a Redis ACL user (AUTH <user> <password>)
with the password read from redis_auth_file, while its own clients AUTH with the password alone.

Two redis-server shards whose default user is off: only the user "proxy" with PASSWORD may run
commands on them. One ringproxy with three pools over both shards: "acl" (server_auth_user),
"acl_db2" (the same with redis_db: 2: AUTH must come before SELECT) and "no_user" (the same
password file without server_auth_user, so its AUTH <password> names the disabled default user).
"""

import os

import pytest
import redis

from proxy_testing import RawConnection

USER = "proxy"
PASSWORD = "s3cret"
ACL_ARGS = ["--user", "default", "off",
            "--user", USER, "on", ">" + PASSWORD, "~*", "&*", "+@all"]
NOAUTH = b"-NOAUTH Authentication required.\r\n"


def start_acl_redis(group):
    server = group.redis(extra_args=ACL_ARGS, start=False)
    # The harness's readiness probe PINGs without a user name, which this server refuses (its
    # default user is off). A server with nothing to load is ready once it listens.
    server._wait_ready = lambda: server.wait_listening([server.port])  # pylint: disable=protected-access
    return server.start()


@pytest.fixture(scope="module")
def setup(module_processes):
    shards = [start_acl_redis(module_processes) for _ in range(2)]
    password_file = os.path.join(module_processes.root, "redis-password")
    with open(password_file, "w", encoding="utf-8") as f:
        f.write(PASSWORD + "\n")  # as `echo` writes it: the newline is not part of the password

    def pool(**options):
        base = {"redis": True, "hash": "fnv1a_64", "distribution": "ketama", "timeout": 5000,
                "redis_auth_file": password_file}
        base.update(options)
        base["servers"] = ["%s:1 shard-%d" % (s.address, i) for i, s in enumerate(shards)]
        return base

    proxy = module_processes.ringproxy(workers=2, pools={
        "acl": pool(server_auth_user=USER),
        "acl_db2": pool(server_auth_user=USER, redis_db=2),
        "no_user": pool(),
    })
    return proxy, shards


@pytest.fixture
def env(setup):
    proxy, shards = setup
    for shard in shards:
        shard.client(username=USER, password=PASSWORD).flushall()
    return setup


def keys_on(shards, db=0):
    return sorted(k for s in shards for k in s.client(username=USER, password=PASSWORD,
                                                       db=db).keys())


def test_the_acl_backends_refuse_the_default_user(env):
    # The premise: without the user name, these servers serve nobody.
    _, shards = env
    with RawConnection(shards[0].port) as conn:
        assert conn.command("GET", "k") == NOAUTH
        assert conn.command("AUTH", PASSWORD).startswith(b"-WRONGPASS")
        assert conn.command("AUTH", USER, PASSWORD) == b"+OK\r\n"


def test_clients_use_the_password_from_the_file_and_reach_the_acl_backends(env):
    proxy, shards = env
    port = proxy.ports["acl"]
    with RawConnection(port) as conn:
        assert conn.command("GET", "k") == NOAUTH  # the proxy's own check, before any backend
        assert conn.command("AUTH", PASSWORD + "\n") == b"-ERR invalid password\r\n"
        assert conn.command("AUTH", PASSWORD) == b"+OK\r\n"
        pairs = [x for i in range(20) for x in ("acl:%d" % i, "v%d" % i)]
        assert conn.command("MSET", *pairs) == b"+OK\r\n"
        assert conn.command("GET", "acl:7") == b"$2\r\nv7\r\n"
        assert conn.command("INCR", "counter") == b":1\r\n"
        assert conn.command("DEL", "acl:0", "acl:1") == b":2\r\n"
    assert keys_on(shards) == sorted([b"counter"] + [b"acl:%d" % i for i in range(2, 20)])
    assert all(s.client(username=USER, password=PASSWORD).dbsize() > 0 for s in shards), \
        "the keys should spread over both shards"

    client = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, socket_timeout=10)
    try:
        assert client.mget(["acl:2", "acl:19", "nope"]) == [b"v2", b"v19", None]
    finally:
        client.close()


def test_auth_with_the_user_name_comes_before_select(env):
    proxy, shards = env
    client = redis.Redis(host="127.0.0.1", port=proxy.ports["acl_db2"], password=PASSWORD,
                         socket_timeout=10)
    try:
        assert client.mset({"db2:%d" % i: i for i in range(10)}) is True
        assert client.mget(["db2:1", "db2:9"]) == [b"1", b"9"]
    finally:
        client.close()
    assert keys_on(shards, db=2) == sorted(b"db2:%d" % i for i in range(10))
    assert keys_on(shards, db=0) == []


def test_without_server_auth_user_the_backends_refuse_the_proxy(env):
    proxy, shards = env
    with RawConnection(proxy.ports["no_user"]) as conn:
        assert conn.command("AUTH", PASSWORD) == b"+OK\r\n"
        # The proxy's AUTH <password> named the disabled default user; the backend refused it, and
        # the request, never sent on that connection, gets the backend's own refusal.
        assert conn.command("SET", "k", "v") == (
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    assert keys_on(shards) == []
