"""`ringproxy -t` and the real `nutcracker -t` (0.5.0) agree on which configuration files are valid.

Every case is written to a temporary file and checked by both binaries. Each case states the
verdict it expects, so the table documents nutcracker's rules and a change on either side fails.
`-t` only parses and checks: it binds no port and connects to nothing, and every host name below
is either numeric, "localhost", or refused by glibc before any DNS query (blanks, brackets).

Expected disagreements are listed apart, each with its reason: memcache pools (ringproxy speaks
Redis only, by design), ringproxy's extension keys (nutcracker refuses each as an unknown
directive) and ringproxy's stricter readings. Examples that use extension keys are listed too.
"""

import os
import subprocess
import tempfile

import pytest

NUTCRACKER_BIN = os.environ.get("NUTCRACKER_BIN", "/usr/sbin/nutcracker")
CHECK_TIMEOUT = 10  # seconds for one -t run
# Every check runs next to a password file and with a password variable, for the cases that
# read the password from one (redis_auth_file / redis_auth_env).
PASSWORD_FILE = "redis-password"
PASSWORD_ENV = "RINGPROXY_AGREE_PASSWORD"
EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                            "examples")


def ringproxy_bin():
    build_dir = os.environ.get("RINGPROXY_BUILD_DIR")
    assert build_dir, "RINGPROXY_BUILD_DIR is not set (run through ctest, or export it)"
    path = os.path.join(build_dir, "proxy", "ringproxy")
    assert os.access(path, os.X_OK), "%s is not built" % path
    return path


def pool(*lines, name="alpha", listen="127.0.0.1:22121", redis="true",
         servers=("127.0.0.1:7001:1",)):
    """A pool with the given directive lines added to a valid minimal one (None leaves a key out)."""
    text = "%s:\n" % name
    if listen is not None:
        text += "  listen: %s\n" % listen
    if redis is not None:
        text += "  redis: %s\n" % redis
    text += "".join("  %s\n" % line for line in lines)
    if servers is not None:
        text += "  servers:\n" + "".join("    - %s\n" % s for s in servers)
    return text


LONG_PATH = "/tmp/" + "s" * 103  # 108 bytes: one more than sun_path holds with its NUL
NUTCRACKER_HASHES = ["one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64", "fnv1a_64",
                     "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins"]

