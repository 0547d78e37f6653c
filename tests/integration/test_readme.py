"""Every command and example of README.md, docs/*.md and bench/README.md, run as written or checked
against what it names.

- yaml blocks are configuration examples: written to a file and passed to `ringproxy -t`. A pool
  fragment is put in a pool first; the absolute paths of files an example names (a password, a
  certificate, its key) get files the test makes, since they cannot exist here.
- sh blocks and inline `ringproxy ...` commands run. The README uses the fixed ports 22121 and
  22222: such commands run exactly as written inside a network namespace the test makes (loopback
  only), with the redis-servers they need. Paths into build trees (`build/`, `build-release/`)
  become the build under test and a temporary tree, as ports are elsewhere.
- Commands that need a cluster, a registry or a container engine (kubectl, docker) are checked
  against what they name: the kustomization renders, the objects and ports exist, the Dockerfile
  is there. The overlay the deployment steps write is written for real and rendered.
- The log sample must match a real start's log; every path of the k8s/ tree listing must exist;
  the flag table lists exactly the flags of `ringproxy --help`; the extension keys table lists
  every pool key nutcracker does not know.

A block or a command of an unknown kind fails the test: a new example needs a check here.
"""

import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

import pytest

import harness

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
README = os.path.join(SOURCE_DIR, "README.md")
# The user's manual first: later documents may use what its commands left (the overlay, the logs).
DOCUMENTS = [README, os.path.join(SOURCE_DIR, "bench", "README.md")] + sorted(
    glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md")))
RUN_TIMEOUT = 60  # seconds any command of the README may take here
PROXY_PORT, STATS_PORT = 22121, 22222  # the README's ports, free inside the namespace


class Block:
    def __init__(self, lang, text, line, document=README):
        self.lang, self.text, self.line, self.document = lang, text, line, document

    def __repr__(self):
        return "%s:%d (%s)" % (os.path.relpath(self.document, SOURCE_DIR), self.line,
                               self.lang or "plain")


def fenced_blocks(document=README):
    lines = open(document, encoding="utf-8").read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        opening = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        i += 1
        if not opening:
            continue
        indent, body, start = opening.group(1), [], i
        while not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        blocks.append(Block(opening.group(2), "\n".join(body) + "\n", start, document))
    return blocks


def prose(document=README):
    """The document without its fenced blocks."""
    return re.sub(r"(?ms)^\s*```\w*\s*$.*?^\s*```\s*$", "",
                  open(document, encoding="utf-8").read())


def commands(text):
    """The shell commands of a block: continuation lines joined, comment lines dropped (a trailing
    comment stays for the shell, or for words()), a here-document kept with its command."""
    out, lines = [], text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        while (line.rstrip().endswith("\\") or line.rstrip().endswith("|")) and i < len(lines):
            line = line.rstrip().rstrip("\\") + " " + lines[i].strip()
            i += 1
        heredoc = re.search(r"<<'?(\w+)'?", line)
        if heredoc:
            while i < len(lines) and lines[i].strip() != heredoc.group(1):
                line += "\n" + lines[i]
                i += 1
            line += "\n" + heredoc.group(1)
            i += 1
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def words(command):
    return shlex.split(command, comments=True)


def run(argv, cwd, **kwargs):
    return subprocess.run(argv, cwd=cwd, capture_output=True, timeout=RUN_TIMEOUT, check=False,
                          **kwargs)


def ringproxy_binary():
    return os.path.join(harness.build_dir(), "proxy", "ringproxy")


# --- a network namespace for the README's fixed ports -------------------------------------------


class Namespace:
    """A network namespace with only loopback, held open by a sleeping child; every process the
    test starts in it is a child too, stopped by its pid."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.children = []
        self.holder = harness.child_processes.spawn(
            ["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep 3600"], os.devnull)
        own = os.readlink("/proc/self/ns/net")

        def ready():
            try:
                if os.readlink("/proc/%d/ns/net" % self.holder.pid) == own:
                    return False
            except OSError:
                return False
            return "UP" in run(self.argv(["ip", "-o", "link", "show", "lo"]), workdir).stdout.decode()

        harness.wait_until(ready, 10, "the network namespace")

    def argv(self, argv):
        return ["nsenter", "-t", str(self.holder.pid), "-n", "--"] + list(argv)

    def run(self, command, cwd):
        return run(self.argv(["bash", "-c", command]), cwd)

    def start(self, argv, cwd, ports, log):
        proc = harness.child_processes.spawn(self.argv(argv), log, cwd=cwd)
        self.children.append(proc)

        def ready():
            if proc.poll() is not None:
                raise harness.HarnessError("%s exited (%s): %s" % (argv, proc.returncode,
                                                                    harness.log_tail(log)))
            # nsenter execs the command: its /proc/PID/net is the namespace's.
            return set(ports) <= harness.listening_ports(proc.pid)

        harness.wait_until(ready, harness.START_TIMEOUT, "%s to listen on %s" % (argv[0], ports))
        return proc

    def redis(self, port, *extra):
        return self.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--daemonize", "no", "--dir", self.workdir] +
                          list(extra), self.workdir, [port],
                          os.path.join(self.workdir, "redis-%d.log" % port))

    @staticmethod
    def stop(proc):
        return harness.child_processes.stop(proc)

    def close(self):
        for proc in reversed(self.children):
            self.stop(proc)
        harness.child_processes.stop(self.holder, signal.SIGKILL)


@pytest.fixture
def namespace(tmp_path):
    ns = Namespace(str(tmp_path))
    yield ns
    ns.close()


# --- what the commands need -----------------------------------------------------------------------


def make_tls_files(directory):
    """A self-signed certificate and its key: usable as certificate, key and CA alike."""
    cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
    if not os.path.exists(cert):
        result = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                      "-subj", "/CN=readme", "-keyout", key, "-out", cert], directory)
        assert result.returncode == 0, result.stderr
    return cert, key


def runnable_config(text, directory):
    """A configuration example made checkable: a pool fragment goes into a pool, and the files it
    names (which cannot exist here) become files made for the test."""
    if text[:1].isspace():
        text = "pool:\n  listen: 127.0.0.1:22121\n  redis: true\n" + text
    cert, key = make_tls_files(directory)
    password = os.path.join(directory, "password")
    with open(password, "w", encoding="utf-8") as f:
        f.write("readme-secret\n")
    stand_ins = {"redis_auth_file": password, "cert_file": cert, "key_file": key, "ca_file": cert}
    return re.sub(r"(?m)^(\s*)(\w+_file): (/\S+)",
                  lambda m: "%s%s: %s" % (m.group(1), m.group(2), stand_ins[m.group(2)]), text)


def main_example():
    """The Configuration section's example: pool alpha on 127.0.0.1:22121 over 7001 and 7002."""
    for block in fenced_blocks():
        if block.lang == "yaml" and block.text.startswith("alpha:") and "7001" in block.text:
            return block.text
    raise AssertionError("the README lost its configuration example")


class Context:
    """State shared by the blocks, in README order: a work directory with a copy of k8s/, the
    namespace, and what earlier commands left (the overlay's password)."""

    def __init__(self, workdir, ns):
        self.workdir = workdir
        self.ns = ns
        self.checked = []
        shutil.copytree(os.path.join(SOURCE_DIR, "k8s"), os.path.join(workdir, "k8s"))
        os.makedirs(os.path.join(workdir, "conf"))
        for name in ("nutcracker.yml", "ringproxy.yml", os.path.join("conf", "nutcracker.yml")):
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
                f.write(main_example())
        self.shards = [ns.redis(7001), ns.redis(7002)]
        self.start_logs = []

    def rendered(self, directory):
        result = run(["kubectl", "kustomize", directory], self.workdir)
        assert result.returncode == 0, (directory, result.stderr.decode())
        return result.stdout.decode()


def check_ringproxy(ctx, command):
    """A ringproxy command line, run as written (in the namespace, from a directory holding the
    files it names)."""
    argv = words(command)
    argv[0] = ringproxy_binary()
    one_shot = {"-t", "--test-conf", "-D", "--describe-stats", "-V", "--version", "-h", "--help"}
    if one_shot & set(argv):
        result = run(ctx.ns.argv(argv), ctx.workdir)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        return
    log = os.path.join(ctx.workdir, "ringproxy-%d.log" % len(ctx.start_logs))
    proc = ctx.ns.start(argv, ctx.workdir, [PROXY_PORT, STATS_PORT], log)
    try:
        answer = ctx.ns.run("redis-cli -p %d set readme works" % PROXY_PORT, ctx.workdir)
        assert answer.stdout == b"OK\n", (command, answer)
        workers = re.search(r"--workers[= ](\d+)", command)
        if workers:
            assert "started with %s workers" % workers.group(1) in harness.log_tail(log, 50)
    finally:
        assert Namespace.stop(proc) == 0, harness.log_tail(log)
    ctx.start_logs.append(log)


def check_bench_script(ctx, command):
    """bench/e2e scripts: their own argument checks pass (the measurement itself takes the
    better part of an hour). They run from a copy whose build trees hold the build under test."""
    argv = words(command)
    script = next(a for a in argv if a.endswith(".py"))
    tree = os.path.join(ctx.workdir, "bench-tree")
    if not os.path.exists(tree):
        for part in (os.path.join("bench", "e2e"), "tools"):  # the scripts and what they import
            shutil.copytree(os.path.join(SOURCE_DIR, part), os.path.join(tree, part))
        for build in ("build", "build-release"):
            os.makedirs(os.path.join(tree, build, "proxy"))
            os.symlink(ringproxy_binary(), os.path.join(tree, build, "proxy", "ringproxy"))
    args = argv[argv.index(script) + 1:]
    probe = ("import sys; sys.path.insert(0, 'bench/e2e'); import %s as m; m.parse_args(%r)" %
             (os.path.splitext(os.path.basename(script))[0], args))
    result = run([sys.executable, "-c", probe], tree)
    assert result.returncode == 0, (command, result.stderr.decode())


def check_cmake(ctx, command):
    """A build command: configured for real, in a tree of the test's own; a build is checked to
    name a target that exists (building it would take minutes)."""
    tree = os.path.join(ctx.workdir, "cmake-tree")
    argv = [a.replace("build-release", tree) for a in words(command)]
    if "--build" in argv:
        result = run(["ninja", "-C", tree, "-t", "targets", "all"], SOURCE_DIR)
        target = argv[argv.index("--target") + 1]
        assert re.search(r"(?m)^%s: " % re.escape(target), result.stdout.decode()), command
        return
    result = run(argv, SOURCE_DIR)
    assert result.returncode == 0, (command, result.stderr.decode())


KINDS = {"statefulset": "StatefulSet", "deployment": "Deployment", "service": "Service"}


def has_object(rendered, kind, name):
    return any(re.search(r"(?m)^kind: %s$" % KINDS[kind], doc) and
               re.search(r"(?m)^  name: %s$" % re.escape(name), doc)
               for doc in rendered.split("\n---\n"))


def check_kubectl(ctx, command):
    argv = words(command.rstrip("& "))
    base = ctx.rendered(os.path.join(ctx.workdir, "k8s"))
    verb = argv[1]
    if verb == "apply" and argv[2] == "-k":
        ctx.rendered(os.path.join(ctx.workdir, argv[3]))
    elif verb == "rollout" and argv[2] == "status":
        assert has_object(base, *argv[3].split("/")), command
    elif verb == "scale":
        assert has_object(base, argv[2], argv[3]), command
    elif verb == "port-forward":
        kind, name = argv[2].split("/")
        service = next(doc for doc in base.split("\n---\n")
                       if has_object(doc, kind, name))
        for port in argv[3:]:
            assert re.search(r"(?m)^\s+port: %s$" % port, service), (command, port)
    else:
        raise AssertionError("no check for %r" % command)


def check_docker(ctx, command):
    argv = words(command)
    if argv[1] == "build":
        assert os.path.exists(os.path.join(SOURCE_DIR, argv[-1], "Dockerfile")), command
    elif argv[1] != "push":
        raise AssertionError("no check for %r" % command)


def check_service_commands(ctx, block):
    """The commands run against the Service after port-forward: here against a ringproxy with the
    README's ports in the namespace, whose password is the one the overlay step wrote."""
    password = os.path.join(ctx.workdir, "k8s", "overlays", "prod", "clients-password")
    assert os.path.exists(password), "the overlay step did not write its password"
    config = os.path.join(ctx.workdir, "service.yml")
    with open(config, "w", encoding="utf-8") as f:
        f.write("redis:\n  listen: 0.0.0.0:%d\n  redis: true\n  redis_auth_file: %s\n  servers:\n"
                "   - 127.0.0.1:7001:1 redis-0\n" % (PROXY_PORT, password))
    log = os.path.join(ctx.workdir, "service.log")
    proc = ctx.ns.start([ringproxy_binary(), "-c", config], ctx.workdir, [PROXY_PORT, STATS_PORT],
                        log)
    try:
        for command in commands(block.text):
            if command.startswith("kubectl"):
                check_kubectl(ctx, command)
                continue
            result = ctx.ns.run(command, ctx.workdir)
            assert result.returncode == 0, (command, result)
            out = result.stdout.decode()
            if "redis-cli" in command:
                assert out == "OK\n", (command, out)
            elif "/metrics" in command:
                assert "ringproxy_build_info" in out and '"service":"ringproxy"' in out, out
            else:
                raise AssertionError("no check for %r" % command)
    finally:
        Namespace.stop(proc)


def check_sh_block(ctx, block):
    cmds = commands(block.text)
    first = cmds[0]
    if first.startswith("mkdir -p k8s/overlays/"):
        # Writes an overlay: run it whole, then it must render.
        result = run(["bash", "-euo", "pipefail", "-c", block.text], ctx.workdir)
        assert result.returncode == 0, result.stderr.decode()
        overlay = re.match(r"mkdir -p (\S+)", first).group(1)
        out = ctx.rendered(os.path.join(ctx.workdir, overlay))
        assert "registry.example.com/ringproxy:0.1.0" in out
        return
    if any("port-forward" in c for c in cmds):
        check_service_commands(ctx, block)
        return
    if first.startswith("printf"):
        text = block.text.replace("build/", harness.build_dir() + "/")
        result = run(["bash", "-euo", "pipefail", "-c", text], SOURCE_DIR)
        assert result.returncode == 0, result.stderr.decode()
        lines = result.stdout.decode().split("\n")
        assert len(lines) == 3 and lines[2] == "" and all(re.fullmatch(r"redis-\d", n)
                                                          for n in lines[:2]), lines
        return
    for command in cmds:
        program = words(re.sub(r"^(\w+=\S+ )+", "", command))[0]
        if program == "bash":
            script = os.path.join(SOURCE_DIR, words(command)[1])
            result = run(["bash", "-n", script], SOURCE_DIR)
            assert result.returncode == 0, (command, result.stderr)
        elif program == "ringproxy":
            check_ringproxy(ctx, command)
        elif program == "/usr/bin/python3" and "bench/e2e/" in command:
            check_bench_script(ctx, command)
        elif program == "cmake":
            check_cmake(ctx, command)
        elif program == "kubectl":
            check_kubectl(ctx, command)
        elif program == "docker":
            check_docker(ctx, command)
        else:
            raise AssertionError("%r: no check for %r" % (block, command))


def check_plain_block(ctx, block):
    lines = [line for line in block.text.split("\n") if line.strip()]
    if "──>" in block.text:
        return  # a diagram
    if all(line.startswith("[") for line in lines):
        ctx.log_samples.append(block)
        return
    if all(line.startswith("k8s/") for line in lines):
        for line in lines:
            assert os.path.exists(os.path.join(SOURCE_DIR, line.split()[0])), line
        return
    if check_class_tree(block, lines):
        return
    raise AssertionError("%r: no check for this block" % block)


def check_class_tree(block, lines):
    """A drawing of classes, a line each: `Name  what it is`, indented under what holds it
    (continuation lines start lower case). Every class it names must be one of the product's."""
    named = [re.match(r"\s*([A-Z][A-Za-z]+)\b", line) for line in lines]
    if not named[0] or not all(m or line.startswith(" ") for m, line in zip(named, lines)):
        return False
    defined = set()
    for path in glob.glob(os.path.join(SOURCE_DIR, "proxy", "**", "*.h"), recursive=True):
        with open(path, encoding="utf-8") as f:
            defined.update(re.findall(r"^\s*(?:class|struct) ([A-Za-z]+)\b", f.read(), re.M))
    for m in named:
        if m:
            assert m.group(1) in defined, "%r: %s names no class of proxy/" % (block, m.group(1))
    return True


def check_log_sample(ctx, block):
    """Each line of the sample has the shape of a line of a real start's log (numbers, the build
    type and the reason for the worker count may differ)."""
    real = "".join(harness.log_tail(log, 200) + "\n" for log in ctx.start_logs)
    for line in block.text.strip().split("\n"):
        message = re.sub(r"^\[[^]]*\] ", "", line)
        pattern = re.escape(message)
        pattern = re.sub(r"\d+", r"\\d+", pattern)
        pattern = pattern.replace(r"\(Release\ build\)", r"\(\w+\ build\)")
        pattern = re.sub(r"workers:\\ .*$", "workers: .+", pattern)
        assert re.search(pattern, real), (line, real)


def readme_table(header):
    """The rows of the README's table that starts with `header`: a list of cell lists."""
    text = open(README, encoding="utf-8").read()
    table = text[text.index(header):]
    table = table[:table.index("\n\n")]
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.split("\n")[2:]]


