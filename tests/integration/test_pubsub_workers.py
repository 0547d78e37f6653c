"""Pub/sub with two workers: subscribers spread over both, each worker with its own subscriber
connection per server, and the process-wide subscription counts (PUBLISH's receivers, PUBSUB
NUMSUB, CHANNELS, NUMPAT) moved by both workers at once. Labelled "tsan": the ThreadSanitizer
stage runs it against a ringproxy whose two workers share the counts' registry.
"""

import threading

import pytest

import harness
import proxy_testing
from proxy_testing import RawConnection, encode, parse

SHARDS = 3
SUBSCRIBERS = 40


@pytest.fixture(scope="module")
def sharded(module_processes):
    backends = module_processes.redis_many(SHARDS)
    return proxy_testing.ShardedProxy(module_processes, backends, workers=2)


def subscriber_connections(backend):
    """The proxy's connections to `backend` that hold subscriptions (CLIENT LIST's sub/psub)."""
    return [c for c in backend.client().client_list()
            if int(c["sub"]) + int(c["psub"]) + int(c.get("ssub", 0)) > 0]


def test_subscribers_on_both_workers_receive_every_message_once(sharded):
    channel = "w:news"
    owner = sharded.owner(channel)
    subscribers = [RawConnection(sharded.port) for _ in range(SUBSCRIBERS)]
    try:
        for sub in subscribers:
            sub.send(encode("SUBSCRIBE", channel) + encode("PSUBSCRIBE", "w:*"))
        for sub in subscribers:
            assert parse(sub.reply_bytes()) == [b"subscribe", channel.encode(), 1]
            assert parse(sub.reply_bytes()) == [b"psubscribe", b"w:*", 2]
        # The kernel spreads 40 connections over both workers' listeners; each worker subscribes
        # once per server for all its clients, so the owner sees two subscriber connections.
        assert len(subscriber_connections(owner)) == 2
        with RawConnection(sharded.port) as pub:
            assert parse(pub.command("PUBSUB", "NUMSUB", channel)) == [channel.encode(),
                                                                        SUBSCRIBERS]
            assert parse(pub.command("PUBSUB", "NUMPAT")) == 1
            # Each subscriber by its channel and by its pattern, as from one Redis.
            assert parse(pub.command("PUBLISH", channel, "hi")) == 2 * SUBSCRIBERS
            # Then a second message: each subscriber's next frames are the first message's two
            # deliveries and then the second's, so no delivery came twice in between.
            assert parse(pub.command("PUBLISH", channel, "end")) == 2 * SUBSCRIBERS
        for sub in subscribers:
            frames = [parse(sub.reply_bytes()) for _ in range(4)]
            assert sorted((f[0], f[-1]) for f in frames[:2]) == [(b"message", b"hi"),
                                                                   (b"pmessage", b"hi")]
            assert sorted((f[0], f[-1]) for f in frames[2:]) == [(b"message", b"end"),
                                                                   (b"pmessage", b"end")]
    finally:
        for sub in subscribers:
            sub.close()
    # Gone with their clients, from both workers: the counts and the servers' subscriptions.
    with RawConnection(sharded.port) as query:
        harness.wait_until(
            lambda: parse(query.command("PUBSUB", "NUMSUB", channel))[1] == 0 and
            parse(query.command("PUBSUB", "NUMPAT")) == 0, 10.0, "the subscribers' counts to go")
    harness.wait_until(lambda: not owner.client().pubsub_channels("w:*"), 10.0,
                       "the server's subscription to go")


def test_counts_stay_exact_while_both_workers_subscribe_and_leave_at_once(sharded):
    rounds = 200
    errors = []

    def churn(index):
        # Each thread subscribes and leaves its own channels, on a connection of its own: the
        # threads' connections land on both workers, which then move the counts together.
        try:
            with RawConnection(sharded.port) as conn:
                for i in range(rounds):
                    name = "churn:%d:%d" % (index, i % 7)
                    assert parse(conn.command("SUBSCRIBE", name, "churn:all"))[0] == b"subscribe"
                    conn.reply_bytes()
                    conn.send(encode("PSUBSCRIBE", "churn:%d:*" % index))
                    conn.reply_bytes()
                    conn.send(encode("UNSUBSCRIBE", name))
                    conn.reply_bytes()
                    conn.send(encode("PUNSUBSCRIBE"))
                    conn.reply_bytes()
                conn.send(encode("UNSUBSCRIBE"))
                assert parse(conn.reply_bytes()) == [b"unsubscribe", b"churn:all", 0]
        except Exception as exc:  # pylint: disable=broad-except  (reported by the main thread)
            errors.append("thread %d: %r" % (index, exc))

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
    with RawConnection(sharded.port) as query:
        for thread in threads:
            thread.start()
        # Read while they write: NUMSUB of the channel every thread holds never exceeds them.
        while any(t.is_alive() for t in threads):
            count = parse(query.command("PUBSUB", "NUMSUB", "churn:all"))[1]
            assert 0 <= count <= len(threads)
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
        # Every subscription was confirmed before its thread moved on, and every one is gone.
        assert parse(query.command("PUBSUB", "CHANNELS", "churn:*")) == []
        assert parse(query.command("PUBSUB", "NUMPAT")) == 0
        assert parse(query.command("PUBLISH", "churn:all", "x")) == 0
