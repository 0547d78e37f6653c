"""k8s/ renders, validates against the Kubernetes schemas with no unknown field, and lints clean."""

import json
import os
import shutil
import subprocess

import pytest
import yaml

import manifests

HERE = os.path.dirname(os.path.abspath(__file__))
VALIDATOR = os.path.join(HERE, "validate_manifests.mjs")
YAMLLINT_CONFIG = os.path.join(HERE, "yamllint.yaml")
KUSTOMIZATIONS = manifests.kustomizations()


def node_modules():
    path = os.environ.get("RINGPROXY_K8S_NODE_MODULES")
    assert path and os.path.isdir(path), (
        "RINGPROXY_K8S_NODE_MODULES (%r) is not installed: ctest runs k8s.node_modules first, or "
        "run tests/k8s/install_node_modules.sh DIR and export DIR/node_modules" % path)
    return path


def validate(entries):
    node = shutil.which("node")
    assert node, "node is not on PATH (the machine's Node.js)"
    return subprocess.run([node, VALIDATOR, node_modules()], input=json.dumps(entries),
                          capture_output=True, text=True, timeout=120, check=False)


def test_every_overlay_and_the_root_are_rendered():
    names = set(KUSTOMIZATIONS)
    assert {".", "base", "overlays/shards-6", "overlays/prometheus-operator"} <= names, names


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_kustomization_renders(directory):
    rendered = manifests.render(directory)
    kinds = {o["kind"] for o in rendered.objects}
    assert {"StatefulSet", "Deployment", "Service", "ConfigMap", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_rendered_objects_validate_against_the_schemas(directory):
    entries = [{"source": "k8s/" + directory, "object": o}
               for o in manifests.render(directory).objects]
    result = validate(entries)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "%d objects valid" % len(entries) in result.stdout


def test_validator_rejects_unknown_fields_wrong_types_and_unknown_kinds():
    # The validator is what stands between a typo and a cluster that ignores it: make it prove
    # it still catches each kind of mistake on a real object.
    objects = manifests.render("base").objects
    deployment = json.loads(json.dumps(next(o for o in objects if o["kind"] == "Deployment")))
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    c["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    c["ports"][0]["containerPort"] = "22121"
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 30
    service = json.loads(json.dumps(next(o for o in objects if o["kind"] == "Service")))
    service["kind"] = "Servce"
    result = validate([{"source": "mutated", "object": deployment},
                       {"source": "mutated", "object": service}])
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "unknown field spec.template.spec.containers[0].readinessProbe.httpGet.pathh" in out
    assert "unknown field spec.template.spec.terminationGracePeriod" in out
    assert "containerPort must be integer" in out
    assert "unknown kind Servce in v1" in out


def test_yamllint_is_clean():
    yamllint = shutil.which("yamllint")
    assert yamllint, "yamllint is not installed: run .ci/install-deps"
    result = subprocess.run([yamllint, "-f", "parsable", "-c", YAMLLINT_CONFIG, manifests.K8S_DIR],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_k8s_file_is_used_by_a_kustomization():
    # A manifest no kustomization lists is never validated, and never deployed.
    listed = set()
    for root, _, files in os.walk(manifests.K8S_DIR):
        for name in files:
            if name in ("kustomization.yaml", "kustomization.yml"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    k = yaml.safe_load(f)
                listed.add(os.path.join(root, name))
                for entry in k.get("resources", []):
                    listed.add(os.path.normpath(os.path.join(root, entry)))
                for generator in k.get("configMapGenerator", []) + k.get("secretGenerator", []):
                    for entry in generator.get("files", []):
                        listed.add(os.path.normpath(os.path.join(root, entry.split("=")[-1])))
    unused = []
    for root, _, files in os.walk(manifests.K8S_DIR):
        for name in files:
            path = os.path.join(root, name)
            if path not in listed:
                unused.append(os.path.relpath(path, manifests.SOURCE_DIR))
    assert not unused, "files no kustomization uses: %s" % unused