# (id, file text, valid?) -- both binaries must give this verdict.
AGREED = [
    ("minimal", pool(), True),
    ("every_directive", pool("hash: murmur", "hash_tag: \"{}\"", "distribution: modula",
                             "timeout: 400", "backlog: 1024", "client_connections: 100",
                             "tcpkeepalive: true", "redis_auth: s3cret", "redis_db: 3",
                             "preconnect: true", "auto_eject_hosts: true",
                             "server_connections: 4", "server_retry_timeout: 2000",
                             "server_failure_limit: 1"), True),
    ("quoted_values", "alpha:\n  listen: '127.0.0.1:22121'\n  redis: \"true\"\n"
                      "  timeout: \"400\"\n  servers:\n    - \"127.0.0.1:7001:1 a\"\n", True),
    ("servers_first", "alpha:\n  servers:\n    - 127.0.0.1:7001:1\n  redis: true\n"
                      "  listen: 127.0.0.1:22121\n", True),
    ("two_pools", pool() + pool(name="beta", listen="127.0.0.1:22122"), True),
    ("leading_zeros", pool("timeout: 0400", listen="127.0.0.1:022121",
                           servers=["127.0.0.1:07001:01"]), True),
    ("largest_number", pool("server_retry_timeout: 2147483647"), True),
    ("zero_timeout", pool("timeout: 0"), True),
    ("password_null", pool("redis_auth: null"), True),
    ("password_tilde", pool("redis_auth: ~"), True),
    ("pool_named_tilde", pool(name="~"), True),
    ("unix_listen", pool(listen="/tmp/ringproxy-agree.sock"), True),
    ("unix_listen_permissions", pool(listen="/tmp/ringproxy-agree.sock 0660"), True),
    ("unix_listen_permissions_not_octal", pool(listen="/tmp/ringproxy-agree.sock abc"), True),
    ("unix_listen_permissions_octal_prefix", pool(listen="/tmp/ringproxy-agree.sock 0644x"),
     True),
    ("ipv6_listen", pool(listen="::1:22121"), True),
    ("localhost_listen", pool(listen="localhost:22121"), True),
    ("unix_server", pool(servers=["/tmp/redis-agree.sock:1", "/tmp/redis-agree-2.sock:2 b"]),
     True),
    ("ipv6_server", pool(servers=["::1:6379:1"]), True),
    ("memcached_port_server", pool(servers=["127.0.0.1:11211:1", "127.0.0.1:11212:1"]), True),
    ("empty_explicit_name", pool(servers=["'127.0.0.1:7001:1 '"]), True),
    ("same_address_two_names", pool(servers=["127.0.0.1:7001:1 a", "127.0.0.1:7001:1 b"]), True),
    ("heavy_weight", pool(servers=["127.0.0.1:7001:100000", "127.0.0.1:7002:1"]), True),
    ("comments_and_blank_lines", "# pools\n\nalpha:  # one\n  listen: 127.0.0.1:22121  # lo\n\n"
                                 "  redis: true\n  servers:\n  - 127.0.0.1:7001:1\n", True),
    ("byte_order_mark", "\ufeff" + pool(), True),
    ("block_scalar_password", "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
                              "  redis_auth: |-\n    s3cret\n  servers:\n"
                              "    - 127.0.0.1:7001:1\n", True),
    # The document as a whole.
    ("empty_file", "", False),
    ("only_comments", "# nothing\n", False),
    ("top_level_scalar", "alpha\n", False),
    ("top_level_list", "- alpha\n- beta\n", False),
    ("pool_is_scalar", "alpha: 127.0.0.1:22121\n", False),
    ("pool_is_empty", "alpha:\n", False),
    ("pool_is_list", "alpha:\n  - listen\n", False),
    ("empty_pool_name", "\"\":\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n"
                        "    - 127.0.0.1:7001:1\n", False),
    ("document_start", "---\n" + pool(), False),
    ("document_end", pool() + "...\n", False),
    ("flow_list", "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n"
                  "  servers: [127.0.0.1:7001:1]\n", False),
    ("flow_mapping", "alpha: {listen: 127.0.0.1:22121, redis: true}\n", False),
    ("anchor", pool("hash: &h md5"), False),
    ("alias", pool("hash: md5") + pool("hash: *h", name="beta", listen="127.0.0.1:22122"),
     False),
    ("tag", pool("hash: !!str md5"), False),
    ("bad_indentation", "alpha:\n  listen: 127.0.0.1:22121\n redis: true\n", False),
    ("tab_indentation", "alpha:\n\tlisten: 127.0.0.1:22121\n", False),
    ("unclosed_quote", pool() + "beta:\n  listen: \"127.0.0.1:22122\n", False),
    # Directives.
    ("unknown_directive", pool("hsah: md5"), False),
    ("directive_case", pool("Hash: md5"), False),
    ("duplicate_directive", pool("hash: md5", "hash: crc32"), False),
    ("duplicate_servers", pool("servers:", "  - 127.0.0.1:7002:1"), False),
    ("empty_value", pool("hash:"), False),
    ("empty_quoted_value", pool("hash_tag: \"\""), False),
    ("value_is_mapping", pool("hash:", "  name: md5"), False),
    ("value_is_list_besides_servers", pool("hash:", "  - md5"), False),
    ("unknown_hash", pool("hash: fnv1a64"), False),
    ("hash_case", pool("hash: MD5"), False),
    ("unknown_distribution", pool("distribution: consistent"), False),
    ("hash_tag_one_char", pool("hash_tag: \"{\""), False),
    ("hash_tag_three_chars", pool("hash_tag: \"{}}\""), False),
    ("hash_tag_two_non_ascii_chars", pool("hash_tag: \"\u00ab\u00bb\""), False),
    ("negative_timeout", pool("timeout: -1"), False),
    ("fractional_timeout", pool("timeout: 1.5"), False),
    ("number_with_plus", pool("backlog: +10"), False),
    ("number_with_blank", pool("backlog: \" 10\""), False),
    ("number_wraps_negative", pool("backlog: 2147483648"), False),
    ("null_timeout", pool("timeout: ~"), False),
    ("boolean_yes", pool("preconnect: yes"), False),
    ("boolean_capitalised", pool("tcpkeepalive: True"), False),
    ("boolean_one", pool("auto_eject_hosts: 1"), False),
    ("zero_server_connections", pool("server_connections: 0"), False),
    ("redis_auth_on_memcache_pool", pool("redis_auth: pw", redis="false"), False),
    # listen
    ("missing_listen", pool(listen=None), False),
    ("listen_without_port", pool(listen="127.0.0.1"), False),
    ("listen_port_zero", pool(listen="127.0.0.1:0"), False),
    ("listen_port_too_large", pool(listen="127.0.0.1:65536"), False),
    ("listen_port_not_a_number", pool(listen="127.0.0.1:redis"), False),
    ("listen_host_unresolvable", pool(listen="\"no such host:22121\""), False),
    ("listen_host_bracketed", pool(listen="\"[::1]:22121\""), False),
    ("listen_host_empty", pool(listen="\":22121\""), False),
    ("listen_unix_permissions_too_large", pool(listen="/tmp/r.sock 1777"), False),
    ("listen_unix_permissions_negative", pool(listen="/tmp/r.sock -1"), False),
    ("listen_unix_path_too_long", pool(listen=LONG_PATH), False),
    # servers
    ("missing_servers", pool(servers=None), False),
    ("servers_empty", pool("servers:", servers=None), False),
    ("server_entry_mapping", pool(servers=["host: 127.0.0.1"]), False),
    ("server_entry_empty", pool(servers=["\"\""]), False),
    ("server_without_weight", pool(servers=["127.0.0.1:7001"]), False),
    ("server_zero_weight", pool(servers=["127.0.0.1:7001:0"]), False),
    ("server_negative_weight", pool(servers=["127.0.0.1:7001:-1"]), False),
    ("server_port_zero", pool(servers=["127.0.0.1:0:1"]), False),
    ("server_port_too_large", pool(servers=["127.0.0.1:99999:1"]), False),
    ("server_name_with_blank", pool(servers=["127.0.0.1:7001:1 two words"]), False),
    ("server_name_after_tab", pool(servers=["\"127.0.0.1:7001:1\\tname\""]), False),
    ("server_host_with_blank", pool(servers=["my host:7001:1"]), False),
    ("unix_server_path_with_colon", pool(servers=["/tmp/a:b:1"]), False),
    ("duplicate_explicit_names", pool(servers=["127.0.0.1:7001:1 s", "127.0.0.1:7002:1 s"]),
     False),
    ("duplicate_implicit_names", pool(servers=["127.0.0.1:7001:1", "127.0.0.1:7001:2"]), False),
    ("name_equal_to_another_address",
     pool(servers=["127.0.0.1:7001:1", "127.0.0.1:7002:1 127.0.0.1:7001"]), False),
    # Across pools.
    ("same_pool_name_twice", pool() + pool(listen="127.0.0.1:22122"), False),
    ("same_listen_twice", pool() + pool(name="beta"), False),
] + [
    ("hash_" + name, pool("hash: " + name), True) for name in NUTCRACKER_HASHES
] + [
    ("distribution_" + name, pool("distribution: " + name), True)
    for name in ("ketama", "modula", "random")
]

