"""Child processes that a script starts and stops by their pid: shared by the integration test
harness (tests/integration/harness.py) and the end-to-end benchmarks (bench/e2e/), so that both
start, watch and stop a redis-server, nutcracker or ringproxy the same way.

- Every child runs in a session of its own: a terminal's Ctrl-C reaches the script alone, which
  then stops each child itself, by its pid: a signal (SIGTERM unless told otherwise), a bounded
  wait, SIGKILL, and always a wait that reaps it.
- Readiness and client counts are read from /proc (listening_ports, accepted_connections), which
  opens no connection that a counter under test could see. The tables read are the child's own
  (/proc/PID/net), so a child inside another network namespace is seen in its namespace.
- Every wait is bounded: wait_until raises WaitTimeout with what it waited for.

Nothing here knows about Redis or the proxy; it needs only the standard library.
"""

import collections
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

STOP_TIMEOUT = 5.0  # seconds for a child to exit after its signal, then again after SIGKILL
TCP_LISTEN = "0A"  # socket states as /proc/net/tcp writes them
TCP_ESTABLISHED = "01"
_PR_SET_PDEATHSIG = 1


class ProcessError(Exception):
    """A child did not start, stop or answer as expected; the message says which and why."""


class WaitTimeout(ProcessError):
    """wait_until ran out of time."""


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived inside Children's `with` block."""


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on at this instant on `host`; callers retry on a collision."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.005, max_interval=0.05):
    """Polls `predicate` until it returns a true value (returned) or `timeout` seconds pass; the
    pause between polls doubles from `interval` up to `max_interval`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 2, max_interval)


def log_tail(path, lines=40):
    """The last `lines` lines of the file at `path`, or a note that there is none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no log at %s)" % path
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


# --- sockets and memory of a running process, from /proc -----------------------------------------

TcpSocket = collections.namedtuple("TcpSocket", "local_port remote_port state")


def socket_inodes(pid):
    """The inodes of the sockets process `pid` holds open (empty once it has gone)."""
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue  # closed while we looked
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def tcp_sockets(pid):
    """A TcpSocket for each TCP socket (IPv4 and IPv6) process `pid` holds, as its own network
    namespace shows them."""
    inodes = socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table), encoding="ascii") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                found.append(TcpSocket(int(fields[1].rsplit(":", 1)[1], 16),
                                       int(fields[2].rsplit(":", 1)[1], 16), fields[3]))
    return found


def listening_ports(pid):
    """TCP ports on which process `pid` has a socket in LISTEN state."""
    return {s.local_port for s in tcp_sockets(pid) if s.state == TCP_LISTEN}


def accepted_connections(pid, port):
    """Connections accepted on `port` that process `pid` still holds (any state but LISTEN)."""
    return sum(1 for s in tcp_sockets(pid) if s.local_port == port and s.state != TCP_LISTEN)


def rss_bytes(pid):
    """VmRSS of process `pid`, in bytes."""
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ProcessError("no VmRSS for pid %d" % pid)


# --- starting and stopping ------------------------------------------------------------------------


def _child_setup(cpus):
    """Runs in the child before exec: die with the script, and keep to the given CPUs."""

    def setup():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # a SIGKILLed script leaves no orphans
        except OSError:
            pass
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


def spawn(argv, output=None, cwd=None, die_with_parent=False, cpus=None):
    """Starts `argv` in a session of its own, stdin from /dev/null. `output`: a file path that
    stdout and stderr are appended to, or None for pipes (read them with communicate()).

    `die_with_parent` or `cpus` run code in the child before exec (PR_SET_PDEATHSIG, CPU
    affinity), which is unsafe in a process with threads: a single-threaded script only."""
    preexec_fn = _child_setup(cpus) if die_with_parent or cpus else None
    if output is None:
        return subprocess.Popen(  # pylint: disable=consider-using-with
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=cwd, start_new_session=True, preexec_fn=preexec_fn)
    with open(output, "ab") as out:
        return subprocess.Popen(  # pylint: disable=consider-using-with
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
            start_new_session=True, preexec_fn=preexec_fn)


def send(proc, sig):
    """Sends `sig` to child `proc` by its pid, unless it has exited (and been reaped)."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass


def stop(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT, kill_timeout=STOP_TIMEOUT):
    """Stops child `proc` by its pid: `sig` (None: it has been signalled already), up to
    `timeout` seconds for it to exit, then SIGKILL and up to `kill_timeout` more. Always reaps
    it, closes its pipes and returns its exit status (negative: the signal that ended it)."""
    if proc.poll() is None:
        if sig is not None:
            send(proc, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            send(proc, signal.SIGKILL)
            proc.wait(kill_timeout)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
    return proc.returncode


class Children:
    """Every child a script starts, each stopped by its pid when the `with` block ends, however it
    ends. Inside the block SIGINT, SIGTERM and SIGHUP raise Interrupted (SIGINT too: a shell
    starts a background job with SIGINT ignored, and Ctrl-C must still clean up); while the
    children are stopped they are ignored, so a second Ctrl-C cannot cut the cleanup short.

    For a single-threaded script: children die with it even if it is SIGKILLed."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, workdir, stop_timeout=STOP_TIMEOUT):
        self.workdir = workdir
        self.stop_timeout = stop_timeout
        self.procs = []
        self._handlers = None

    def spawn(self, name, argv, cpus=None, capture=False):
        """Starts `argv`; its output goes to WORKDIR/NAME.out unless `capture` (then to pipes)."""
        output = None if capture else os.path.join(self.workdir, name + ".out")
        try:
            proc = spawn(argv, output, die_with_parent=True, cpus=cpus)
        except OSError as e:
            raise ProcessError("cannot start %s (%s): %s" % (name, argv[0], e)) from e
        proc.child_name = name
        self.procs.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=None):
        """stop() with this group's timeout by default; the child leaves the group."""
        status = stop(proc, sig, self.stop_timeout if timeout is None else timeout,
                      self.stop_timeout)
        if proc in self.procs:
            self.procs.remove(proc)
        return status

    def stop_all(self):
        """Signals every child, newest first, then waits for each (all stop at once, not one
        after another); returns a line for each child that could not be stopped."""
        problems = []
        procs = list(reversed(self.procs))
        for proc in procs:
            send(proc, signal.SIGTERM)
        for proc in procs:
            try:
                self.stop(proc, None)
            except (OSError, subprocess.TimeoutExpired) as e:
                problems.append("%s (pid %d): %s" % (proc.child_name, proc.pid, e))
        return problems

    @staticmethod
    def _interrupt(signum, frame):
        raise Interrupted("signal %d" % signum)

    def __enter__(self):
        self._handlers = {s: signal.signal(s, self._interrupt) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s in self.SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        try:
            for problem in self.stop_all():
                print("warning: could not stop %s" % problem, file=sys.stderr)
        finally:
            for s, handler in self._handlers.items():
                signal.signal(s, handler)
        return False
