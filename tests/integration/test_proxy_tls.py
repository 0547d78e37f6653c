"""TLS on both sides of the proxy, end to end with real peers.

Clients: redis-cli --tls and Python's ssl module (through the redis package and raw sockets)
against a pool with `tls:`. Servers: redis-server with TLS only (--port 0 --tls-port, client
certificates required, as its default tls-auth-clients yes asks) behind a pool with
`server_tls:`. Certificates come from a throwaway CA made with the openssl command for each
test module; a second, unrelated CA stands for an impostor. Also the defences: handshakes that
stall are closed in time (thousands at once, memory returned), the cipher suites offered, the
alert a refused handshake gets, and no core dump of a process holding private keys.
"""

import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest
import redis

import proxy_testing
from harness import free_port, wait_until
from proxy_testing import encode

REDIS_CLI = "redis-cli"


# ---- certificates -------------------------------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class Ca:
    """A CA (EC P-256, two days) that issues certificates for names and addresses into `root`."""

    def __init__(self, root, name):
        self.root = root
        self.name = name
        self.cert = os.path.join(root, name + "-ca.crt")
        self.key = os.path.join(root, name + "-ca.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
                 "-subj", "/CN=%s test CA" % name, cwd=root)

    def issue(self, stem, common_name, alt_names, rsa=False):
        """Writes <stem>.crt and <stem>.key (EC P-256, or RSA 2048); returns their paths."""
        cert = os.path.join(self.root, stem + ".crt")
        key = os.path.join(self.root, stem + ".key")
        csr = os.path.join(self.root, stem + ".csr")
        ext = os.path.join(self.root, stem + ".ext")
        with open(ext, "w", encoding="utf-8") as f:
            f.write("subjectAltName=%s\n" % ",".join(alt_names))
        key_args = (["-newkey", "rsa:2048"] if rsa else
                    ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        _openssl("req", *key_args, "-nodes",
                 "-keyout", key, "-out", csr, "-subj", "/CN=%s" % common_name, cwd=self.root)
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                 "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext, cwd=self.root)
        return cert, key


@pytest.fixture(scope="module")
def pki(module_processes):
    root = os.path.join(module_processes.root, "pki")
    os.makedirs(root)
    ca = Ca(root, "good")
    impostor = Ca(root, "impostor")
    server = ca.issue("server", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
    client = ca.issue("client", "client", ["DNS:client"])
    forged = impostor.issue("forged", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
    rsa_server = ca.issue("rsa-server", "localhost", ["DNS:localhost", "IP:127.0.0.1"], rsa=True)
    return {"ca": ca, "impostor": impostor, "server": server, "client": client, "forged": forged,
            "rsa_server": rsa_server}


# ---- peers --------------------------------------------------------------------------------------

def start_tls_redis(group, cert_pair, ca_cert):
    """A redis-server that speaks TLS only, on 127.0.0.1:<tls_port>, and requires a client
    certificate signed by `ca_cert`."""
    tls_port = free_port()
    cert, key = cert_pair
    server = group.redis(start=False, extra_args=[
        "--port", "0", "--tls-port", str(tls_port), "--tls-cert-file", cert,
        "--tls-key-file", key, "--tls-ca-cert-file", ca_cert])
    # The harness's probe speaks plain TCP; this server answers on its TLS port only.
    server._wait_ready = lambda: server.wait_listening([tls_port])  # pylint: disable=protected-access
    server.start()
    server.tls_port = tls_port
    server.tls_address = "127.0.0.1:%d" % tls_port
    return server


def tls_backend_client(server, pki):
    cert, key = pki["client"]
    return redis.Redis(host="127.0.0.1", port=server.tls_port, ssl=True,
                       ssl_ca_certs=pki["ca"].cert, ssl_certfile=cert, ssl_keyfile=key,
                       socket_timeout=10)


def tls_client(port, pki, **kwargs):
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=pki["ca"].cert,
                       socket_timeout=10, socket_connect_timeout=5, **kwargs)


def redis_cli(port, *args, tls_args=()):
    result = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *tls_args, *args],
                            capture_output=True, timeout=20, check=False)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def pool(servers, **options):
    base = {"redis": True, "hash": "fnv1a_64", "distribution": "ketama", "timeout": 5000}
    base.update(options)
    base["servers"] = servers
    return base