# (id, file text, nutcracker's verdict, ringproxy's verdict, why they differ)
DIVERGENT = [
    ("memcache_by_default", pool(redis=None), True, False,
     "a pool without redis: true is memcache; ringproxy speaks Redis only"),
    ("memcache_explicit", pool(redis="false"), True, False,
     "redis: false is memcache; ringproxy speaks Redis only"),
    ("hash_xxh3", pool("hash: xxh3"), False, True, "xxh3 is ringproxy's addition"),
    ("reuseport", pool("reuseport: true"), False, True,
     "twemproxy added reuseport after 0.5.0; ringproxy accepts it"),
    ("number_wraps_to_valid", pool("backlog: 4294967297"), True, False,
     "nutcracker's int overflow turns 4294967297 into 1; ringproxy refuses numbers above "
     "2147483647"),
    ("same_port_written_differently", pool() + pool(name="beta", listen="localhost:22121"),
     True, False, "nutcracker compares listen values as written and fails only when it starts "
     "(Address already in use at the second bind); ringproxy resolves them and says so at -t"),
    ("servers_scalar_with_another_list", pool("hash:", "  - md5", "servers: 127.0.0.1:7001:1",
                                              servers=None), True, False,
     "nutcracker only needs one list per pool, under any key; ringproxy requires servers to be "
     "the list and every other value to be single"),
    # ringproxy's extension keys: unknown directives to nutcracker.
    ("statefulset", pool("statefulset:", "  service: redis-headless", "  replicas: 3",
                         servers=None), False, True,
     "statefulset is ringproxy's extension: the pods of a StatefulSet as servers"),
    ("statefulset_flow", pool("statefulset: {service: redis-headless, replicas: 3, "
                              "namespace: default}", servers=None), False, True,
     "statefulset is ringproxy's extension, and its value may be a flow mapping"),
    ("srv", pool("srv: _redis._tcp.redis-headless.default.svc.cluster.local", servers=None),
     False, True, "srv is ringproxy's extension: members discovered through DNS SRV"),
    ("redis_auth_file", pool("redis_auth_file: " + PASSWORD_FILE), False, True,
     "redis_auth_file is ringproxy's extension: the password from a file"),
    ("redis_auth_env", pool("redis_auth_env: " + PASSWORD_ENV), False, True,
     "redis_auth_env is ringproxy's extension: the password from the environment"),
    ("server_auth_user", pool("redis_auth: s3cret", "server_auth_user: proxy"), False, True,
     "server_auth_user is ringproxy's extension: a Redis ACL user toward the servers"),
    ("max_clients", pool("max_clients: 100"), False, True,
     "max_clients is ringproxy's extension: a limit on client connections"),
    ("client_idle_timeout", pool("client_idle_timeout: 60000"), False, True,
     "client_idle_timeout is ringproxy's extension: idle clients are closed"),
]

