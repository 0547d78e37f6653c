"""Hostile and careless clients against the proxy's own defences, end to end with real
redis-server shards: password guessing (counted, logged without what was tried, cut off after ten
on a connection), secrets kept carelessly (a warning at start), and scripts, which reach around
the commands the proxy refuses: refuse_scripts at the proxy, and on the shards the ACL user the
shipped example gives the proxy, which stops a script's FLUSHALL, SWAPDB and MIGRATE.
"""

import os
import re
import subprocess
import time

import pytest
import redis
import yaml

import harness
import proxy_testing
from proxy_testing import RawConnection, encode

PASSWORD = "x8Jq2vNw0pLz-clients"
INVALID = b"-ERR invalid password\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
MAX_FAILURES = 10  # AuthFailures::kMaxPerConnection
FAILURE_LINE = re.compile(r"pool 'alpha': (\d+) failed AUTH attempts? since the last message")
EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                            "examples")


@pytest.fixture(scope="module")
def backend(module_processes):
    return module_processes.redis()


def pool(backend, **options):
    settings = {"redis": True, "hash": "fnv1a_64", "distribution": "ketama", "timeout": 5000,
                "servers": ["%s:1 s0" % backend.address]}
    settings.update(options)
    return settings


def auth_failures(proxy):
    return proxy_testing.metric(proxy_testing.metrics(proxy), "ringproxy_client_auth_failures_total",
                                pool="alpha")


def logged_failures(proxy):
    return [int(m.group(1)) for m in FAILURE_LINE.finditer(proxy.logs(100000))]


# --- password guessing ---------------------------------------------------------------------------

def test_the_tenth_wrong_password_on_a_connection_closes_it(processes, backend):
    proxy = processes.ringproxy(pools={"alpha": pool(backend, redis_auth=PASSWORD)})
    with RawConnection(proxy.port) as conn:
        # Twenty guesses in one write: ten answers, then the connection ends.
        conn.send(b"".join(encode("AUTH", "guess-%d" % i) for i in range(20)))
        assert conn.read_until_closed() == INVALID * MAX_FAILURES
    assert auth_failures(proxy) == MAX_FAILURES
    # HELLO ... AUTH is a guess too; a wrong password on another connection starts its own count.
    with RawConnection(proxy.port) as conn:
        assert conn.command("HELLO", "2", "AUTH", "default", "guess-hello") == WRONGPASS
        assert conn.command("AUTH", PASSWORD) == b"+OK\r\n"
        assert conn.command("PING") == b"+PONG\r\n"
    assert auth_failures(proxy) == MAX_FAILURES + 1
    # Logged at most once a second, with the count; never what was tried.
    harness.wait_until(lambda: sum(logged_failures(proxy)) == MAX_FAILURES + 1, 10,
                       "every failure to be counted in the log")
    assert len(logged_failures(proxy)) <= 3
    logs = proxy.logs(100000)
    assert "guess-" not in logs and PASSWORD not in logs
    assert "connection closed after 10 failures" in logs or \
        "connections closed after 10 failures" in logs


def test_a_flood_of_guesses_is_counted_exactly_and_logged_once_a_second(processes, backend):
    proxy = processes.ringproxy(workers=2, pools={"alpha": pool(backend, redis_auth=PASSWORD)})
    begin = time.monotonic()
    connections = 60
    guesses = b"".join(encode("AUTH", "guess-%d" % i) for i in range(MAX_FAILURES + 5))
    for _ in range(connections):
        with RawConnection(proxy.port) as conn:
            conn.send(guesses)
            assert conn.read_until_closed() == INVALID * MAX_FAILURES
    total = connections * MAX_FAILURES
    assert auth_failures(proxy) == total
    harness.wait_until(lambda: sum(logged_failures(proxy)) == total, 10,
                       "every failure to be counted in the log")
    elapsed = time.monotonic() - begin
    # At most one line a second per worker (plus the first of each), not one per guess.
    assert len(logged_failures(proxy)) <= 2 * (elapsed + 2), logged_failures(proxy)


# --- secrets kept carelessly ---------------------------------------------------------------------

def write_secret(processes, name, text, mode):
    path = os.path.join(processes.root, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


def test_placeholder_passwords_and_readable_secret_files_are_warned_about(processes, backend,
                                                                           build_dir):
    placeholder = write_secret(processes, "clients.password", "change-me-before-production",
                               0o644)
    proxy = processes.ringproxy(pools={"alpha": pool(backend, redis_auth_file=placeholder)})
    logs = proxy.logs(1000)
    assert "pool 'alpha': the clients' password (redis_auth) is a well-known placeholder" in logs
    assert "redis_auth_file '%s' is readable by every user (mode 0644)" % placeholder in logs
    assert "change-me-before-production" not in logs
    # ringproxy -t says the same on its standard error, and still passes the file.
    result = subprocess.run([os.path.join(build_dir, "proxy", "ringproxy"), "-t", "-c",
                             proxy.config_path], capture_output=True, text=True, timeout=10,
                            check=False)
    assert result.returncode == 0
    assert "warning: pool 'alpha': redis_auth_file" in result.stderr


def test_a_real_password_in_a_private_file_is_not_warned_about(processes, backend):
    private = write_secret(processes, "clients.password", PASSWORD, 0o600)
    proxy = processes.ringproxy(pools={"alpha": pool(backend, redis_auth_file=private)})
    assert proxy.client(password=PASSWORD).ping() is True
    assert "placeholder" not in proxy.logs(1000)
    assert "readable by" not in proxy.logs(1000)


# --- scripts -------------------------------------------------------------------------------------

SCRIPT_COMMANDS = [
    ["EVAL", "return 1", "1", "k"], ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1",
                                     "k"],
    ["EVAL_RO", "return 1", "1", "k"], ["EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
                                        "1", "k"],
    ["FCALL", "f", "1", "k"], ["FCALL_RO", "f", "1", "k"], ["SCRIPT", "LOAD", "return 1"],
    ["SCRIPT", "KILL"], ["FUNCTION", "LIST"], ["eval", "return 1", "1", "k"],
]