def tls_handshake_peer_cert(port, ca_file):
    """Opens a TLS connection to the proxy and returns the DER certificate it presented."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def der_of(cert_path):
    with open(cert_path, encoding="ascii") as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


# ---- clients over TLS ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client_side(module_processes, pki):
    shards = [module_processes.redis() for _ in range(3)]
    cert, key = pki["server"]
    servers = ["%s:1 shard-%d" % (s.address, i) for i, s in enumerate(shards)]
    # -i 0: the stats document is fresh at every read (the counters are checked).
    proxy = module_processes.ringproxy(workers=2, extra_args=["-i", "0"], pools={
        "tls": pool(servers, tls={"cert_file": cert, "key_file": key}),
        "mtls": pool(servers, tls={"cert_file": cert, "key_file": key,
                                   "ca_file": pki["ca"].cert, "auth_clients": True}),
        "plain": pool(servers),
    })
    return proxy, shards


def test_redis_cli_over_tls_reaches_the_shard_owning_the_key(client_side, pki):
    proxy, shards = client_side
    tls_args = ["--tls", "--cacert", pki["ca"].cert]
    for i in range(20):
        code, out, err = redis_cli(proxy.ports["tls"], "SET", "cli:%d" % i, "value-%d" % i,
                                   tls_args=tls_args)
        assert (code, out.strip()) == (0, "OK"), err
    # Every key landed on a shard, readable directly and through the plain pool alike.
    plain = proxy.client(pool="plain")
    for i in range(20):
        assert plain.get("cli:%d" % i) == b"value-%d" % i
        assert sum(s.client().exists("cli:%d" % i) for s in shards) == 1
    code, out, _ = redis_cli(proxy.ports["tls"], "GET", "cli:7", tls_args=tls_args)
    assert (code, out.strip()) == (0, "value-7")


def test_pipelined_replies_over_tls_belong_to_their_requests(client_side, pki):
    proxy, _ = client_side
    client = tls_client(proxy.ports["tls"], pki)
    # Values from 1 byte to 200 KB: replies span many TLS records and several socket reads.
    sizes = [1, 100, 16 * 1024 - 1, 16 * 1024 + 7, 200 * 1024]
    pipe = client.pipeline(transaction=False)
    expected = {}
    for i in range(2000):
        key = "pipe:%d" % i
        value = (b"%d:" % i) * (sizes[i % len(sizes)] // 6 + 1)
        expected[key] = value
        pipe.set(key, value)
    assert pipe.execute() == [True] * 2000
    pipe = client.pipeline(transaction=False)
    for key in expected:
        pipe.get(key)
    assert pipe.execute() == list(expected.values())
    keys = list(expected)[:50]
    assert client.mget(keys) == [expected[k] for k in keys]


def test_a_plaintext_client_on_a_tls_pool_is_refused_and_others_are_unaffected(client_side, pki):
    proxy, _ = client_side
    with socket.create_connection(("127.0.0.1", proxy.ports["tls"]), timeout=5) as raw:
        raw.sendall(encode("PING"))
        # The proxy reads a TLS record header where "*1\r\n" is, fails the handshake and closes.
        received = b""
        while True:
            chunk = raw.recv(4096)
            if not chunk:
                break
            received += chunk
        assert b"PONG" not in received
    assert tls_client(proxy.ports["tls"], pki).ping() is True


def test_client_certificates_are_required_when_auth_clients_is_true(client_side, pki):
    proxy, _ = client_side
    port = proxy.ports["mtls"]
    code, out, err = redis_cli(port, "PING", tls_args=["--tls", "--cacert", pki["ca"].cert])
    assert "PONG" not in out, (code, out, err)
    cert, key = pki["client"]
    code, out, err = redis_cli(port, "PING", tls_args=["--tls", "--cacert", pki["ca"].cert,
                                                       "--cert", cert, "--key", key])
    assert (code, out.strip()) == (0, "PONG"), err
    # A certificate from another CA is no better than none.
    forged_cert, forged_key = pki["forged"]
    code, out, err = redis_cli(port, "PING", tls_args=["--tls", "--cacert", pki["ca"].cert,
                                                       "--cert", forged_cert, "--key",
                                                       forged_key])
    assert "PONG" not in out, (code, out, err)


def test_client_tls_failures_are_counted_not_fatal(client_side, pki):
    proxy, _ = client_side
    before = proxy.stats()["mtls"]["client_err"]
    code, out, _ = redis_cli(proxy.ports["mtls"], "PING",
                             tls_args=["--tls", "--cacert", pki["ca"].cert])
    assert "PONG" not in out
    wait_until(lambda: proxy.stats()["mtls"]["client_err"] > before, 5,
               "the refused handshake to be counted in client_err")
    assert proxy.running()


# ---- the proxy over TLS to its shards -----------------------------------------------------------

@pytest.fixture(scope="module")
def server_side(module_processes, pki):
    shards = [start_tls_redis(module_processes, pki["server"], pki["ca"].cert) for _ in range(3)]
    impostor = start_tls_redis(module_processes, pki["forged"], pki["ca"].cert)
    cert, key = pki["client"]
    verified = {"ca_file": pki["ca"].cert, "cert_file": cert, "key_file": key}
    servers = ["%s:1 shard-%d" % (s.tls_address, i) for i, s in enumerate(shards)]
    server_cert, server_key = pki["server"]
    proxy = module_processes.ringproxy(workers=2, pools={
        "verified": pool(servers, server_tls=verified),
        "by_name": pool(servers, server_tls=dict(verified, server_name="localhost")),
        "wrong_name": pool(servers, server_tls=dict(verified, server_name="other.example")),
        "impostor": pool(["%s:1 shard-0" % impostor.tls_address], server_tls=verified),
        "unverified": pool(["%s:1 shard-0" % impostor.tls_address],
                           server_tls={"cert_file": cert, "key_file": key, "verify": False}),
        "end_to_end": pool(servers, server_tls=verified,
                           tls={"cert_file": server_cert, "key_file": server_key}),
    })
    return proxy, shards, impostor


def test_requests_reach_tls_shards_and_replies_come_back(server_side, pki):
    proxy, shards, _ = server_side
    client = proxy.client(pool="verified")
    pipe = client.pipeline(transaction=False)
    for i in range(500):
        pipe.set("srv:%d" % i, "v%d" % i)
    assert pipe.execute() == [True] * 500
    assert client.mget(["srv:%d" % i for i in range(500)]) == [b"v%d" % i for i in range(500)]
    direct = [tls_backend_client(s, pki) for s in shards]
    counts = [c.dbsize() for c in direct]
    assert sum(counts) == 500 and all(counts), counts  # spread over every shard
    for i in range(0, 500, 37):
        assert sum(c.get("srv:%d" % i) == b"v%d" % i for c in direct) == 1
    assert proxy.client(pool="by_name").get("srv:3") == b"v3"


def test_a_server_certificate_not_matching_the_name_is_refused(server_side):
    proxy, _, _ = server_side
    client = proxy.client(pool="wrong_name")
    with pytest.raises(redis.exceptions.ResponseError) as error:
        client.get("anything")
    assert "Protocol error" in str(error.value)
    wait_until(lambda: "TLS handshake failed" in proxy.logs(400) and
               "hostname mismatch" in proxy.logs(400), 5,
               "the log to say why the handshake failed")


def test_a_server_certificate_from_another_ca_is_refused_unless_verify_is_false(server_side):
    proxy, _, _ = server_side
    with pytest.raises(redis.exceptions.ResponseError) as error:
        proxy.client(pool="impostor").set("k", "v")
    assert "Protocol error" in str(error.value)
    wait_until(lambda: "certificate verify failed" in proxy.logs(400), 5,
               "the log to name the verification failure")
    # verify: false encrypts without authenticating: the same server is then usable.
    unverified = proxy.client(pool="unverified")
    assert unverified.set("k", "through-unverified") is True
    assert unverified.get("k") == b"through-unverified"


def test_tls_on_both_sides_with_redis_cli(server_side, pki):
    proxy, shards, _ = server_side
    tls_args = ["--tls", "--cacert", pki["ca"].cert]
    code, out, err = redis_cli(proxy.ports["end_to_end"], "SET", "both", "sides",
                               tls_args=tls_args)
    assert (code, out.strip()) == (0, "OK"), err
    code, out, err = redis_cli(proxy.ports["end_to_end"], "GET", "both", tls_args=tls_args)
    assert (code, out.strip()) == (0, "sides"), err
    assert sum(tls_backend_client(s, pki).get("both") == b"sides" for s in shards) == 1


def test_a_restarted_tls_shard_is_reconnected(server_side, pki):
    proxy, shards, _ = server_side
    client = proxy.client(pool="verified")
    assert client.set("restart:probe", "1") is True
    owner = next(s for s in shards if tls_backend_client(s, pki).exists("restart:probe"))
    owner.restart()  # same TLS port (fixed in its arguments); the data is gone

    def answers():
        try:
            return client.set("restart:probe", "2") is True
        except redis.exceptions.ResponseError:
            return False  # the old connection's failure, reported once

    wait_until(answers, 10, "the restarted shard to be reached again over TLS")
    assert client.get("restart:probe") == b"2"


# ---- certificates renewed while running ---------------------------------------------------------

def test_a_renewed_certificate_is_served_without_a_restart(processes, pki):
    shard = processes.redis()
    ca = pki["ca"]
    live_dir = os.path.join(processes.root, "live-tls")
    os.makedirs(live_dir)
    first = ca.issue("first", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
    second = ca.issue("second", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
    cert_path = os.path.join(live_dir, "tls.crt")
    key_path = os.path.join(live_dir, "tls.key")

    def install(pair):
        # As a Secret volume update does: new files renamed into place, never half written.
        for source, target in zip(pair, (cert_path, key_path)):
            with open(source, "rb") as f:
                data = f.read()
            with open(target + ".tmp", "wb") as f:
                f.write(data)
            os.rename(target + ".tmp", target)

    install(first)
    proxy = processes.ringproxy(workers=2, verbosity=5, pools={"p": pool(
        ["%s:1 shard-0" % shard.address], tls={"cert_file": cert_path, "key_file": key_path})})
    assert tls_handshake_peer_cert(proxy.port, ca.cert) == der_of(first[0])
    kept = tls_client(proxy.port, pki)
    assert kept.set("renewal", "before") is True

    install(second)
    wait_until(lambda: tls_handshake_peer_cert(proxy.port, ca.cert) == der_of(second[0]), 10,
               "new connections to be offered the renewed certificate")
    # The connection made before the renewal goes on with its session.
    assert kept.get("renewal") == b"before"
    assert "reload (TLS file change)" in proxy.logs(200)

    # A broken renewal (key of another certificate) is refused; the running one stays.
    with open(first[1], "rb") as f:
        mismatched = f.read()
    with open(key_path + ".tmp", "wb") as f:
        f.write(mismatched)
    os.rename(key_path + ".tmp", key_path)
    wait_until(lambda: "reload (TLS file change) rejected" in proxy.logs(200) and
               "tls key_file '%s'" % key_path in proxy.logs(200), 10,
               "the mismatched key to be reported")
    assert tls_handshake_peer_cert(proxy.port, ca.cert) == der_of(second[0])
    assert tls_client(proxy.port, pki).get("renewal") == b"before"


def test_unusable_tls_files_fail_the_configuration_check(processes, pki, build_dir):
    config = os.path.join(processes.root, "bad-tls.yml")
    missing = os.path.join(processes.root, "no-such.crt")
    with open(config, "w", encoding="utf-8") as f:
        f.write("p:\n  listen: 127.0.0.1:%d\n  redis: true\n  tls:\n    cert_file: %s\n"
                "    key_file: %s\n  servers:\n   - 127.0.0.1:6379:1\n"
                % (free_port(), missing, pki["server"][1]))
    binary = os.path.join(build_dir, "proxy", "ringproxy")
    result = subprocess.run([binary, "-t", "-c", config], capture_output=True, timeout=10,
                            check=False)
    assert result.returncode == 2
    assert b"tls cert_file '" + missing.encode() + b"'" in result.stderr
    # And the proxy refuses to start on it, with the same reason.
    result = subprocess.run([binary, "-c", config, "-s", str(free_port()), "--workers", "1"],
                            capture_output=True, timeout=10, check=False)
    assert result.returncode == 2
    assert b"no-such.crt" in result.stderr


# ---- defences -----------------------------------------------------------------------------------

# The first 6 bytes of a ClientHello: a record header announcing 512 bytes, and the message type.
STALLED_HELLO = b"\x16\x03\x01\x02\x00\x01"


def handshake_error(port, ca_file, ciphers=None, cert_pair=None, tls12=False):
    """Connects with Python's ssl and sends a PING; returns the reason of the ssl error the
    client ends with, or "ok" when PING is answered."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        context.set_ciphers(ciphers)
    if cert_pair:
        context.load_cert_chain(*cert_pair)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                tls.sendall(encode("PING"))
                reply = tls.recv(64)
                return "ok" if reply == b"+PONG\r\n" else "reply %r" % reply
    except ssl.SSLError as exc:
        return exc.reason or str(exc)
    except OSError as exc:  # a close without an alert
        return "%s: %s" % (type(exc).__name__, exc)