# Examples that use ringproxy's extension keys, with why nutcracker refuses them.
RINGPROXY_ONLY_EXAMPLES = {
    "kubernetes-statefulset-shorthand.yml": "statefulset and srv are ringproxy's extensions",
    "acl-user.yml": "redis_auth_file and the server_auth keys are ringproxy's extensions",
}


def run_check(binary, path):
    return subprocess.run([binary, "-t", "-c", path], capture_output=True, text=True,
                          timeout=CHECK_TIMEOUT, check=False,
                          env=dict(os.environ, **{PASSWORD_ENV: "s3cret"}))


def verdicts(text):
    with tempfile.TemporaryDirectory(prefix="ringproxy-agree-") as tmp:
        path = os.path.join(tmp, "conf.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(tmp, PASSWORD_FILE), "w", encoding="utf-8") as f:
            f.write("s3cret\n")
        nutcracker = run_check(NUTCRACKER_BIN, path)
        ringproxy = run_check(ringproxy_bin(), path)
    assert nutcracker.returncode in (0, 1), nutcracker
    assert ringproxy.returncode in (0, 2), ringproxy
    return nutcracker.returncode == 0, ringproxy.returncode == 0, ringproxy


@pytest.mark.parametrize("text,valid", [(t, v) for _, t, v in AGREED],
                         ids=[i for i, _, _ in AGREED])
def test_both_give_the_expected_verdict(text, valid):
    nutcracker_ok, ringproxy_ok, ringproxy = verdicts(text)
    assert nutcracker_ok == valid, "nutcracker's verdict is not the one this table documents"
    assert ringproxy_ok == valid, ringproxy.stderr


@pytest.mark.parametrize("text,nutcracker_valid,ringproxy_valid,reason",
                         [(t, n, r, why) for _, t, n, r, why in DIVERGENT],
                         ids=[i for i, _, _, _, _ in DIVERGENT])
def test_known_divergence(text, nutcracker_valid, ringproxy_valid, reason):
    nutcracker_ok, ringproxy_ok, ringproxy = verdicts(text)
    assert nutcracker_ok == nutcracker_valid, reason
    assert ringproxy_ok == ringproxy_valid, reason + "\n" + ringproxy.stderr


def test_memcache_pool_is_refused_with_a_message_naming_redis():
    _, _, ringproxy = verdicts(pool(redis=None))
    assert "ringproxy speaks Redis only" in ringproxy.stderr


EXAMPLES = sorted(f for f in os.listdir(EXAMPLES_DIR) if f.endswith(".yml"))


@pytest.mark.parametrize("name", [f for f in EXAMPLES if f not in RINGPROXY_ONLY_EXAMPLES])
def test_every_example_is_valid_for_both(name):
    path = os.path.join(EXAMPLES_DIR, name)
    assert run_check(NUTCRACKER_BIN, path).returncode == 0
    ringproxy = run_check(ringproxy_bin(), path)
    assert ringproxy.returncode == 0, ringproxy.stderr


@pytest.mark.parametrize("name", sorted(RINGPROXY_ONLY_EXAMPLES))
def test_ringproxy_only_examples_are_valid_for_ringproxy_alone(name):
    path = os.path.join(EXAMPLES_DIR, name)
    # Refused by nutcracker, or the example belongs with the others.
    assert run_check(NUTCRACKER_BIN, path).returncode == 1, RINGPROXY_ONLY_EXAMPLES[name]
    ringproxy = run_check(ringproxy_bin(), path)
    assert ringproxy.returncode == 0, ringproxy.stderr


def test_ringproxy_names_the_missing_password_file_and_its_position():
    with tempfile.TemporaryDirectory(prefix="ringproxy-agree-") as tmp:
        path = os.path.join(tmp, "conf.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(pool("redis_auth_file: secrets/pw"))
        result = run_check(ringproxy_bin(), path)
    assert result.returncode == 2
    missing = os.path.join(tmp, "secrets", "pw")
    assert result.stderr.splitlines()[0] == (
        "%s:4:20: redis_auth_file \"secrets/pw\" cannot be opened (%s): No such file or directory"
        % (path, missing)), result.stderr


def test_ringproxy_reports_ok_on_stdout():
    with tempfile.TemporaryDirectory(prefix="ringproxy-agree-") as tmp:
        path = os.path.join(tmp, "conf.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(pool())
        result = run_check(ringproxy_bin(), path)
    assert result.returncode == 0
    assert result.stdout == "ringproxy: configuration file '%s' syntax is ok\n" % path
    assert result.stderr == ""


def test_ringproxy_reports_the_position_and_invalid_on_stderr():
    with tempfile.TemporaryDirectory(prefix="ringproxy-agree-") as tmp:
        path = os.path.join(tmp, "conf.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(pool("hash: fnv1a64"))
        result = run_check(ringproxy_bin(), path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("%s:4:9: hash \"fnv1a64\" is not one of: " % path), lines
    assert lines[1] == "ringproxy: configuration file '%s' syntax is invalid" % path


def test_ringproxy_reports_a_missing_file():
    with tempfile.TemporaryDirectory(prefix="ringproxy-agree-") as tmp:
        path = os.path.join(tmp, "absent.yml")
        result = run_check(ringproxy_bin(), path)
        assert run_check(NUTCRACKER_BIN, path).returncode == 1
    assert result.returncode == 2
    assert "cannot open the configuration file: No such file or directory" in result.stderr