def check_flag_table():
    """The "Running it" table lists exactly the long flags `ringproxy --help` lists."""
    rows = readme_table("| flag | default | meaning |")
    flags = {flag for row in rows for flag in re.findall(r"(--[a-z][a-z-]*)", row[0])}
    assert len(flags) > 10, flags
    usage = subprocess.run([ringproxy_binary(), "--help"], capture_output=True, timeout=10,
                           check=True).stdout.decode()
    assert flags == set(re.findall(r"(--[a-z][a-z-]*)", usage))


def extension_keys():
    """The pool keys config/pool_key.cc declares with `nutcracker` false (ringproxy's own), and
    the keys of their mappings as `key.entry`."""
    text = open(os.path.join(SOURCE_DIR, "config", "pool_key.cc"), encoding="utf-8").read()
    entries = {name: re.findall(r'PoolSubKey\{"(\w+)"', body) for name, body in
               re.findall(r"constexpr std::array (k\w+Keys) = \{(.*?)\n\};", text, re.S)}
    keys = re.findall(r'PoolKey\{"(\w+)",.*?\b(kNoEntries|k\w+Keys),\s*(true|false),', text, re.S)
    assert len(keys) > 30, "config/pool_key.cc's table was not found: the extraction broke"
    found = []
    for name, array, nutcracker in keys:
        if nutcracker == "false":
            found.append(name)
            found.extend("%s.%s" % (name, entry) for entry in entries.get(array, []))
    return found