def test_refuse_scripts_refuses_every_script_command_and_nothing_else(processes, backend):
    proxy = processes.ringproxy(pools={
        "refusing": pool(backend, refuse_scripts=True),
        "open": pool(backend),
    })
    with RawConnection(proxy.ports["refusing"]) as conn:
        for command in SCRIPT_COMMANDS:
            assert conn.command(*command) == (
                b"-ERR %s is refused through this proxy: the pool refuses scripts\r\n" %
                command[0].upper().encode()), command
        assert conn.command("SET", "k", "v") == b"+OK\r\n"
        assert conn.command("GET", "k") == b"$1\r\nv\r\n"
    assert proxy_testing.metric(proxy_testing.metrics(proxy), "ringproxy_requests_total",
                                pool="refusing", command_class="rejected") == len(SCRIPT_COMMANDS)
    # Without the key, scripts reach the server as before.
    with RawConnection(proxy.ports["open"]) as conn:
        assert conn.command("EVAL", "return redis.call('GET', KEYS[1])", "1", "k") == \
            b"$1\r\nv\r\n"


ADMIN_PASSWORD = "operators-Qz81"
PROXY_PASSWORD = "proxy-Lw93-not-the-clients"


def example_acl_rule():
    """The ACL rule the shipped example tells operators to give the proxy's user on the shards:
    what follows ">PROXY-PASSWORD" on its "user proxy on" line."""
    with open(os.path.join(EXAMPLES_DIR, "acl-user.yml"), encoding="utf-8") as f:
        text = f.read()
    found = re.search(r"(?m)^#\s+user proxy on >PROXY-PASSWORD (.+)$", text)
    assert found, "acl-user.yml no longer shows the shards' ACL rule for the proxy"
    return found.group(1).split(), yaml.safe_load(text)


@pytest.fixture
def acl_shards(processes):
    rule, example = example_acl_rule()
    shards = processes.redis_many(2, password=ADMIN_PASSWORD,
                                  extra_args=["--user", "proxy", "on", ">" + PROXY_PASSWORD,
                                              *rule])
    return shards, example


def example_pool(processes, shards, example):
    (name, settings), = example.items()
    settings = dict(settings)
    settings.pop("listen")
    settings["redis_auth_file"] = write_secret(processes, "clients.password", PASSWORD, 0o600)
    settings["server_auth_file"] = write_secret(processes, "proxy.password", PROXY_PASSWORD,
                                                0o600)
    settings["servers"] = ["%s:1 shard-%d" % (s.address, i) for i, s in enumerate(shards)]
    return name, settings


def test_the_examples_acl_user_stops_scripts_from_flushing_or_moving_a_shard(processes,
                                                                              acl_shards):
    shards, example = acl_shards
    name, settings = example_pool(processes, shards, example)
    proxy = processes.ringproxy(pools={name: settings})
    client = proxy.client(password=PASSWORD)
    keys = ["%d:acl" % i for i in range(40)]  # counter first: fnv1a_64 spreads these
    for key in keys:
        assert client.set(key, "v") is True
    assert client.mget(keys) == [b"v"] * len(keys)
    assert all(s.client().dbsize() > 0 for s in shards), "keys on every shard"
    # The clients' password opens no shard: the proxy's is another one.
    with pytest.raises(redis.exceptions.RedisError, match="WRONGPASS"):
        redis.Redis(host="127.0.0.1", port=shards[0].port, password=PASSWORD,
                    socket_timeout=5).ping()
    for script in ("return redis.call('FLUSHALL')",
                   "return redis.call('SWAPDB', 0, 1)",
                   "return redis.call('MIGRATE', '127.0.0.1', 1, KEYS[1], 0, 100)"):
        with pytest.raises(redis.exceptions.ResponseError,
                           match="can't run this command or subcommand"):
            client.eval(script, 1, keys[0])
    # SORT is @dangerous too (its BY and GET read other keys): refused unless the rule allows it.
    with pytest.raises(redis.exceptions.NoPermissionError, match="'sort' command"):
        client.sort(keys[0])
    assert sum(s.client().dbsize() for s in shards) == len(keys)


def test_without_the_acl_user_a_script_flushes_the_shard(processes, backend):
    # What the ACL user is for: with the proxy logged in as a full user, one key is enough.
    proxy = processes.ringproxy(pools={"alpha": pool(backend)})
    client = proxy.client()
    client.set("victim", "v")
    assert client.eval("return redis.call('FLUSHALL')", 1, "victim") == b"OK"
    assert backend.client().dbsize() == 0

