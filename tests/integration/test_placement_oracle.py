"""Key placement oracle: ringproxy's hashing library must put every key where nutcracker does.

For each scenario one config file is written and read by both sides: the real nutcracker 0.5.0
(over real redis-server backends) and placement_tool (config::LoadConfigFile +
hashing::Placement). Keys are written through nutcracker; each backend is then asked which keys it
holds; that is compared, key by key, with placement_tool's answer. Any differing key fails.

The `random` distribution is left out: nutcracker's choice there is random() % n, not a function
of the key (unit tests cover it).
"""

import collections
import os
import random
import subprocess

import pytest

import harness

HASHES = ["one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64", "fnv1a_64", "fnv1_32",
          "fnv1a_32", "hsieh", "murmur", "jenkins"]
DISTRIBUTIONS = ["ketama", "modula"]

# 25 servers: 156 ketama points each at equal weights (nutcracker's float arithmetic), not 160.
# The extra loopback addresses make unnamed names ("host:port") of different lengths, so the
# shorter-first name order matters.
BACKEND_HOSTS = ["127.0.0.1"] * 20 + ["127.0.0.2"] * 3 + ["127.0.0.10"] * 2

# Explicit names whose nutcracker order (shorter first, then bytewise) differs from file order.
NAMES = ["s9", "s10", "alpha", "b", "server-3", "Z", "node_07", "Beta", "redis-2100", "x1",
         "cache-a", "cache-b", "cache-aa", "a" * 40, "0", "00", "9", "srv.example:7000", "mm",
         "redis-2101", "q", "W7", "shard_12", "shard_2", "n"]

MAX_KEY = 200  # far below nutcracker's limit (a key must fit one 16 KiB mbuf)
WRITE_BATCH = 1000


def _utf8_text(rng, max_bytes):
    ranges = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x4e00, 0x9fff),
              (0x1f300, 0x1f64f), (0x10000, 0x1007f)]
    out = b""
    while True:
        lo, hi = rng.choice(ranges)
        ch = chr(rng.randint(lo, hi)).encode("utf-8")
        if len(out) + len(ch) > max_bytes:
            return out or ch
        out += ch
        if rng.random() < 0.05:
            return out


def _binary(rng, length):
    return bytes(rng.randrange(256) for _ in range(length))


def make_keys(seed=20240501):
    """A few thousand distinct keys: ASCII, UTF-8, binary (0x00, CR, LF, >= 0x80), hash-tagged,
    lengths 0..MAX_KEY; deterministic, so a failure names keys that reproduce."""
    rng = random.Random(seed)
    keys = [b""]  # nutcracker accepts the empty key
    keys += [bytes([b]) for b in range(256)]  # every single byte: sign-extension quirks
    keys += [b"key-%d" % i for i in range(400)]
    keys += [b"user:%d:profile" % rng.randrange(10**9) for _ in range(200)]
    keys += [b"apple", b"foo", b"key-1", b"key-2", b"key-3", b"kkk-3"]
    printable = bytes(range(0x20, 0x7f))
    for _ in range(600):
        length = rng.choice([rng.randint(1, 16), rng.randint(1, MAX_KEY)])
        keys.append(bytes(rng.choice(printable) for _ in range(length)))
    keys += [_utf8_text(rng, rng.randint(1, MAX_KEY)) for _ in range(400)]
    for _ in range(600):
        keys.append(_binary(rng, rng.choice([rng.randint(1, 8), rng.randint(1, MAX_KEY)])))
    keys += [bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randint(1, 64)))
             for _ in range(150)]  # every byte >= 0x80
    keys += [b"\x00" * n for n in (2, 3, 17)] + [b"\xff" * n for n in (2, 3, 17)]
    keys += [b"a\r\nb", b"\r\n", b"\n", b"\r", b"$3\r\nSET", b"*1\r\n", b" ", b"a b"]
    # Hash tags: the tag text alone decides placement, unless it is missing or empty.
    for _ in range(400):
        tag = rng.choice([b"user%d" % rng.randrange(50), _binary(rng, rng.randint(1, 6)).replace(
            b"}", b"").replace(b"{", b"") or b"t", _utf8_text(rng, 12).replace(b"}", b"")])
        prefix = _binary(rng, rng.randint(0, 8)).replace(b"{", b"")
        suffix = _binary(rng, rng.randint(0, 8))
        keys.append((prefix + b"{" + tag + b"}" + suffix)[:MAX_KEY])
    keys += [b"{}", b"{}x", b"x{}", b"{", b"}", b"}{", b"}{a", b"{a", b"a}", b"{{a}}", b"{{a}",
             b"{a}}", b"{a}{b}", b"a{b}c{d}", b"{\x80\xff}", b"{\x00}", b"x{}{y}", b"{}{y}",
             b"{user1}", b"{user1}a", b"b{user1}", b"{user1}{user2}", b"{ }", b"{}}", b"{{}}"]
    # For the pools with other tag characters.
    keys += [b"a$b$c", b"$$x", b"x$$", b"$x$", b"$$", b"$", b"a$b", b"[a]b", b"x[a]", b"[]a",
             b"a[b", b"$user1$:x", b"y:$user1$", b"[user1]:x", b"y:[user1]"]
    keys += [b"$%d$%s" % (rng.randrange(30), _binary(rng, 5)) for _ in range(100)]
    unique = list(dict.fromkeys(k for k in keys if len(k) <= MAX_KEY))
    return unique


