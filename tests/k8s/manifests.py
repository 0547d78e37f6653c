"""Helpers for the k8s/ checks: render kustomizations, pick objects, read the Dockerfile's contract.

Every kustomization under k8s/ (the root, the base and each overlay; not components, which only
render inside an overlay) is rendered once per test session with `kubectl kustomize`.
"""

import base64
import functools
import json
import os
import shlex
import shutil
import subprocess

import yaml

SOURCE_DIR = os.environ.get("RINGPROXY_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S_DIR = os.path.join(SOURCE_DIR, "k8s")
DOCKERFILE = os.path.join(SOURCE_DIR, "Dockerfile")

KUBECTL_MISSING = (
    "kubectl is not on PATH. It comes with the machine image (package kubectl from the Cloud SDK "
    "repository, kustomize v5); Debian's kubernetes-client 1.20 bundles kustomize v2, which "
    "cannot render components, so .ci/install-deps does not fall back to it.")


def build_dir():
    path = os.environ.get("RINGPROXY_BUILD_DIR")
    assert path, "RINGPROXY_BUILD_DIR is not set (run through ctest, or export it)"
    return path


def ringproxy_binary():
    path = os.path.join(build_dir(), "proxy", "ringproxy")
    assert os.access(path, os.X_OK), "%s is missing: build the ringproxy target first" % path
    return path


def kustomizations():
    """Directories under k8s/ holding a Kustomization (not a Component), relative to k8s/."""
    found = []
    for root, dirs, files in os.walk(K8S_DIR):
        dirs.sort()
        for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            if name in files:
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    kind = (yaml.safe_load(f) or {}).get("kind", "Kustomization")
                if kind == "Kustomization":
                    found.append(os.path.relpath(root, K8S_DIR))
                break
    return sorted(found)


class Rendered:
    """The objects one kustomization renders to."""

    def __init__(self, directory, objects):
        self.directory = directory
        self.objects = objects

    def all(self, kind):
        return [o for o in self.objects if o.get("kind") == kind]

    def one(self, kind, name=None):
        matches = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        assert len(matches) == 1, "%s: expected one %s%s, found %d" % (
            self.directory, kind, " named %s" % name if name else "", len(matches))
        return matches[0]

    def find(self, kind, name):
        matches = [o for o in self.all(kind) if o["metadata"]["name"] == name]
        return matches[0] if matches else None

    def workloads(self):
        return self.all("Deployment") + self.all("StatefulSet")

    def secret_value(self, name, key):
        secret = self.find("Secret", name)
        if secret is None:
            return None
        if key in secret.get("stringData", {}):
            return secret["stringData"][key]
        if key in secret.get("data", {}):
            return base64.b64decode(secret["data"][key]).decode()
        return None


@functools.lru_cache(maxsize=None)
def render(directory):
    kubectl = shutil.which("kubectl")
    assert kubectl, KUBECTL_MISSING
    result = subprocess.run([kubectl, "kustomize", os.path.join(K8S_DIR, directory)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, "kubectl kustomize k8s/%s failed:\n%s" % (directory,
                                                                            result.stderr)
    objects = [o for o in yaml.safe_load_all(result.stdout) if o is not None]
    assert objects, "k8s/%s renders no objects" % directory
    return Rendered(directory, objects)


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def container(workload, name=None):
    containers = pod_spec(workload)["containers"]
    if name is None:
        assert len(containers) == 1, "%s has %d containers" % (workload["metadata"]["name"],
                                                                len(containers))
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def container_port(c, name_or_number):
    """The containerPort a Service targetPort or a probe port refers to, or None."""
    for port in c.get("ports", []):
        if name_or_number in (port.get("name"), port["containerPort"]):
            return port["containerPort"]
    return None


def selects(selector, workload):
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def volume_for_path(workload, c, path):
    """(volumeMount, volume) of the mount in container `c` holding file `path`."""
    best = None
    for mount in c.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix) and (best is None or len(prefix) > len(best["mountPath"])):
            best = mount
    assert best is not None, "%s: no volume is mounted where %s lives" % (
        workload["metadata"]["name"], path)
    volume = next(v for v in pod_spec(workload).get("volumes", []) if v["name"] == best["name"])
    return best, volume


def projected_key(mount, volume, path):
    """The ConfigMap/Secret key that appears as file `path` through `mount` of `volume`."""
    relative = path[len(mount["mountPath"].rstrip("/")) + 1:]
    source = volume.get("configMap") or volume.get("secret") or {}
    items = source.get("items")
    if items is None:
        return relative
    for item in items:
        if item["path"] == relative:
            return item["key"]
    return None


@functools.lru_cache(maxsize=None)
def dockerfile_instructions():
    """The final stage's instructions as (KEYWORD, argument text), continuations joined."""
    with open(DOCKERFILE, encoding="utf-8") as f:
        lines = f.read().split("\n")
    instructions, current = [], ""
    for line in lines:
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += (" " if current else "") + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, rest = current.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            current = ""
    last_from = max(i for i, (k, _) in enumerate(instructions) if k == "FROM")
    return instructions[last_from:]


def dockerfile_value(keyword):
    values = [rest for k, rest in dockerfile_instructions() if k == keyword]
    assert values, "the Dockerfile's final stage has no %s" % keyword
    return values[-1]


def dockerfile_entrypoint():
    return json.loads(dockerfile_value("ENTRYPOINT"))


def flag_value(argv, long_name, short_name=None):
    """The value of --long_name[=V] / --long_name V / -s V in argv, or None."""
    for i, arg in enumerate(argv):
        if arg.startswith("--%s=" % long_name):
            return arg.split("=", 1)[1]
        if arg == "--%s" % long_name or (short_name and arg == "-%s" % short_name):
            return argv[i + 1] if i + 1 < len(argv) else None
    return None


def ringproxy_argv(deployment):
    """What the ringproxy container runs: the image's ENTRYPOINT unless overridden, plus args."""
    c = container(deployment, "ringproxy")
    command = c.get("command") or dockerfile_entrypoint()
    return list(command) + list(c.get("args", []))


def ringproxy_config(rendered):
    """(text, path) of the configuration file the ringproxy Deployment's pods read."""
    deployment = rendered.one("Deployment", "ringproxy")
    c = container(deployment, "ringproxy")
    path = flag_value(ringproxy_argv(deployment), "conf-file", "c")
    assert path, "the ringproxy container is started without -c"
    mount, volume = volume_for_path(deployment, c, path)
    assert "subPath" not in mount, (
        "%s is mounted with subPath: kubelet never updates such a file, so a ConfigMap change "
        "would not reach ringproxy" % path)
    assert "configMap" in volume, "%s is not from a ConfigMap" % path
    configmap = rendered.one("ConfigMap", volume["configMap"]["name"])
    key = projected_key(mount, volume, path)
    assert key in configmap.get("data", {}), "ConfigMap %s has no key %s" % (
        configmap["metadata"]["name"], key)
    return configmap["data"][key], path


def shell_words(text):
    return shlex.split(text)