def test_a_refused_client_certificate_gets_its_alert_before_the_close(client_side, pki):
    proxy, _ = client_side
    # TLS 1.3: the client's side of the handshake completes before the proxy checks for a
    # certificate; only the alert tells it why the connection then ends.
    assert handshake_error(proxy.ports["mtls"], pki["ca"].cert) == \
        "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    assert handshake_error(proxy.ports["mtls"], pki["ca"].cert, cert_pair=pki["forged"]) == \
        "TLSV1_ALERT_UNKNOWN_CA"
    assert handshake_error(proxy.ports["mtls"], pki["ca"].cert, cert_pair=pki["client"]) == "ok"


def test_static_rsa_and_cbc_sha1_suites_are_not_offered_by_default(processes, pki):
    shard = processes.redis()
    servers = ["%s:1 shard-0" % shard.address]
    rsa_cert, rsa_key = pki["rsa_server"]
    ec_cert, ec_key = pki["server"]
    proxy = processes.ringproxy(workers=1, pools={
        "rsa": pool(servers, tls={"cert_file": rsa_cert, "key_file": rsa_key}),
        "ec": pool(servers, tls={"cert_file": ec_cert, "key_file": ec_key}),
    })
    ca = pki["ca"].cert
    # TLS 1.2 with forward secrecy and AEAD is agreed, with either key type.
    assert handshake_error(proxy.ports["rsa"], ca, "ECDHE-RSA-AES128-GCM-SHA256", tls12=True) == \
        "ok"
    assert handshake_error(proxy.ports["ec"], ca, "ECDHE-ECDSA-AES256-GCM-SHA384",
                           tls12=True) == "ok"
    # Static RSA key exchange, and CBC with SHA-1: refused, with the alert that says so.
    for port, suite in ((proxy.ports["rsa"], "AES128-GCM-SHA256"),
                        (proxy.ports["rsa"], "AES256-SHA"),
                        (proxy.ports["ec"], "ECDHE-ECDSA-AES128-SHA")):
        assert handshake_error(port, ca, suite, tls12=True) == "SSLV3_ALERT_HANDSHAKE_FAILURE", \
            suite
    # TLS 1.3 keeps OpenSSL's suites.
    assert handshake_error(proxy.ports["ec"], ca) == "ok"


