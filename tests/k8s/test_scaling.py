"""The shards-6 overlay only appends servers, and README states what that does to key placement.

Placement comes from ringproxy's own hashing library (tests/integration/placement_tool, which
the nutcracker oracle holds to nutcracker's placement) over the ConfigMaps' configurations.
"""

import collections
import os
import re
import subprocess

import pytest
import yaml

import manifests

KEYS = 100000
README = os.path.join(manifests.SOURCE_DIR, "README.md")


def pool(directory):
    text, _ = manifests.ringproxy_config(manifests.render(directory))
    return next(iter(yaml.safe_load(text).values()))


def placement_config(directory, tmp_path):
    # Placement depends on hash, distribution and servers only; the password files are not on
    # this machine, so their lines go (and the user that needs one).
    text, _ = manifests.ringproxy_config(manifests.render(directory))
    path = tmp_path / (directory.replace("/", "_") + ".yml")
    path.write_text(re.sub(r"(?m)^\s*(redis_auth_file|server_auth_file|server_auth_user):.*\n",
                           "", text))
    return str(path)


def place(config_path, keys):
    tool = os.path.join(manifests.build_dir(), "tests", "integration", "placement_tool")
    assert os.access(tool, os.X_OK), "%s is missing: build the placement_tool target" % tool
    result = subprocess.run([tool, "--config", config_path],
                            input="".join(k.encode().hex() + "\n" for k in keys),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    placed = result.stdout.split()
    assert len(placed) == len(keys)
    return placed


def readme_section(title):
    with open(README, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"(?ms)^## %s\n(.*?)(?=^## |\Z)" % re.escape(title), text)
    assert match, "README.md has no section '## %s'" % title
    return match.group(1)


def test_scaling_overlay_appends_servers_and_changes_nothing_else():
    base, scaled = pool("base"), pool("overlays/shards-6")
    assert scaled["servers"][:len(base["servers"])] == base["servers"], (
        "the existing servers must stay exactly as they are, or their keys move too")
    assert len(scaled["servers"]) == 6
    assert {k: v for k, v in scaled.items() if k != "servers"} == \
        {k: v for k, v in base.items() if k != "servers"}


@pytest.fixture(scope="module")
def moves(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("placement")
    keys = ["key:%d" % i for i in range(KEYS)]
    before = place(placement_config("base", tmp), keys)
    after = place(placement_config("overlays/shards-6", tmp), keys)
    return before, after


def test_keys_move_only_to_the_new_shards(moves):
    before, after = moves
    new = {str(s).split()[-1] for s in pool("overlays/shards-6")["servers"][3:]}
    moved = collections.Counter((a, b) for a, b in zip(before, after) if a != b)
    assert moved, "no key moved: the overlay did not add servers"
    assert all(b in new for _, b in moved), "keys moved between existing shards: %s" % [
        pair for pair in moved if pair[1] not in new]


def test_readme_states_the_fraction_of_keys_that_move(moves):
    before, after = moves
    fraction = sum(a != b for a, b in zip(before, after)) / len(before)
    assert 0.4 < fraction < 0.6, fraction  # ketama: about 3/6 of the ring goes to new servers
    section = readme_section("Scaling shards")
    stated = "%.1f%%" % (100 * fraction)
    assert stated in section, "README's 'Scaling shards' should say %s of %d keys move" % (
        stated, KEYS)
    assert "{:,}".format(KEYS) in section or str(KEYS) in section
