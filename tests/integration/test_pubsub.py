"""Pub/sub through the proxy with real redis-server shards: channels routed by their name's
hash so that publisher and subscriber meet, patterns on every shard, confirmations and
refusals byte-identical to one redis-server's (RESP2 and RESP3), PUBLISH's and PUBSUB's counts,
a shard killed under its subscribers, and many subscribers sharing a connection per server.
"""

import resource
import socket

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, encode, parse

SHARDS = 3


@pytest.fixture(scope="module")
def backends(module_processes):
    return module_processes.redis_many(SHARDS)


@pytest.fixture(scope="module")
def sharded(module_processes, backends):
    # One worker: PUBLISH's receiver count is then exact at once (see README, "Pub/sub").
    return proxy_testing.ShardedProxy(module_processes, backends, workers=1)


@pytest.fixture(scope="module")
def plain(module_processes):
    return module_processes.redis()


def exchange(port, commands):
    """Each command's reply bytes (pub/sub commands answer one frame per name)."""
    replies = []
    with RawConnection(port) as conn:
        for command, frames in commands:
            conn.send(encode(*command))
            replies.append([conn.reply_bytes() for _ in range(frames)])
    return replies


SESSION = [
    (["SUBSCRIBE", "a"], 1),
    (["SUBSCRIBE", "b", "c", "a"], 3),
    (["PSUBSCRIBE", "p*", "q?"], 2),
    (["UNSUBSCRIBE", "b", "nosuch"], 2),
    (["PING"], 1),
    (["PING", "hello"], 1),
    (["GET", "k"], 1),
    (["CLIENT", "LIST"], 1),
    (["PUBLISH", "a", "x"], 1),
    (["SSUBSCRIBE", "s1", "s2"], 2),
    (["SUNSUBSCRIBE", "s1"], 1),
    (["PUNSUBSCRIBE", "p*"], 1),
    (["PUNSUBSCRIBE", "q?"], 1),
    (["UNSUBSCRIBE", "a"], 1),
    (["UNSUBSCRIBE", "c"], 1),
    (["UNSUBSCRIBE"], 1),
    (["PUNSUBSCRIBE"], 1),
    (["SUNSUBSCRIBE"], 1),
    (["NOSUCHCOMMAND"], 1),
    (["SUBSCRIBE", "z"], 1),
    (["RESET"], 1),
    (["GET", "k"], 1),
    (["PUBSUB", "HELP"], 1),
    (["PUBSUB", "HELP", "x"], 1),
    (["PUBSUB", "NOSUCH"], 1),
]


def test_resp2_session_is_byte_identical_to_redis(sharded, plain):
    ours = exchange(sharded.port, SESSION)
    theirs = exchange(plain.port, SESSION)
    for (command, _), mine, reference in zip(SESSION, ours, theirs):
        assert mine == reference, command


def test_resp3_session_is_byte_identical_to_redis(sharded, plain):
    # CLIENT LIST is the proxy's own list; RESET would end RESP3.
    session = [cmd for cmd in SESSION if cmd[0][0] not in ("RESET", "CLIENT")]
    # A RESP3 client may publish while subscribed: its own message comes with the count (Redis
    # writes it first; through the proxy it comes from the server and may come second).
    session = [(c, 2 if c[0] == "PUBLISH" else n) for c, n in session]
    def run(port):
        with RawConnection(port) as conn:
            conn.command("HELLO", "3")  # the proxy's HELLO reply is its own
            out = []
            for command, frames in session:
                conn.send(encode(*command))
                out.append([conn.reply_bytes() for _ in range(frames)])
            return out
    ours, theirs = run(sharded.port), run(plain.port)
    for (command, _), mine, reference in zip(session, ours, theirs):
        assert sorted(mine) == sorted(reference), command
    # Commands run in RESP3 subscribed mode; pushes start with '>'.
    assert ours[0][0].startswith(b">3\r\n$9\r\nsubscribe")