def test_tls_ciphers_is_what_a_pool_serving_an_old_client_sets(processes, pki):
    shard = processes.redis()
    cert, key = pki["server"]
    proxy = processes.ringproxy(workers=1, pools={"legacy": pool(
        ["%s:1 shard-0" % shard.address],
        tls={"cert_file": cert, "key_file": key, "ciphers": "ECDHE-ECDSA-AES128-SHA"})})
    ca = pki["ca"].cert
    assert handshake_error(proxy.port, ca, "ECDHE-ECDSA-AES128-SHA", tls12=True) == "ok"
    # Only what the list names: a TLS 1.2 client without that suite finds none in common.
    assert handshake_error(proxy.port, ca, "ECDHE-ECDSA-AES128-GCM-SHA256", tls12=True) == \
        "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_a_cipher_list_that_names_nothing_fails_the_configuration_check(processes, pki,
                                                                       build_dir):
    config = os.path.join(processes.root, "bad-ciphers.yml")
    cert, key = pki["server"]
    with open(config, "w", encoding="utf-8") as f:
        f.write("p:\n  listen: 127.0.0.1:%d\n  redis: true\n  tls:\n    cert_file: %s\n"
                "    key_file: %s\n    ciphers: NO-SUCH-CIPHER\n  servers:\n   - 127.0.0.1:6379:1\n"
                % (free_port(), cert, key))
    result = subprocess.run([os.path.join(build_dir, "proxy", "ringproxy"), "-t", "-c", config],
                            capture_output=True, timeout=10, check=False)
    assert result.returncode == 2
    assert b"tls ciphers 'NO-SUCH-CIPHER'" in result.stderr, result.stderr