KEYS = make_keys()


class Scenario:
    """One pool: which backends (by index), weights, explicit names or None, hash options."""

    def __init__(self, ident, hash_name, distribution, backends, weights=None, names=None,
                 hash_tag=None, decoy_pool_first=False):
        self.id = ident
        self.hash = hash_name
        self.distribution = distribution
        self.backends = list(backends)
        self.weights = weights or [1] * len(self.backends)
        self.names = names or [None] * len(self.backends)
        self.hash_tag = hash_tag
        self.decoy_pool_first = decoy_pool_first
        assert len(self.weights) == len(self.backends) == len(self.names)


def _scenarios():
    out = []
    for h in HASHES:
        for d in DISTRIBUTIONS:
            out.append(Scenario("named10-%s-%s" % (h, d), h, d, range(10), names=NAMES[:10]))
            out.append(Scenario("unnamed25-%s-%s" % (h, d), h, d, range(25)))
    weights = [1, 2, 3, 5, 8, 13, 1, 100]
    for h in ("fnv1a_64", "md5", "murmur"):
        for d in DISTRIBUTIONS:
            out.append(Scenario("weights-named-%s-%s" % (h, d), h, d, range(3, 11),
                                weights=weights, names=NAMES[10:18]))
            out.append(Scenario("weights-unnamed-%s-%s" % (h, d), h, d, range(15, 23),
                                weights=weights))
    for d in DISTRIBUTIONS:
        out.append(Scenario("weights25-fnv1a_64-%s" % d, "fnv1a_64", d, range(25),
                            weights=[(i * 7) % 11 + 1 for i in range(25)]))
        out.append(Scenario("named25-md5-%s" % d, "md5", d, range(25), names=NAMES))
        out.append(Scenario("mixed-names-hosts-crc32a-%s" % d, "crc32a", d,
                            [0, 1, 20, 21, 23, 24, 5],
                            names=["b", None, "a", None, None, "127.0.0.1:1", "zz"]))
        out.append(Scenario("second-pool-hsieh-%s" % d, "hsieh", d, range(4, 9),
                            names=NAMES[4:9], decoy_pool_first=True))
    for h in ("fnv1a_64", "crc16", "md5", "murmur", "one_at_a_time", "jenkins"):
        for d in DISTRIBUTIONS:
            out.append(Scenario("hashtag-%s-%s" % (h, d), h, d, range(12), names=NAMES[:12],
                                hash_tag="{}"))
    out.append(Scenario("hashtag-dollar-fnv1a_32-ketama", "fnv1a_32", "ketama", range(6),
                        hash_tag="$$"))
    out.append(Scenario("hashtag-brackets-crc32-modula", "crc32", "modula", range(6),
                        hash_tag="[]"))
    out.append(Scenario("single-server-md5-ketama", "md5", "ketama", [7]))
    return out


SCENARIOS = _scenarios()


@pytest.fixture(scope="module")
def placement_tool():
    path = os.environ.get("PLACEMENT_TOOL") or os.path.join(
        harness.build_dir(), "tests", "integration", "placement_tool")
    if not os.access(path, os.X_OK):
        pytest.fail("placement_tool not built at %s (ninja placement_tool)" % path)
    return path


@pytest.fixture(scope="module")
def backends(module_processes):
    return module_processes.redis_many(BACKEND_HOSTS)


def _server_line(backend, weight, name):
    line = "%s:%d" % (backend.address, weight)
    return line + " " + name if name else line


def _hashing_name(backend, name):
    return name or backend.address


def _pool_options(scenario, backends):
    options = {"hash": scenario.hash, "distribution": scenario.distribution, "redis": True,
               "timeout": 5000, "preconnect": True}
    if scenario.hash_tag:
        options["hash_tag"] = scenario.hash_tag
    options["servers"] = [_server_line(backends[i], w, n) for i, w, n in
                          zip(scenario.backends, scenario.weights, scenario.names)]
    return options


