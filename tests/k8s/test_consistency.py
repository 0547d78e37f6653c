"""The manifests agree with each other, with the Dockerfile and with the ringproxy binary.

Each check runs on every kustomization (root, base, overlays). Where a check needs a running
process it starts real ones on loopback with free ports: ringproxy from the build tree, and
redis-server through the StatefulSet's own start script.
"""

import glob
import os
import re
import subprocess
import sys

import pytest
import redis
import yaml

import manifests

sys.path.insert(0, os.path.join(manifests.SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402  pylint: disable=wrong-import-position

KUSTOMIZATIONS = manifests.kustomizations()
# What redis.conf quoting must survive; three different ones, as the Secrets hold.
PASSWORD = 'p4ss "with" \\ quotes and spaces'  # the clients'
PROXY_PASSWORD = 'proxy "p4ss" \\ of the shards'  # the shards' user "proxy"
ADMIN_PASSWORD = 'admin \\ "p4ss"'  # the shards' default user


def ringproxy_parts(rendered):
    deployment = rendered.one("Deployment", "ringproxy")
    return deployment, manifests.container(deployment, "ringproxy")


def redis_parts(rendered):
    statefulset = rendered.one("StatefulSet", "redis")
    return statefulset, manifests.container(statefulset, "redis")


def pool_of(config_text):
    config = yaml.safe_load(config_text)
    assert len(config) == 1, "expected one pool, found %s" % list(config)
    return next(iter(config.values()))


def auth_file_path(rendered, key="redis_auth_file"):
    """The file the ringproxy configuration reads a password from: the clients' (redis_auth_file)
    or the one it logs in to the shards with (server_auth_file)."""
    text, _ = manifests.ringproxy_config(rendered)
    pool = pool_of(text)
    assert "redis_auth" not in pool and "server_auth" not in pool, (
        "a password is written into the ConfigMap")
    path = pool.get(key)
    assert path, "the ringproxy configuration does not name a password file (%s)" % key
    return path


def secret_ref(workload, c, path):
    """(secretName, key) that file `path` of container `c` comes from."""
    mount, volume = manifests.volume_for_path(workload, c, path)
    assert "secret" in volume, "%s in %s is not mounted from a Secret" % (
        path, workload["metadata"]["name"])
    return volume["secret"]["secretName"], manifests.projected_key(mount, volume, path)


def redis_start_script(rendered):
    """(script text, its password files' defaults {"admin": ..., "proxy": ...}, its config file
    default) from the ConfigMap."""
    statefulset, c = redis_parts(rendered)
    command = c["command"]
    script_path = next(a for a in command if a.endswith(".sh"))
    mount, volume = manifests.volume_for_path(statefulset, c, script_path)
    configmap = rendered.one("ConfigMap", volume["configMap"]["name"])
    script = configmap["data"][manifests.projected_key(mount, volume, script_path)]
    files = {}
    for user in ("admin", "proxy"):
        found = re.search(r"%s_password_file=\$\{REDIS_%s_PASSWORD_FILE:-([^}]+)\}" % (
            user, user.upper()), script)
        assert found, "redis-start.sh no longer names its %s password file as expected" % user
        files[user] = found.group(1)
    conf = re.search(r"conf=\$\{REDIS_CONF:-([^}]+)\}", script)
    assert conf, "redis-start.sh no longer names its config file as expected"
    return script, files, conf.group(1)


def redis_conf_text(rendered, path):
    statefulset, c = redis_parts(rendered)
    mount, volume = manifests.volume_for_path(statefulset, c, path)
    configmap = rendered.one("ConfigMap", volume["configMap"]["name"])
    return configmap["data"][manifests.projected_key(mount, volume, path)]


def config_with_password_files(text, clients_path, proxy_path):
    """The configuration with its password files where this test keeps them."""
    for key, path in (("redis_auth_file", clients_path), ("server_auth_file", proxy_path)):
        text, count = re.subn(r"(?m)^(\s*%s:\s*).*$" % key, lambda m, p=path: m.group(1) + p,
                              text)
        assert count == 1, key
    return text


def password_files(tmp_path):
    """(clients', proxy's, admin's) password files holding the test's passwords."""
    paths = []
    for name, password in (("clients", PASSWORD), ("proxy", PROXY_PASSWORD),
                           ("admin", ADMIN_PASSWORD)):
        path = tmp_path / ("%s-password" % name)
        path.write_text(password)
        path.chmod(0o600)
        paths.append(str(path))
    return paths


def seconds(value):
    assert value is not None
    return int(value)


# ---------------------------------------------------------------------------------------------
# ringproxy's configuration


def test_config_loader_knows_the_password_file_keys():
    # The Deployment mounts the passwords from the Secrets as files and ringproxy.yml names them
    # with redis_auth_file and server_auth_file: no password may be written into the ConfigMap.
    # Without these keys in config/ the shipped configuration cannot be loaded.
    sources = glob.glob(os.path.join(manifests.SOURCE_DIR, "config", "*.cc"))
    for key in ("redis_auth_file", "server_auth_file"):
        declared = [p for p in sources if '"%s"' % key in open(p, encoding="utf-8").read()]
        assert declared, ("config/ declares no %s key: ringproxy cannot read a password from "
                          "the mounted Secret file that k8s/ relies on" % key)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_configmap_config_passes_ringproxy_t(directory, tmp_path):
    rendered = manifests.render(directory)
    text, _ = manifests.ringproxy_config(rendered)
    clients, proxy, _ = password_files(tmp_path)
    config = tmp_path / "ringproxy.yml"
    # Only the password files' paths change: where the Secrets are mounted in the pod.
    config.write_text(config_with_password_files(text, clients, proxy))
    result = subprocess.run([manifests.ringproxy_binary(), "-t", "-c", str(config)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, "ringproxy -t rejects the ConfigMap's configuration:\n%s%s" % (
        result.stdout, result.stderr)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_deployment_flags_are_accepted_by_ringproxy(directory, tmp_path):
    rendered = manifests.render(directory)
    deployment, _ = ringproxy_parts(rendered)
    argv = manifests.ringproxy_argv(deployment)
    assert argv[0] == "/usr/local/bin/ringproxy"
    text, _ = manifests.ringproxy_config(rendered)
    clients, proxy, _ = password_files(tmp_path)
    config = tmp_path / "ringproxy.yml"
    config.write_text(config_with_password_files(text, clients, proxy))
    # The container's own flags, then -t with a local copy of the configuration (last -c wins).
    result = subprocess.run([manifests.ringproxy_binary()] + argv[1:] + ["-t", "-c", str(config)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, "ringproxy refuses the container's arguments %s:\n%s%s" % (
        argv[1:], result.stdout, result.stderr)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_servers_are_the_statefulset_pods_by_stable_dns_name(directory):
    rendered = manifests.render(directory)
    statefulset, shard = redis_parts(rendered)
    name = statefulset["metadata"]["name"]
    service = statefulset["spec"]["serviceName"]
    namespace = statefulset["metadata"].get("namespace", "default")
    port = manifests.container_port(shard, "redis")
    expected = ["%s-%d.%s.%s.svc.cluster.local:%d:1 %s-%d" % (name, i, service, namespace, port,
                                                               name, i)
                for i in range(statefulset["spec"]["replicas"])]
    text, _ = manifests.ringproxy_config(rendered)
    servers = [" ".join(str(s).split()) for s in pool_of(text)["servers"]]
    assert servers == expected


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_pool_listens_on_the_container_port_on_every_interface(directory):
    rendered = manifests.render(directory)
    _, c = ringproxy_parts(rendered)
    text, _ = manifests.ringproxy_config(rendered)
    host, _, port = str(pool_of(text)["listen"]).rpartition(":")
    assert host == "0.0.0.0"
    assert int(port) == manifests.container_port(c, "redis")


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_config_file_path_matches_the_image_entrypoint(directory):
    rendered = manifests.render(directory)
    deployment, c = ringproxy_parts(rendered)
    entrypoint = manifests.dockerfile_entrypoint()
    assert manifests.flag_value(entrypoint, "conf-file", "c") == "/etc/ringproxy/ringproxy.yml"
    assert "command" not in c, "the container overrides the image's entrypoint"
    # ringproxy_config() asserts the ConfigMap is mounted there, with no subPath.
    _, path = manifests.ringproxy_config(rendered)
    assert path == "/etc/ringproxy/ringproxy.yml"


# ---------------------------------------------------------------------------------------------
# Ports and probes


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_service_ports_match_container_ports(directory):
    rendered = manifests.render(directory)
    for service in rendered.all("Service"):
        selector = service["spec"].get("selector", {})
        workloads = [w for w in rendered.workloads() if manifests.selects(selector, w)]
        assert len(workloads) == 1, "Service %s selects %d workloads" % (
            service["metadata"]["name"], len(workloads))
        c = manifests.container(workloads[0])
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            resolved = manifests.container_port(c, target)
            assert resolved is not None, "Service %s port %s targets %r, which %s does not " \
                "expose" % (service["metadata"]["name"], port.get("name"), target, c["name"])
            assert resolved == port["port"], "Service %s maps %d to %d" % (
                service["metadata"]["name"], port["port"], resolved)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_stats_port_is_the_entrypoints_and_the_scrape_target(directory):
    rendered = manifests.render(directory)
    deployment, c = ringproxy_parts(rendered)
    stats = int(manifests.flag_value(manifests.ringproxy_argv(deployment), "stats-port", "s"))
    assert manifests.container_port(c, "stats") == stats
    argv = manifests.ringproxy_argv(deployment)
    assert manifests.flag_value(argv, "stats-addr", "a") == "0.0.0.0"
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true"
    assert int(annotations["prometheus.io/port"]) == stats
    assert annotations["prometheus.io/path"] == "/metrics"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            assert manifests.container_port(c, c[probe]["httpGet"]["port"]) == stats, probe
    service = rendered.one("Service", "ringproxy")
    service_ports = {p.get("name"): p for p in service["spec"]["ports"]}
    for monitor in rendered.all("ServiceMonitor"):
        assert manifests.selects(monitor["spec"]["selector"]["matchLabels"],
                          {"spec": {"template": {"metadata": service["metadata"]}}})
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in service_ports
            assert service_ports[endpoint["port"]]["port"] == stats
            assert endpoint.get("path", "/metrics") == "/metrics"


def probe_paths(rendered):
    deployment, c = ringproxy_parts(rendered)
    paths = {c[p]["httpGet"]["path"]: p for p in ("livenessProbe", "readinessProbe",
                                                   "startupProbe") if p in c}
    assert set(paths.values()) >= {"livenessProbe", "readinessProbe"}
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    paths[deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]] = \
        "metrics"
    return paths


class StartScriptRedis(harness.ManagedProcess):
    """redis-server started by the StatefulSet's start script, as the pod starts it, on loopback.

    Only the data directory differs from the pod's (/data is its volume); the script and the
    rest of redis.conf are the ConfigMap's, the password files hold the test's passwords."""

    name = "redis-start.sh"

    def __init__(self, workdir, rendered, admin_password_path, proxy_password_path):
        super().__init__(workdir)
        self.rendered = rendered
        self.admin_password_path = admin_password_path
        self.proxy_password_path = proxy_password_path
        self.port = None

    def start(self):
        script, _, conf_path = redis_start_script(self.rendered)
        conf, count = re.subn(r"(?m)^dir .*$", "dir " + self.workdir,
                              redis_conf_text(self.rendered, conf_path))
        assert count == 1
        with open(os.path.join(self.workdir, "redis.conf"), "w", encoding="utf-8") as f:
            f.write(conf)
        with open(os.path.join(self.workdir, "redis-start.sh"), "w", encoding="utf-8") as f:
            f.write(script)
        self.port = harness.free_port()
        argv = ["sh", os.path.join(self.workdir, "redis-start.sh"), "--port", str(self.port),
                "--bind", "127.0.0.1", "--daemonize", "no"]
        self.output_path = os.path.join(self.workdir, "redis.log")
        env = dict(os.environ, REDIS_CONF=os.path.join(self.workdir, "redis.conf"),
                   REDIS_ADMIN_PASSWORD_FILE=self.admin_password_path,
                   REDIS_PROXY_PASSWORD_FILE=self.proxy_password_path)
        with open(self.output_path, "ab") as out:
            self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.workdir, env=env, start_new_session=True)
        self.argv = argv
        self.wait_listening([self.port])
        return self


def start_redis_with_start_script(rendered, group, admin_password_path, proxy_password_path):
    """Starts one shard the way the StatefulSet does; returns its port."""
    return group.add(StartScriptRedis(group.new_workdir(), rendered, admin_password_path,
                                      proxy_password_path)).port


@pytest.fixture
def processes():
    with harness.ProcessGroup(prefix="ringproxy-k8s-") as group:
        yield group


SCRIPT_ERROR = "can't run this command or subcommand"


@pytest.mark.parametrize("directory", ["base"])
def test_redis_start_script_sets_the_secrets_users_and_redis_conf(directory, processes,
                                                                   tmp_path):
    rendered = manifests.render(directory)
    _, proxy_file, admin_file = password_files(tmp_path)
    port = start_redis_with_start_script(rendered, processes, admin_file, proxy_file)
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, socket_timeout=5).ping()
    admin = redis.Redis(port=port, password=ADMIN_PASSWORD, socket_timeout=5)
    assert admin.ping()
    assert admin.config_get("appendonly") == {"appendonly": "yes"}
    assert admin.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    # The proxy's user works with keys, and neither it nor a script it sends can run a
    # @dangerous or @admin command.
    proxy = redis.Redis(port=port, username="proxy", password=PROXY_PASSWORD, socket_timeout=5)
    assert proxy.set("k", "v") is True
    with pytest.raises(redis.exceptions.NoPermissionError):
        proxy.flushall()
    with pytest.raises(redis.exceptions.NoPermissionError):
        proxy.config_set("appendonly", "no")
    with pytest.raises(redis.exceptions.ResponseError, match=SCRIPT_ERROR):
        proxy.eval("return redis.call('FLUSHALL')", 1, "k")
    assert admin.get("k") == b"v"
    # The clients' password opens nothing.
    with pytest.raises(redis.exceptions.RedisError, match="WRONGPASS|invalid"):
        redis.Redis(port=port, password=PASSWORD, socket_timeout=5).ping()
    # The StatefulSet's readiness probe, pointed at this redis and this password file.
    _, c = redis_parts(rendered)
    _, defaults, _ = redis_start_script(rendered)
    probe = c["readinessProbe"]["exec"]["command"]
    assert defaults["admin"] in probe[-1]
    command = probe[:-1] + [probe[-1].replace(defaults["admin"], admin_file)
                            .replace("-p 6379", "-p %d" % port)]
    assert subprocess.run(command, timeout=10, check=False).returncode == 0
    for client in (admin, proxy):
        client.close()


@pytest.mark.parametrize("directory", ["base"])
def test_probe_paths_answer_on_a_running_ringproxy_that_serves_the_secrets_password(
        directory, processes, tmp_path):
    # The pod as far as one machine can be it: redis shards started by the StatefulSet's script
    # with the Secret's passwords, ringproxy with the ConfigMap's configuration (servers on
    # loopback under the same names, the same password files) and the Deployment's arguments.
    rendered = manifests.render(directory)
    deployment, _ = ringproxy_parts(rendered)
    clients, proxy_file, admin_file = password_files(tmp_path)
    text, _ = manifests.ringproxy_config(rendered)
    pool_name, pool = next(iter(yaml.safe_load(text).items()))
    servers = []
    ports = []
    for line in pool["servers"]:
        address, name = str(line).split()
        weight = address.rsplit(":", 1)[1]
        port = start_redis_with_start_script(rendered, processes, admin_file, proxy_file)
        servers.append("127.0.0.1:%d:%s %s" % (port, weight, name))
        ports.append(port)
    listen = harness.free_port()
    pool.update(listen="127.0.0.1:%d" % listen, servers=servers, redis_auth_file=clients,
                server_auth_file=proxy_file)
    args = manifests.container(deployment, "ringproxy").get("args", [])
    proxy = processes.ringproxy(config_text=yaml.safe_dump({pool_name: pool}),
                                listen_ports=[listen], extra_args=list(args))

    def stats_answers():
        try:
            return harness.http_get(proxy.stats_port, "/healthz").status > 0
        except OSError:
            return False
    harness.wait_until(stats_answers, harness.START_TIMEOUT, "ringproxy's stats port")

    for path, role in probe_paths(rendered).items():
        status, _, body = harness.http_get(proxy.stats_port, path)
        if role == "livenessProbe":
            assert status == 200, "%s %s -> %d %s" % (role, path, status, body)
        elif role == "metrics":
            assert status == 200 and "# TYPE" in body, "%s -> %d" % (path, status)
        else:
            assert status in (200, 503), "%s %s -> %d %s" % (role, path, status, body)
    client = redis.Redis(port=listen, password=PASSWORD, socket_timeout=10)
    for i in range(30):  # keys on every shard
        client.set("k8s-%d" % i, i)
    assert [int(v) for v in client.mget(["k8s-%d" % i for i in range(30)])] == list(range(30))
    # A script sent through the proxy runs as the shards' "proxy" user: it cannot empty a shard.
    with pytest.raises(redis.exceptions.ResponseError, match=SCRIPT_ERROR):
        client.eval("return redis.call('FLUSHALL')", 1, "k8s-0")
    assert sum(redis.Redis(port=p, password=ADMIN_PASSWORD, socket_timeout=5).dbsize()
               for p in ports) == 30
    client.close()
    harness.wait_until(lambda: harness.http_get(proxy.stats_port, "/readyz").status == 200,
                       harness.START_TIMEOUT, "/readyz 200 with every shard up")


# ---------------------------------------------------------------------------------------------
# The passwords


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_ringproxy_logs_in_to_the_shards_with_their_proxy_users_secret_key(directory):
    rendered = manifests.render(directory)
    deployment, proxy = ringproxy_parts(rendered)
    statefulset, shard = redis_parts(rendered)
    proxy_ref = secret_ref(deployment, proxy, auth_file_path(rendered, "server_auth_file"))
    script, defaults, _ = redis_start_script(rendered)
    redis_ref = secret_ref(statefulset, shard, defaults["proxy"])
    assert proxy_ref == redis_ref
    assert rendered.secret_value(*proxy_ref), "no Secret %s with key %s is rendered" % proxy_ref
    assert pool_of(manifests.ringproxy_config(rendered)[0]).get("server_auth_user") == "proxy"
    assert re.search(r"(?m)^user proxy on .+ ~\* \+@all -@dangerous -@admin$", script), (
        "the shards' proxy user is not fenced in")


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_clients_shards_and_admin_passwords_are_three_secrets(directory):
    rendered = manifests.render(directory)
    deployment, proxy = ringproxy_parts(rendered)
    statefulset, shard = redis_parts(rendered)
    _, defaults, _ = redis_start_script(rendered)
    clients_ref = secret_ref(deployment, proxy, auth_file_path(rendered))
    proxy_ref = secret_ref(statefulset, shard, defaults["proxy"])
    admin_ref = secret_ref(statefulset, shard, defaults["admin"])
    assert len({clients_ref, proxy_ref, admin_ref}) == 3
    values = [rendered.secret_value(*ref) for ref in (clients_ref, proxy_ref, admin_ref)]
    assert all(values) and len(set(values)) == 3, "the example's passwords must differ"
    # ringproxy never mounts the shards' admin password, nor the shards the clients'.
    for workload, c, forbidden in ((deployment, proxy, admin_ref),
                                   (statefulset, shard, clients_ref)):
        for mount in c.get("volumeMounts", []):
            volume = next((v for v in manifests.pod_spec(workload)["volumes"]
                           if v["name"] == mount["name"]), {})  # else a volumeClaimTemplate
            if "secret" not in volume:
                continue
            keys = [i["key"] for i in volume["secret"].get("items", [])]
            assert keys, "%s mounts every key of Secret %s" % (
                workload["metadata"]["name"], volume["secret"]["secretName"])
            refs = {(volume["secret"]["secretName"], k) for k in keys}
            assert forbidden not in refs, "%s mounts %s" % (workload["metadata"]["name"],
                                                            forbidden)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_passwords_are_in_no_configmap(directory):
    rendered = manifests.render(directory)
    deployment, proxy = ringproxy_parts(rendered)
    statefulset, shard = redis_parts(rendered)
    _, defaults, _ = redis_start_script(rendered)
    passwords = [rendered.secret_value(*secret_ref(deployment, proxy, auth_file_path(rendered))),
                 rendered.secret_value(*secret_ref(statefulset, shard, defaults["proxy"])),
                 rendered.secret_value(*secret_ref(statefulset, shard, defaults["admin"]))]
    for configmap in rendered.all("ConfigMap"):
        name = configmap["metadata"]["name"]
        for key, value in configmap.get("data", {}).items():
            for password in passwords:
                assert password not in value, "ConfigMap %s key %s holds a password" % (name,
                                                                                         key)
            # Only the start script's here-document may set them, from the mounted files.
            assert not re.search(r'(?m)^\s*requirepass\s+(?!"\$\()', value), (
                "ConfigMap %s key %s sets requirepass literally" % (name, key))
            assert not re.search(r'(?m)^\s*user\s+\S+\s+on\s+(?!">\$\()', value), (
                "ConfigMap %s key %s sets a user's password literally" % (name, key))


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_the_example_secrets_are_placeholders_ringproxy_warns_about(directory, tmp_path):
    # `kubectl apply -k` must work for a try-out, and nobody may run the placeholders unawares.
    rendered = manifests.render(directory)
    deployment, proxy = ringproxy_parts(rendered)
    text, _ = manifests.ringproxy_config(rendered)
    paths = []
    for key in ("redis_auth_file", "server_auth_file"):
        ref = secret_ref(deployment, proxy, auth_file_path(rendered, key))
        path = tmp_path / key
        path.write_text(rendered.secret_value(*ref))
        path.chmod(0o600)
        paths.append(str(path))
    config = tmp_path / "ringproxy.yml"
    config.write_text(config_with_password_files(text, *paths))
    result = subprocess.run([manifests.ringproxy_binary(), "-t", "-c", str(config)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "the clients' password (redis_auth) is a well-known placeholder" in result.stderr
    assert "the servers' password (server_auth) is a well-known placeholder" in result.stderr


# ---------------------------------------------------------------------------------------------
# NetworkPolicy


def policies_for(rendered, workload):
    return [p for p in rendered.all("NetworkPolicy")
            if manifests.selects(p["spec"]["podSelector"].get("matchLabels", {}), workload)]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_shards_accept_connections_only_from_ringproxy_and_each_other(directory):
    rendered = manifests.render(directory)
    deployment, _ = ringproxy_parts(rendered)
    statefulset, shard = redis_parts(rendered)
    policies = policies_for(rendered, statefulset)
    assert len(policies) == 1, "expected one NetworkPolicy selecting the shards"
    spec = policies[0]["spec"]
    assert set(spec["podSelector"]) == {"matchLabels"}
    assert "Ingress" in spec["policyTypes"]
    assert spec.get("ingress"), "no ingress rule: the shards would accept no one"
    allowed = set()
    for rule in spec["ingress"]:
        # A rule without peers, or with a namespace or address block, lets others in.
        assert rule.get("from"), "an ingress rule without 'from' admits every pod"
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, "peer %s reaches beyond the two workloads" % peer
            selector = peer["podSelector"]
            assert set(selector) == {"matchLabels"} and selector["matchLabels"], peer
            selected = [w["metadata"]["name"] for w in rendered.workloads()
                        if manifests.selects(selector["matchLabels"], w)]
            assert selected, "peer %s selects no workload: a typo shuts the proxy out" % peer
            allowed.update(selected)
        assert rule.get("ports"), "an ingress rule without ports opens every port"
        for port in rule["ports"]:
            assert port.get("protocol", "TCP") == "TCP"
            assert manifests.container_port(shard, port["port"]) == \
                manifests.container_port(shard, "redis"), (
                    "port %r is not the shards' Redis port" % port["port"])
    assert allowed == {deployment["metadata"]["name"], statefulset["metadata"]["name"]}


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_ringproxy_itself_is_not_fenced_by_the_shards_policy(directory):
    rendered = manifests.render(directory)
    deployment, _ = ringproxy_parts(rendered)
    assert not policies_for(rendered, deployment), "clients must still reach ringproxy"


# ---------------------------------------------------------------------------------------------
# Shutdown, resources, security


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_grace_period_covers_prestop_and_drain(directory):
    rendered = manifests.render(directory)
    deployment, c = ringproxy_parts(rendered)
    drain = manifests.flag_value(manifests.ringproxy_argv(deployment), "drain-timeout")
    assert drain is not None, "the ringproxy container sets no --drain-timeout"
    pre_stop = c["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        sleep = seconds(pre_stop["sleep"]["seconds"])
    else:
        command = pre_stop["exec"]["command"]
        assert command[0] == "sleep" and len(command) == 2, command
        sleep = seconds(command[1])
    grace = seconds(manifests.pod_spec(deployment)["terminationGracePeriodSeconds"])
    assert grace > int(drain) + sleep, "grace %d <= drain %s + preStop %d" % (grace, drain, sleep)
    assert sleep >= 1


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_worker_count_follows_the_cpu_limit(directory):
    rendered = manifests.render(directory)
    deployment, c = ringproxy_parts(rendered)
    assert manifests.flag_value(manifests.ringproxy_argv(deployment), "workers") is None, (
        "--workers is set: the worker count would no longer follow the CPU limit")
    limits = c["resources"]["limits"]
    assert "cpu" in limits and "memory" in limits
    assert "cpu" in c["resources"]["requests"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_every_container_runs_locked_down(directory):
    rendered = manifests.render(directory)
    for workload in rendered.workloads():
        pod = manifests.pod_spec(workload).get("securityContext", {})
        for c in manifests.pod_spec(workload)["containers"]:
            security = c.get("securityContext", {})
            where = "%s/%s" % (workload["metadata"]["name"], c["name"])
            assert security.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert "ALL" in security.get("capabilities", {}).get("drop", []), where
            assert "privileged" not in security or security["privileged"] is False, where


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_ringproxy_runs_as_the_images_user(directory):
    deployment, _ = ringproxy_parts(manifests.render(directory))
    user, _, group = manifests.dockerfile_value("USER").partition(":")
    pod = manifests.pod_spec(deployment)["securityContext"]
    assert pod["runAsUser"] == int(user)
    assert pod.get("runAsGroup", int(group)) == int(group)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_image_exposes_the_container_ports(directory):
    _, c = ringproxy_parts(manifests.render(directory))
    exposed = {int(p.split("/")[0]) for p in manifests.dockerfile_value("EXPOSE").split()}
    assert exposed == {p["containerPort"] for p in c["ports"]}


# ---------------------------------------------------------------------------------------------
# Redis StatefulSet, Services, disruption budgets, spreading


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_statefulset_and_its_headless_service(directory):
    rendered = manifests.render(directory)
    statefulset, c = redis_parts(rendered)
    spec = statefulset["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    headless = rendered.one("Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert "publishNotReadyAddresses" in headless["spec"], "a deliberate choice: state it"
    assert manifests.selects(headless["spec"]["selector"], statefulset)
    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    mounted = {m["name"] for m in c["volumeMounts"]}
    assert claims <= mounted, "volumeClaimTemplates %s not mounted" % (claims - mounted)
    data = next(m for m in c["volumeMounts"] if m["name"] in claims)
    conf = redis_conf_text(rendered, redis_start_script(rendered)[2])
    assert re.search(r"(?m)^dir %s$" % re.escape(data["mountPath"]), conf)
    assert "livenessProbe" in c and "readinessProbe" in c
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_disruption_budgets_cover_each_workload(directory):
    rendered = manifests.render(directory)
    for workload in rendered.workloads():
        budgets = [p for p in rendered.all("PodDisruptionBudget")
                   if manifests.selects(p["spec"]["selector"]["matchLabels"], workload)]
        assert len(budgets) == 1, workload["metadata"]["name"]
        spec = budgets[0]["spec"]
        if "minAvailable" in spec:
            assert spec["minAvailable"] < workload["spec"]["replicas"], (
                "minAvailable %d blocks every drain" % spec["minAvailable"])


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_replicas_spread_across_nodes(directory):
    rendered = manifests.render(directory)
    deployment, _ = ringproxy_parts(rendered)
    assert deployment["spec"]["replicas"] >= 2
    for workload in rendered.workloads():
        constraints = manifests.pod_spec(workload).get("topologySpreadConstraints", [])
        hostname = [t for t in constraints if t["topologyKey"] == "kubernetes.io/hostname"]
        assert hostname and manifests.selects(hostname[0]["labelSelector"]["matchLabels"],
                                              workload), workload["metadata"]["name"]
