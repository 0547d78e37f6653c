"""What tools and clients do with a connection itself: send everything then half-close the
socket (a raw client, and `printf ... | nc -N`), and read INFO by section as client ready checks
and `redis-cli --stat` do.

RINGPROXY_PATTERNS_TARGET=redis runs this file against one plain redis-server (see
client_patterns.py).
"""

import re
import shutil
import socket
import subprocess
import time

import pytest

import client_patterns as cp
import harness
from proxy_testing import RawConnection, encode

INCRS = 20
EXPECTED_INCR_REPLIES = b"".join(b":%d\r\n" % i for i in range(1, INCRS + 1))


@pytest.fixture(scope="module")
def setup(module_processes):
    return cp.PatternTarget(module_processes)


@pytest.fixture
def target(setup):
    setup.reset()
    return setup


def test_a_client_that_sends_then_half_closes_gets_every_reply_then_eof(target):
    key = "half-close:raw"
    with RawConnection(target.port) as conn:
        conn.send(encode("INCR", key) * INCRS)
        conn.sock.shutdown(socket.SHUT_WR)
        assert conn.read_until_closed(timeout=10) == EXPECTED_INCR_REPLIES
    assert target.owner(key).client().get(key) == str(INCRS).encode()


def test_printf_piped_to_nc_gets_every_reply(target):
    """`printf 'INCR k\\r\\n...' | nc -N host port`: inline commands, then nc shuts down its
    sending side at the end of its input and prints what comes back until the peer closes."""
    nc = shutil.which("nc")
    if nc is None or "-N" not in subprocess.run([nc, "-h"], capture_output=True, text=True,
                                                timeout=10, check=False).stderr:
        pytest.skip("needs OpenBSD netcat (Debian's netcat-openbsd) for -N")
    key = "half-close:nc"
    result = subprocess.run([nc, "-N", "127.0.0.1", str(target.port)],
                            input=("INCR %s\r\n" % key).encode() * INCRS,
                            capture_output=True, timeout=15, check=False)
    assert result.stdout == EXPECTED_INCR_REPLIES, (result.returncode, result.stderr)
    assert target.owner(key).client().get(key) == str(INCRS).encode()


def _sections(text):
    """{section name: {field: value}} of an INFO reply's text."""
    sections = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# "):
            current = sections.setdefault(line[2:].strip(), {})
        elif line.strip():
            assert current is not None, "a field before any section header: %r" % line
            field, _, value = line.partition(":")
            current[field] = value.strip()
    return sections


def _info(target, *args):
    with RawConnection(target.port) as conn:
        reply = conn.command("INFO", *args)
    assert reply.startswith(b"$"), reply[:200]
    return _sections(reply.split(b"\r\n", 1)[1][:-2].decode())


def _write_a_key_on_every_shard(target):
    keys = target.keys_on_every_shard("info")
    r = target.client()
    for key in keys:
        r.set(key, "v")
    r.close()
    return keys


# The section besides the one asked for that a proxy may add, describing itself.
OWN_SECTION = {"Proxy"}


def test_info_with_a_section_answers_that_section(target):
    _write_a_key_on_every_shard(target)
    for asked in ("server", "SERVER"):
        sections = _info(target, asked)
        assert "Server" in sections and set(sections) <= {"Server"} | OWN_SECTION, sections.keys()
        assert re.fullmatch(r"\d+\.\d+\.\d+", sections["Server"]["redis_version"])
    sections = _info(target, "keyspace")
    assert "Keyspace" in sections and set(sections) <= {"Keyspace"} | OWN_SECTION, sections.keys()
    db0 = dict(kv.split("=") for kv in sections["Keyspace"]["db0"].split(","))
    assert int(db0["keys"]) >= 1 and int(db0["expires"]) >= 0, db0
    sections = _info(target, "server", "clients")
    assert {"Server", "Clients"} <= set(sections) <= {"Server", "Clients"} | OWN_SECTION


def test_info_without_a_section_has_what_monitoring_tools_read(target):
    _write_a_key_on_every_shard(target)
    sections = _info(target)
    fields = {}
    for name in ("Server", "Clients", "Memory", "Stats", "Keyspace"):
        assert name in sections, "no %s section: %s" % (name, list(sections))
        fields.update(sections[name])
    for field in ("connected_clients", "blocked_clients", "used_memory",
                  "total_commands_processed", "total_connections_received"):
        assert re.fullmatch(r"\d+", fields.get(field, "")), (field, fields.get(field))
    assert int(fields["connected_clients"]) >= 1
    # redis-py reads INFO the way client ready checks do.
    r = target.client()
    info = r.info()
    assert info["connected_clients"] >= 1 and "redis_version" in info
    r.close()


STAT_ROW = re.compile(r"(\d+)\s+(\d+(?:\.\d+)?[BKMGTP]?)\s+(\d+)\s+(\d+)\s+(\d+) \(\+(\d+)\)"
                      r"\s+(\d+)\s*.*")


def test_redis_cli_stat_prints_sane_numbers(target):
    _write_a_key_on_every_shard(target)
    redis_cli = shutil.which("redis-cli")
    assert redis_cli, "redis-cli is not installed (Debian's redis-tools)"
    # --stat prints two header lines, then a row per interval until stopped: read three rows,
    # then stop it. (stdbuf: into a pipe, redis-cli would hold its rows in a 4 KiB buffer.)
    proc = subprocess.Popen(["stdbuf", "-oL", redis_cli, "-p", str(target.port), "--stat",
                             "-i", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 15
    try:
        while len(lines) < 5:
            assert time.monotonic() < deadline, "redis-cli --stat printed only: %s" % lines
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
    finally:
        proc.kill()
        proc.wait(harness.STOP_TIMEOUT)
        proc.stdout.close()
    assert lines[:2] and lines[0].startswith("------- data ------"), lines
    rows = [STAT_ROW.fullmatch(ln.strip()) for ln in lines[2:]]
    assert len(rows) >= 3 and all(rows), "not a row of numbers: %s" % lines
    for row in rows:
        keys, _, clients, blocked, requests, _, connections = row.groups()
        assert int(keys) >= 1 and int(clients) >= 1 and int(connections) >= 1, row.group(0)
        assert int(blocked) >= 0 and int(requests) >= 1, row.group(0)
    # The request count is a counter: it never goes down from one row to the next.
    for before, after in zip(rows, rows[1:]):
        assert int(after.group(5)) >= int(before.group(5)), (before.group(0), after.group(0))