def _write_through(client, keys):
    """SET every key to a value unique to it, pipelined; every reply must be OK."""
    for start in range(0, len(keys), WRITE_BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + WRITE_BATCH, len(keys))):
            pipe.set(keys[i], b"v%d" % i)
        replies = pipe.execute(raise_on_error=False)
        bad = [(keys[start + j], r) for j, r in enumerate(replies) if r is not True]
        assert not bad, "nutcracker refused writes, first: %r" % bad[:5]


def _where_nutcracker_put(backends, owner_names, keys):
    """{key: hashing name of the backend holding it}, checking values and that no key is lost,
    duplicated or found on a backend outside the pool."""
    index_of = {k: i for i, k in enumerate(keys)}
    found = {}
    problems = []
    for b_index, backend in enumerate(backends):
        client = backend.client()
        held = client.keys()
        if not held:
            continue
        if b_index not in owner_names:
            problems.append("backend %s is not in the pool but holds %d keys, e.g. %r" %
                            (backend.address, len(held), held[:3]))
            continue
        values = client.mget(held)
        for key, value in zip(held, values):
            if key not in index_of:
                problems.append("unexpected key %r on %s" % (key, backend.address))
            elif value != b"v%d" % index_of[key]:
                problems.append("key %r on %s has value %r" % (key, backend.address, value))
            elif key in found:
                problems.append("key %r on both %s and %s" % (key, found[key],
                                                               owner_names[b_index]))
            else:
                found[key] = owner_names[b_index]
    missing = [k for k in keys if k not in found]
    if missing:
        problems.append("%d keys on no backend, e.g. %r" % (len(missing), missing[:5]))
    assert not problems, "\n".join(problems[:20])
    return found


def _where_placement_puts(tool, config_path, pool_index, keys):
    stdin = "".join(k.hex() + "\n" for k in keys)
    result = subprocess.run([tool, "--config", config_path, "--pool", str(pool_index)],
                            input=stdin.encode("ascii"), capture_output=True, timeout=60,
                            check=False)
    assert result.returncode == 0, "placement_tool failed (%d): %s" % (
        result.returncode, result.stderr.decode("utf-8", "replace"))
    names = result.stdout.decode("utf-8").split("\n")
    assert names[-1] == "" and len(names) == len(keys) + 1, (
        "placement_tool printed %d lines for %d keys" % (len(names) - 1, len(keys)))
    return dict(zip(keys, names[:-1]))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_placement_matches_nutcracker(scenario, backends, placement_tool, processes):
    for backend in backends:
        backend.client().flushall()

    pools = {}
    if scenario.decoy_pool_first:
        # Its own servers and hash, so reading the wrong pool gives different answers.
        decoy = Scenario("decoy", "crc16", "modula", range(11, 14), names=["d1", "d2", "d3"])
        pools["decoy"] = _pool_options(decoy, backends)
    pools["oracle"] = _pool_options(scenario, backends)
    pool_index = list(pools).index("oracle")
    nutcracker = processes.nutcracker(pools=pools)

    _write_through(nutcracker.client(pool="oracle"), KEYS)
    owner_names = {i: _hashing_name(backends[i], n)
                   for i, n in zip(scenario.backends, scenario.names)}
    actual = _where_nutcracker_put(backends, owner_names, KEYS)
    expected = _where_placement_puts(placement_tool, nutcracker.config_path, pool_index, KEYS)

    differing = [k for k in KEYS if expected[k] != actual[k]]
    if differing:
        lines = ["%d of %d keys differ (%s, %s%s); first ones (key hex: nutcracker -> ringproxy):"
                 % (len(differing), len(KEYS), scenario.hash, scenario.distribution,
                    ", hash_tag %r" % scenario.hash_tag if scenario.hash_tag else "")]
        lines += ["  %r (%s): %s -> %s" % (k, k.hex(), actual[k], expected[k])
                  for k in differing[:15]]
        lines.append("servers used by nutcracker: %s" %
                     dict(collections.Counter(actual.values()).most_common()))
        pytest.fail("\n".join(lines), pytrace=False)
    # A pool of several servers must spread the keys, or the comparison proves little. Except
    # crc32 with ketama: nutcracker's crc32 keeps 15 bits, below nearly every ring point, so one
    # server (the owner of the lowest point) takes every key there.
    if len(scenario.backends) > 1 and (scenario.hash, scenario.distribution) != ("crc32",
                                                                                 "ketama"):
        assert len(set(actual.values())) > 1
