"""Process harness for integration tests: real redis-server, nutcracker and ringproxy children.

Every process is a direct child started with --daemonize off, is stopped by its pid (SIGTERM,
then SIGKILL) and is waited for; every wait has a hard time bound; everything listens on
loopback only; every temporary directory is removed when its ProcessGroup closes.

A ProcessGroup owns what it starts: tests take one from the fixtures in conftest.py, so processes
are stopped even when the test fails. Ports are found free at run time; a start that loses the
race for a port (another process bound it between free_port() and the child's bind) is retried
with fresh ports. Starting, watching and stopping a child by its pid is tools/child_processes.py,
which the benchmarks (bench/e2e) use too.
"""

import collections
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import child_processes  # noqa: E402  pylint: disable=wrong-import-position
# What the tests use through the harness.
from child_processes import (  # noqa: E402  pylint: disable=wrong-import-position
    STOP_TIMEOUT, WaitTimeout, free_port, listening_ports, log_tail, rss_bytes, tcp_sockets,
    wait_until)

NUTCRACKER_BIN = os.environ.get("NUTCRACKER_BIN", "/usr/sbin/nutcracker")
REDIS_SERVER_BIN = os.environ.get("REDIS_SERVER_BIN", shutil.which("redis-server") or
                                  "/usr/bin/redis-server")

START_TIMEOUT = 10.0  # seconds for a child to become ready
START_ATTEMPTS = 5  # port collisions tolerated per start

# A process did not start, stop or answer as expected; the message carries its log tail.
# WaitTimeout (wait_until ran out of time) is one.
HarnessError = child_processes.ProcessError


def build_dir():
    """The CMake build directory ctest passes in (RINGPROXY_BUILD_DIR)."""
    path = os.environ.get("RINGPROXY_BUILD_DIR")
    if not path:
        raise HarnessError("RINGPROXY_BUILD_DIR is not set (run through ctest, or export it)")
    return path


def sanitizers():
    """The sanitizers the binaries under test were built with, e.g. {"address", "undefined"}:
    RINGPROXY_SANITIZERS, which ctest sets from the build's configuration (export it, like
    RINGPROXY_BUILD_DIR, when running pytest by hand against a sanitized build)."""
    return {s for s in os.environ.get("RINGPROXY_SANITIZERS", "").split(",") if s}


HttpResponse = collections.namedtuple("HttpResponse", "status headers body")