def open_stalled_handshakes(port, count):
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(STALLED_HELLO)
        s.setblocking(False)
        sockets.append(s)
    return sockets


def closed_by_peer(s):
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_thousands_of_stalled_handshakes_are_closed_in_time_and_memory_returns(processes, pki):
    shard = processes.redis()
    cert, key = pki["server"]
    timeout_ms = 1000
    # client_idle_timeout far away: the handshake bound does not depend on it.
    proxy = processes.ringproxy(workers=2, pools={"p": pool(
        ["%s:1 shard-0" % shard.address], client_idle_timeout=600000,
        tls={"cert_file": cert, "key_file": key, "handshake_timeout": timeout_ms})})
    assert tls_client(proxy.port, pki).ping() is True  # TLS initialised on the workers

    def accepted():
        return proxy_testing.metric(proxy_testing.metrics(proxy),
                                    "ringproxy_client_connections_total")

    accepted_before = accepted()
    before = proxy_testing.rss_kib(proxy.pid)
    count = 2000
    started = time.monotonic()
    sockets = open_stalled_handshakes(proxy.port, count)
    try:
        # (Counted as accepted: on a slow machine the first may already be closed by now.)
        wait_until(lambda: accepted() - accepted_before == count, 20,
                   "every stalled handshake to be accepted")
        held = proxy_testing.rss_kib(proxy.pid)
        # The bound: the timeout, plus an eighth of it for the sweep, plus the time it took to
        # open them; 10 s leaves room for a loaded machine.
        wait_until(lambda: all(closed_by_peer(s) for s in sockets), 10 + timeout_ms / 1000,
                   "every stalled handshake to be closed")
        elapsed = time.monotonic() - started
    finally:
        for s in sockets:
            s.close()
    samples = proxy_testing.metrics(proxy)
    assert proxy_testing.metric(samples, "ringproxy_client_tls_handshake_timeouts_total") == count
    assert proxy_testing.metric(samples, "ringproxy_client_connections") == 0
    # The memory the handshakes held goes back (the worker trims after a drop of clients).
    wait_until(lambda: proxy_testing.rss_kib(proxy.pid) - before < 16 * 1024, 10,
               "memory to be returned") if proxy_testing.rss_bounds_apply() else None
    after = proxy_testing.rss_kib(proxy.pid)
    print("%d stalled handshakes: RSS %.1f MiB before, %.1f MiB held, %.1f MiB after; all closed "
          "%.1f s after the first was opened" % (count, before / 1024, held / 1024, after / 1024,
                                                 elapsed))
    assert "whose TLS handshake was not done %d ms after the connection" % timeout_ms in \
        proxy.logs(1000)
    assert tls_client(proxy.port, pki).ping() is True