def check_extension_keys_table():
    """Every key ringproxy adds to nutcracker.yml has a row of "ringproxy's extension keys"."""
    rows = readme_table("| key | default | meaning |")
    documented = {key for row in rows for key in re.findall(r"`([\w.]+)`", row[0])}
    missing = [key for key in extension_keys() if key not in documented]
    assert not missing, "README.md's extension keys table lacks %s" % missing


def declared_labels():
    labels = set()
    for directory, _, files in os.walk(SOURCE_DIR):
        if "CMakeLists.txt" in files and not os.path.relpath(directory, SOURCE_DIR).startswith(
                ("build", ".")):
            text = open(os.path.join(directory, "CMakeLists.txt"), encoding="utf-8").read()
            for found in re.findall(r"LABELS \"?([\w;]+)", text):
                labels.update(found.split(";"))
    return labels


def declared_tests():
    names = set()
    for directory, _, files in os.walk(SOURCE_DIR):
        if "CMakeLists.txt" in files and not os.path.relpath(directory, SOURCE_DIR).startswith(
                ("build", ".")):
            text = open(os.path.join(directory, "CMakeLists.txt"), encoding="utf-8").read()
            names.update(re.findall(r"(?:ringproxy_add_pytest\(|add_test\(NAME )([\w.]+)", text))
    return names