def http_get(port, path, method="GET", timeout=5.0):
    """One HTTP/1.1 request to 127.0.0.1:`port` (a stats port): HttpResponse(status, {lower-case
    header name: value}, body text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read().decode("utf-8")
        return HttpResponse(response.status, {k.lower(): v for k, v in response.getheaders()},
                            body)
    finally:
        connection.close()


class ManagedProcess:
    """One child process with a log file. Subclasses decide the command line and readiness."""

    name = "process"

    def __init__(self, workdir):
        self.workdir = workdir
        self.log_path = None  # where the process writes its log
        self.output_path = None  # its stdout and stderr (the same file for redis-server)
        self.proc = None
        self.argv = []
        self._terminated = False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, argv, output_path):
        """Starts `argv` with stdout and stderr appended to `output_path`, in a session of its
        own: a terminal's Ctrl-C does not reach the child a second time, the harness alone
        decides when it stops."""
        self.output_path = output_path
        self.proc = child_processes.spawn(argv, output_path, cwd=self.workdir)
        self.argv = argv
        self._terminated = False

    def describe(self):
        return "%s pid %s (%s)" % (self.name, self.pid, " ".join(map(str, self.argv)))

    def logs(self, lines=40):
        """The end of the process's output and, when it keeps one elsewhere, of its log."""
        text = log_tail(self.output_path, lines) if self.output_path else ""
        if self.log_path and self.log_path != self.output_path:
            text += "\n--- log %s ---\n%s" % (self.log_path, log_tail(self.log_path, lines))
        return text

    def failure(self, message):
        return HarnessError("%s: %s\n--- output ---\n%s" % (self.describe(), message, self.logs()))

    def kill(self, sig=signal.SIGKILL):
        """Sends `sig` to the child (by pid); does not wait."""
        if self.proc is not None:
            child_processes.send(self.proc, sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the child to exit; returns its exit status (negative: killed by a signal)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise self.failure("still running after %.1fs" % timeout) from exc

    def terminate(self):
        """Sends SIGTERM once (a second one can make redis-server skip its shutdown); stop()
        then only waits. Lets a group signal every process before waiting for any."""
        if self.running() and not self._terminated:
            child_processes.send(self.proc, signal.SIGTERM)
            self._terminated = True

    def stop(self):
        """SIGTERM, then SIGKILL if it has not exited in STOP_TIMEOUT; always reaps the child."""
        if self.proc is None:
            return None
        signalled = self._terminated
        self._terminated = True
        return child_processes.stop(self.proc, None if signalled else signal.SIGTERM)

    def wait_listening(self, ports, timeout=START_TIMEOUT):
        """Waits until this process itself listens on every port in `ports`."""
        wanted = set(ports)

        def ready():
            if not self.running():
                raise self.failure("exited with status %s while starting" % self.proc.returncode)
            return wanted <= listening_ports(self.proc.pid)

        try:
            wait_until(ready, timeout, "%s to listen on %s" % (self.name, sorted(wanted)))
        except WaitTimeout as exc:
            raise self.failure(str(exc)) from exc


class RedisServer(ManagedProcess):
    """A redis-server child on `host` (any 127.x.y.z), no persistence, its own directory."""

    name = "redis-server"

    def __init__(self, workdir, host="127.0.0.1", port=None, extra_args=(), password=None):
        super().__init__(workdir)
        self.host = host
        self.port = port
        self.extra_args = list(extra_args)
        self.password = password  # requirepass; the probe and client() authenticate with it
        self._fixed_port = port is not None
        self._clients = []

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def start(self):
        self.launch()
        return self.wait_started()

    def launch(self):
        """Spawns the server without waiting; wait_started() completes the start."""
        if not self._fixed_port:
            self.port = free_port(self.host)
        argv = [REDIS_SERVER_BIN, "--port", str(self.port), "--bind", self.host,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", self.workdir] + self.extra_args
        if self.password is not None:
            argv += ["--requirepass", self.password]
        self.log_path = os.path.join(self.workdir, "redis-%d.log" % self.port)
        self._spawn(argv, self.log_path)

    def wait_started(self):
        """Waits for the launched server to answer; relaunches on a fresh port after losing the
        race for its port (up to START_ATTEMPTS launches)."""
        attempts = 1 if self._fixed_port else START_ATTEMPTS
        for attempt in range(attempts):
            if attempt > 0:
                self.launch()
            try:
                self._wait_ready()
                return self
            except HarnessError:
                self.stop()
                if attempt + 1 == attempts or "Address already in use" not in self.logs():
                    raise
        return self

    def _wait_ready(self):
        probe = redis.Redis(host=self.host, port=self.port, socket_timeout=1.0,
                            socket_connect_timeout=1.0, password=self.password)

        def ready():
            if not self.running():
                raise self.failure("exited with status %s while starting" % self.proc.returncode)
            # PING only once the port is this child's: after a lost race it is someone else's.
            if self.port not in listening_ports(self.proc.pid):
                return False
            try:
                return probe.ping()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                return False

        try:
            wait_until(ready, START_TIMEOUT, "redis-server at %s to answer PING" % self.address)
        except WaitTimeout as exc:
            raise self.failure(str(exc)) from exc
        finally:
            probe.close()

    def client(self, **kwargs):
        """A redis.Redis talking to this server directly; closed when the server stops."""
        kwargs.setdefault("socket_timeout", 10.0)
        kwargs.setdefault("socket_connect_timeout", 5.0)
        kwargs.setdefault("password", self.password)
        c = redis.Redis(host=self.host, port=self.port, **kwargs)
        self._clients.append(c)
        return c

    def stop(self):
        for c in self._clients:
            c.close()
        self._clients.clear()
        return super().stop()

    def restart(self):
        """Stops and starts again on the same address (the data is gone: no persistence)."""
        self.stop()
        self._fixed_port = True
        return self.start()


_PLAIN_SCALAR = re.compile(r"^[A-Za-z0-9_./-][A-Za-z0-9_./:-]*( [A-Za-z0-9_./:-]+)*$")


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN_SCALAR.match(text) and ": " not in text and not text.endswith(":"):
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def render_config(pools):
    """nutcracker.yml text for {pool name: {key: value, "servers": [lines]}}, in dict order; a
    dict value is a nested mapping (ringproxy's statefulset:, tls:, server_tls:)."""
    out = []
    for pool, options in pools.items():
        out.append("%s:" % _yaml_scalar(pool))
        for key, value in options.items():
            if isinstance(value, (list, tuple)):
                out.append("  %s:" % key)
                out.extend("   - %s" % _yaml_scalar(item) for item in value)
            elif isinstance(value, dict):
                out.append("  %s:%s" % (key, "" if value else " {}"))
                out.extend("    %s: %s" % (k, _yaml_scalar(v)) for k, v in value.items())
            else:
                out.append("  %s: %s" % (key, _yaml_scalar(value)))
    return "\n".join(out) + "\n"


class _ProxyProcess(ManagedProcess):
    """A nutcracker-compatible proxy: same config file and -c -s -a -o -v flags.

    `pools` is {pool name: options}; a pool without "listen" gets 127.0.0.1 and a free port.
    Alternatively `config_text` is written verbatim (its ports are then the caller's business,
    and `listen_ports` says which ports to wait for).
    """

    binary = None
    default_verbosity = 4
    has_stats_server = True  # start() waits for the stats port too

    def __init__(self, workdir, pools=None, config_text=None, listen_ports=(),
                 verbosity=None, extra_args=(), wait_ready=True):
        super().__init__(workdir)
        if (pools is None) == (config_text is None):
            raise ValueError("give exactly one of pools and config_text")
        self.pools = pools
        self.config_text = config_text
        self._listen_ports = list(listen_ports)
        self.verbosity = self.default_verbosity if verbosity is None else verbosity
        self.extra_args = list(extra_args)
        self.wait_ready = wait_ready
        self.config_path = os.path.join(workdir, "%s.yml" % self.name)
        self.stats_port = None
        self.ports = {}  # pool name -> listen port (TCP pools of `pools` only)
        self._clients = []

    def _assign_ports(self):
        self.ports = {}
        pools = {}
        for pool, options in self.pools.items():
            options = dict(options)
            if "listen" not in options:
                options = {"listen": "127.0.0.1:%d" % free_port()} | options
            listen = str(options["listen"])
            if not listen.startswith("/"):
                self.ports[pool] = int(listen.rsplit(":", 1)[1])
            pools[pool] = options
        return pools

    def _argv(self):
        return [self.binary, "-c", self.config_path, "-s", str(self.stats_port),
                "-a", "127.0.0.1", "-o", self.log_path, "-v", str(self.verbosity)] + self.extra_args

    def start(self):
        auto_ports = self.pools is not None and any(
            "listen" not in options for options in self.pools.values())
        attempts = START_ATTEMPTS if auto_ports else 1
        for attempt in range(attempts):
            if self.pools is not None:
                self.written_pools = self._assign_ports()
                text = render_config(self.written_pools)
                listen = list(self.ports.values())
            else:
                text = self.config_text
                listen = list(self._listen_ports)
            with open(self.config_path, "w", encoding="utf-8") as f:
                f.write(text)
            self.stats_port = free_port()
            self.log_path = os.path.join(self.workdir, "%s-%d.log" % (self.name, self.stats_port))
            self._spawn(self._argv(), self.log_path + ".out")
            # (the proxy writes its own log, -o; stdout and stderr carry only early failures)
            if not self.wait_ready:
                return self
            try:
                self.wait_listening(listen + ([self.stats_port] if self.has_stats_server else []))
                return self
            except HarnessError:
                self.stop()
                if attempt + 1 == attempts or "in use" not in self.logs(200):
                    raise
        return self

    def failure(self, message):
        return HarnessError("%s: %s\n--- config %s ---\n%s--- output ---\n%s" %
                            (self.describe(), message, self.config_path,
                             self._config_for_message(), self.logs()))

    def _config_for_message(self):
        try:
            with open(self.config_path, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return "(unreadable)\n"

    @property
    def port(self):
        """The listen port of the only (or first) TCP pool."""
        return next(iter(self.ports.values()))

    def client(self, pool=None, **kwargs):
        """A redis.Redis talking to `pool` (default: the first pool) through the proxy."""
        port = self.ports[pool] if pool is not None else self.port
        kwargs.setdefault("socket_timeout", 10.0)
        kwargs.setdefault("socket_connect_timeout", 5.0)
        c = redis.Redis(host="127.0.0.1", port=port, **kwargs)
        self._clients.append(c)
        return c

    def stats(self, timeout=5.0):
        """The stats document: connect to the stats port, read to EOF, parse JSON."""
        with socket.create_connection(("127.0.0.1", self.stats_port), timeout=timeout) as s:
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return json.loads(b"".join(chunks))

    def stop(self):
        for c in self._clients:
            c.close()
        self._clients.clear()
        return super().stop()


class Nutcracker(_ProxyProcess):
    """The real twemproxy 0.5.0, the oracle."""

    name = "nutcracker"
    binary = NUTCRACKER_BIN


class Ringproxy(_ProxyProcess):
    """$RINGPROXY_BUILD_DIR/proxy/ringproxy, with nutcracker's flags plus --workers."""

    name = "ringproxy"

    def __init__(self, workdir, workers=None, **kwargs):
        super().__init__(workdir, **kwargs)
        self.binary = os.path.join(build_dir(), "proxy", "ringproxy")
        self.workers = workers

    def _argv(self):
        argv = super()._argv()
        if self.workers is not None:
            argv += ["--workers", str(self.workers)]
        return argv


class ProcessGroup:
    """Owns processes and temporary directories; close() stops them all (newest first)."""

    def __init__(self, prefix="ringproxy-it-"):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.processes = []
        self._dirs = 0

    def new_workdir(self):
        """A fresh directory inside the group's (removed with it)."""
        self._dirs += 1
        path = os.path.join(self.root, str(self._dirs))
        os.mkdir(path)
        return path

    def add(self, process, start=True):
        """Makes `process` (a ManagedProcess) the group's, stopped with it; starts it."""
        self.processes.append(process)
        return process.start() if start else process

    def redis(self, host="127.0.0.1", port=None, extra_args=(), start=True, password=None):
        return self.add(RedisServer(self.new_workdir(), host=host, port=port,
                                     extra_args=extra_args, password=password), start)

    def redis_many(self, hosts, extra_args=(), password=None):
        """Starts one server per entry of `hosts` (an address, or a count of 127.0.0.1 servers),
        launching all before waiting for any."""
        if isinstance(hosts, int):
            hosts = ["127.0.0.1"] * hosts
        servers = [RedisServer(self.new_workdir(), host=host, extra_args=extra_args,
                               password=password) for host in hosts]
        for server in servers:
            self.processes.append(server)
            server.launch()
        for server in servers:
            server.wait_started()
        return servers

    def nutcracker(self, start=True, **kwargs):
        return self.add(Nutcracker(self.new_workdir(), **kwargs), start)

    def ringproxy(self, start=True, **kwargs):
        return self.add(Ringproxy(self.new_workdir(), **kwargs), start)

    def log_tails(self, only_exited=False):
        """The end of each process's log (`only_exited`: of those no longer running)."""
        parts = []
        for p in self.processes:
            if p.proc is not None and not (only_exited and p.running()):
                parts.append("--- %s ---\n%s" % (p.describe(), p.logs()))
        return "\n".join(parts)

    def close(self):
        errors = []
        for p in reversed(self.processes):
            try:
                p.terminate()
            except OSError as exc:
                errors.append(exc)
        for p in reversed(self.processes):
            try:
                p.stop()
            except (HarnessError, OSError, subprocess.SubprocessError) as exc:
                errors.append(exc)
        self.processes.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise HarnessError("could not stop every process: %s" % errors)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