def test_message_delivery_matches_redis_in_both_protocols(sharded, plain):
    for hello in (None, "3"):
        frames = []
        for port in (sharded.port, plain.port):
            with RawConnection(port) as sub, RawConnection(port) as pub:
                if hello:
                    sub.command("HELLO", hello)
                sub.send(encode("SUBSCRIBE", "news"))
                sub.reply_bytes()
                sub.send(encode("PSUBSCRIBE", "n*"))
                sub.reply_bytes()
                assert parse(pub.command("PUBLISH", "news", "hi")) == 2
                frames.append([sub.reply_bytes(), sub.reply_bytes()])
        assert sorted(frames[0]) == sorted(frames[1])


def test_thousand_channels_across_shards_each_message_once(sharded):
    channels = ["ch:%d" % i for i in range(1000)]
    owners = sharded.owners(channels)
    assert len({b.port for b in owners.values()}) == SHARDS
    with RawConnection(sharded.port) as sub, RawConnection(sharded.port) as pub:
        sub.send(b"".join(encode("SUBSCRIBE", c) for c in channels))
        confirmations = [parse(sub.reply_bytes()) for _ in channels]
        assert [c[2] for c in confirmations] == list(range(1, 1001))
        counts = pub.pipeline([["PUBLISH", c, "m:" + c] for c in channels])
        assert set(counts) == {b":1\r\n"}
        got = [parse(sub.reply_bytes()) for _ in channels]
        assert sorted(m[1] for m in got) == sorted(c.encode() for c in channels)
        assert all(m[0] == b"message" and m[2] == b"m:" + m[1] for m in got)
        # Exactly once: nothing more is waiting.
        sub.sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sub.sock.recv(1)
        # Each shard holds the subscriptions of its own channels, on one shared connection.
        for backend in sharded.backends:
            mine = {c for c, b in owners.items() if b.port == backend.port}
            theirs = {c.decode() for c in backend.client().pubsub_channels("ch:*")}
            assert theirs == mine


def test_pattern_matches_channels_on_every_shard(sharded):
    channels = sharded.keys_on_distinct_shards(SHARDS, prefix="evt")
    with RawConnection(sharded.port) as sub, RawConnection(sharded.port) as pub:
        assert parse(sub.command("PSUBSCRIBE", "*evt")) == [b"psubscribe", b"*evt", 1]
        for channel in channels:
            assert parse(pub.command("PUBLISH", channel, "x")) == 1
            assert parse(sub.reply_bytes()) == [b"pmessage", b"*evt", channel.encode(), b"x"]
        for backend in sharded.backends:
            assert backend.client().pubsub_numpat() == 1


def test_pubsub_counts_are_the_proxys_clients(sharded):
    with RawConnection(sharded.port) as a, RawConnection(sharded.port) as b, \
            RawConnection(sharded.port) as q:
        a.command("SUBSCRIBE", "cnt1")
        b.command("SUBSCRIBE", "cnt1")
        b.send(encode("SUBSCRIBE", "cnt2"))
        b.reply_bytes()
        a.command("PSUBSCRIBE", "cnt*")
        assert parse(q.command("PUBSUB", "NUMSUB", "cnt1", "cnt2", "none")) == \
            [b"cnt1", 2, b"cnt2", 1, b"none", 0]
        assert sorted(parse(q.command("PUBSUB", "CHANNELS", "cnt*"))) == [b"cnt1", b"cnt2"]
        assert parse(q.command("PUBSUB", "NUMPAT")) == 1
        # Two channel subscribers and one pattern: three deliveries, as from Redis.
        assert parse(q.command("PUBLISH", "cnt1", "x")) == 3