def check_inline(ctx, span):
    """A command written inline in the text."""
    argv = words(span)
    program = argv[0]
    if len(argv) == 1 or argv[:1] == ["kubectl"] and len(argv) == 2:
        return  # a name (`ringproxy`, `build/`, `kubectl apply`), not a command
    if program == "ringproxy":
        check_ringproxy(ctx, span)
    elif program.startswith("build/"):
        argv[0] = os.path.join(harness.build_dir(), program[len("build/"):])
        result = run(argv, SOURCE_DIR, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, (span, result.stderr.decode())
    elif program == "ctest" and "-R" in argv:
        pattern = argv[argv.index("-R") + 1]
        assert any(re.search(pattern, name) for name in declared_tests()), span
    elif program == "ctest":
        assert argv[argv.index("-L") + 1] in declared_labels(), span
    elif program == "redis-cli":
        # What the demo prints for connecting to it.
        assert span in open(os.path.join(SOURCE_DIR, ".ci", "demo"), encoding="utf-8").read()
    elif program == "kubectl" and argv[1:3] == ["apply", "-k"]:
        ctx.rendered(os.path.join(ctx.workdir, argv[3]))
    elif program == "kubectl" and argv[1:4] == ["create", "secret", "generic"]:
        name, key = argv[4], argv[5].split("=")[1]
        secret = [doc for doc in ctx.rendered(os.path.join(ctx.workdir, "k8s")).split("\n---\n")
                  if re.search(r"(?m)^kind: Secret$", doc) and
                  re.search(r"(?m)^  name: %s$" % name, doc)]
        assert secret and re.search(r"(?m)^  %s: " % key, secret[0]), span
    elif program == "docker" and argv[1] == "run" and "IMAGE" in argv:
        # IMAGE is the reader's; what matters is that arguments reach ringproxy.
        dockerfile = open(os.path.join(SOURCE_DIR, "Dockerfile"), encoding="utf-8").read()
        assert re.search(r'(?m)^ENTRYPOINT \["/usr/local/bin/ringproxy"', dockerfile), span
    elif program in ("nc", "curl") and re.search(r"\bhost\b", span):
        return  # "host" stands for the reader's host
    else:
        raise AssertionError("no check for the inline command %r" % span)


def check_document(ctx, document, tmp_path):
    """Checks every fenced block and inline command of `document`; returns how many."""
    checked = 0
    for block in fenced_blocks(document):
        if block.lang == "yaml":
            path = tmp_path / ("example-%d.yml" % block.line)
            path.write_text(runnable_config(block.text, str(tmp_path)))
            result = run([ringproxy_binary(), "-t", "-c", str(path)], str(tmp_path))
            assert result.returncode == 0, (block, result.stderr.decode())
        elif block.lang == "sh":
            check_sh_block(ctx, block)
        elif block.lang == "":
            check_plain_block(ctx, block)
        else:
            raise AssertionError("%r: no check for %s blocks" % (block, block.lang))
        checked += 1
    # Commands written inline in the text, as written, from the same directory.
    programs = ("ringproxy", "redis-cli", "kubectl", "docker", "ctest", "curl", "nc", "build/")
    inline = [span for span in re.findall(r"`([^`\n]+)`", prose(document))
              if span.split()[0] in programs or span.startswith("build/")]
    for span in inline:
        check_inline(ctx, span)
    return checked, len(inline)


def test_every_example_and_command_of_the_readme_runs_as_written(tmp_path, namespace):
    ctx = Context(str(tmp_path), namespace)
    ctx.log_samples = []
    _, inline = check_document(ctx, README, tmp_path)
    assert inline > 10, "inline commands not found: the extraction broke"
    assert ctx.log_samples and ctx.start_logs
    for block in ctx.log_samples:
        check_log_sample(ctx, block)
    check_flag_table()
    check_extension_keys_table()


@pytest.mark.parametrize("document", [os.path.relpath(d, SOURCE_DIR) for d in DOCUMENTS[1:]])
def test_every_example_and_command_of_the_other_documents_runs_as_written(document, tmp_path,
                                                                          namespace):
    ctx = Context(str(tmp_path), namespace)
    ctx.log_samples = []
    blocks, inline = check_document(ctx, os.path.join(SOURCE_DIR, document), tmp_path)
    assert blocks + inline > 0, "%s: nothing found to check" % document
    assert not ctx.log_samples, "a log sample belongs in the README, next to its start command"