def test_a_handshake_that_trickles_is_closed_at_the_default_bound(processes, pki):
    shard = processes.redis()
    cert, key = pki["server"]
    proxy = processes.ringproxy(workers=1, pools={"p": pool(
        ["%s:1 shard-0" % shard.address], client_idle_timeout=600000,
        tls={"cert_file": cert, "key_file": key})})
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        begin = time.monotonic()
        closed = False
        for byte in STALLED_HELLO * 10:  # a byte every 200 ms: never idle, never done
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            s.settimeout(0.2)  # the pace of the trickle, not synchronisation
            try:
                if s.recv(1) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
        assert closed, "still open %.1f s after the connection" % (time.monotonic() - begin)
        # Closed by the 5 s default, not by anything sooner.
        assert time.monotonic() - begin >= 4.5
    assert proxy_testing.metric(proxy_testing.metrics(proxy),
                                "ringproxy_client_tls_handshake_timeouts_total") == 1


# ---- core dumps ---------------------------------------------------------------------------------

NOBODY = 65534


def start_as_nobody(processes, pools, extra_args=()):
    """A ringproxy run as user nobody (setpriv), so that who owns its /proc entries tells whether
    it may dump core: the kernel gives a non-dumpable process's entries to root."""
    proxy = processes.ringproxy(start=False, workers=1, pools=pools, verbosity=5,
                                extra_args=list(extra_args))
    argv = proxy._argv  # pylint: disable=protected-access
    proxy._argv = lambda: [shutil.which("setpriv"), "--reuid=%d" % NOBODY,  # noqa
                           "--regid=%d" % NOBODY, "--clear-groups", *argv()]
    for path, _, files in os.walk(processes.root):  # nobody reads the files, writes the log
        os.chmod(path, 0o777)
        for name in files:
            os.chmod(os.path.join(path, name), 0o644)
    os.chmod(processes.root, 0o777)
    return proxy.start()


def proc_owner(pid):
    return os.stat("/proc/%d/status" % pid).st_uid


def test_a_proxy_holding_private_keys_cannot_dump_core_unless_allowed(processes, pki):
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is not installed (util-linux)")
    shard = processes.redis()
    cert, key = (shutil.copy(path, processes.root) for path in pki["server"])  # nobody reads
    tls_pool = {"p": pool(["%s:1 shard-0" % shard.address],
                          tls={"cert_file": cert, "key_file": key})}
    plain_pool = {"p": pool(["%s:1 shard-0" % shard.address])}
    keyed = start_as_nobody(processes, tls_pool)
    assert tls_client(keyed.port, pki).ping() is True
    assert proc_owner(keyed.pid) == 0
    assert "core dumps disabled" in keyed.logs(200)
    allowed = start_as_nobody(processes, tls_pool, ["--allow-core-dumps"])
    assert proc_owner(allowed.pid) == NOBODY
    plain = start_as_nobody(processes, plain_pool)
    assert proc_owner(plain.pid) == NOBODY