def test_killed_shard_closes_its_subscribers(module_processes):
    backends = module_processes.redis_many(2)
    proxy = proxy_testing.ShardedProxy(module_processes, backends, workers=1)
    channels = proxy.keys_on_distinct_shards(2, prefix="kill")
    owners = proxy.owners(channels)
    doomed, survivor = channels
    with RawConnection(proxy.port) as lost, RawConnection(proxy.port) as kept:
        lost.command("SUBSCRIBE", doomed)
        kept.command("SUBSCRIBE", survivor)
        owners[doomed].kill()
        owners[doomed].wait()
        lost.sock.settimeout(10)
        assert lost.sock.recv(1) == b""  # closed: the client knows
        with RawConnection(proxy.port) as pub:
            assert parse(pub.command("PUBLISH", survivor, "still")) == 1
        assert parse(kept.reply_bytes()) == [b"message", survivor.encode(), b"still"]


def test_many_subscribers_share_one_connection_per_server(module_processes, backends):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 10_000
    if soft < want + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want + 1000), hard))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    count = min(want, limit - 500)
    proxy = proxy_testing.ShardedProxy(module_processes, backends, workers=1)
    pid = proxy.proxy.pid
    before = proxy_testing.rss_kib(pid)
    subscribers = []
    try:
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", proxy.port))
            sock.sendall(encode("SUBSCRIBE", "many:%d" % (i % 100)))
            subscribers.append(sock)
        for sock in subscribers:
            data = b""
            while not data.endswith(b"\r\n:1\r\n"):
                data += sock.recv(4096)
        after = proxy_testing.rss_kib(pid)
        with RawConnection(proxy.port) as pub:
            assert parse(pub.command("PUBLISH", "many:7", "hi")) == len(range(7, count, 100))
        # The servers see one subscriber connection each (plus the proxy's others), not thousands.
        for backend in backends:
            clients = backend.client().client_list()
            assert len(clients) < 20, len(clients)
        per_subscriber = (after - before) * 1024 / count
        print("\n%d subscribers (RLIMIT_NOFILE soft limit %d): RSS %d KiB -> %d KiB, "
              "%.0f bytes per subscriber" % (count, limit, before, after, per_subscriber))
        if proxy_testing.rss_bounds_apply():
            assert per_subscriber < 16 * 1024
    finally:
        for sock in subscribers:
            sock.close()


def _info_field(conn, name):
    text = conn.command("INFO", "stats")
    for line in text.split(b"\r\n"):
        if line.startswith(name.encode() + b":"):
            return int(line.split(b":", 1)[1])
    raise AssertionError("INFO stats has no %s: %r" % (name, text))


def test_subscriptions_show_in_metrics_and_info_and_go_with_their_clients(sharded, plain):
    """/metrics counts each client's subscriptions; INFO counts distinct names, as a Redis
    holding every subscription would (compared with one plain redis-server given the same)."""
    proxy = sharded.proxy

    def subscriptions():
        return proxy_testing.metric(proxy_testing.metrics(proxy), "ringproxy_subscriptions")

    assert subscriptions() == 0
    steps = [(["SUBSCRIBE", "m1", "m2"], 2), (["PSUBSCRIBE", "mp*"], 1),
             (["SSUBSCRIBE", "{m}s1"], 1)]
    with RawConnection(sharded.port) as one, RawConnection(sharded.port) as two, \
            RawConnection(plain.port) as d1, RawConnection(plain.port) as d2, \
            RawConnection(sharded.port) as probe, RawConnection(plain.port) as direct:
        for conn in (one, d1):
            for command, frames in steps:
                conn.send(encode(*command))
                for _ in range(frames):
                    conn.reply_bytes()
        for conn in (two, d2):
            conn.send(encode("SUBSCRIBE", "m1"))
            conn.reply_bytes()
        assert subscriptions() == 5
        for name in ("pubsub_channels", "pubsub_patterns", "pubsubshard_channels"):
            assert _info_field(probe, name) == _info_field(direct, name), name
        assert _info_field(probe, "pubsub_channels") == 2
    # The clients have gone: their subscriptions with them.
    harness.wait_until(lambda: subscriptions() == 0, 10,
                       "the subscriptions of closed clients to be dropped")
