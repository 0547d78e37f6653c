"""layers_check.py against small trees made here: a tree that keeps the rules passes, and each kind
of bad include is reported with its file, line, include and rule, failing the check."""

import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers_check.py")

# One header per layer, so that every include below names a file that exists.
HEADERS = ["hashing/hash_tag.h", "config/pool_config.h", "proxy/base/logger.h",
           "proxy/net/tls_context.h", "proxy/stats/stats.h", "proxy/dataplane/worker.h",
           "proxy/observability/stats_json.h", "proxy/controlplane/control_plane.h",
           "proxy/process/command_line.h"]


def make_tree(root, extra=None):
    """A tree with one header per layer, each including only what it may, plus `extra`
    ({relative path: text})."""
    files = {h: "#pragma once\n" for h in HEADERS}
    files["config/pool_config.h"] = '#pragma once\n#include "hashing/hash_tag.h"\n'
    files["proxy/dataplane/worker.cc"] = ('#include "dataplane/worker.h"\n\n#include <vector>\n'
                                          '#include "base/logger.h"\n#include "config/pool_config.h"\n'
                                          '#include "hashing/hash_tag.h"\n#include "net/tls_context.h"\n'
                                          '#include "stats/stats.h"\n')
    files["proxy/main.cc"] = "".join('#include "%s"\n' % h.split("/", 1)[1] if h.startswith("proxy/")
                                     else '#include "%s"\n' % h for h in HEADERS)
    files.update(extra or {})
    for relpath, text in files.items():
        path = os.path.join(root, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def run(root):
    return subprocess.run([sys.executable, SCRIPT, str(root)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_tree_that_keeps_the_rules_passes_and_main_may_include_every_layer(tmp_path):
    make_tree(tmp_path)
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "layers: 16 includes in 11 files follow the layer rules\n"


BAD = [
    # (file, include, what the report must say about it)
    ("proxy/observability/stats_json.cc", "dataplane/worker.h",
     "observability may not include dataplane: the stats port reads the stats layer"),
    ("hashing/hash_tag.cc", "config/pool_config.h", "hashing may not include config"),
    ("config/pool_loader.cc", "base/logger.h", "config may not include base"),
    ("proxy/base/logger.cc", "stats/stats.h", "base may not include stats"),
    ("proxy/net/tls_context.cc", "dataplane/worker.h", "net may not include dataplane"),
    ("proxy/stats/stats.cc", "net/tls_context.h", "stats may not include net"),
    ("proxy/dataplane/router.cc", "controlplane/control_plane.h",
     "dataplane may not include controlplane"),
    ("proxy/dataplane/router.cc", "observability/stats_json.h",
     "dataplane may not include observability"),
    ("proxy/controlplane/discovery.cc", "process/command_line.h",
     "controlplane may not include process"),
    ("proxy/dataplane/router.cc", "proxy/dataplane/worker.h", "'proxy' is no layer"),
    ("proxy/controlplane/discovery.cc", "worker.h", "an include names its layer"),
    ("proxy/dataplane/router.cc", "../base/logger.h", "an include names its layer"),
    ("proxy/dataplane/router.cc", "dataplane/../base/logger.h", "an include names its layer"),
    ("proxy/dataplane/router.cc", "dataplane/router.h", "no such file in proxy/dataplane/"),
]


@pytest.mark.parametrize("path,include,rule", BAD, ids=[b[0] + ":" + b[1] for b in BAD])
def test_a_bad_include_fails_the_check_naming_file_line_include_and_rule(tmp_path, path,
                                                                         include, rule):
    make_tree(tmp_path, {path: '// A file.\n\n#include "%s"\n' % include})
    result = run(tmp_path)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith("includes that break the layer rules"), result.stderr
    assert len(lines) == 2, result.stderr
    assert lines[1].startswith('  %s:3: #include "%s": %s' % (path, include, rule)), result.stderr


def test_an_indented_or_spaced_include_is_read_too(tmp_path):
    make_tree(tmp_path, {"proxy/stats/stats.cc": '#if 1\n  #  include "dataplane/worker.h"\n#endif\n'})
    result = run(tmp_path)
    assert result.returncode == 1
    assert 'proxy/stats/stats.cc:2: #include "dataplane/worker.h": stats may not include' \
        in result.stderr


def test_a_source_outside_every_layer_folder_fails_the_check(tmp_path):
    make_tree(tmp_path, {"proxy/stray.cc": "int x;\n", "proxy/newplane/thing.h": "#pragma once\n"})
    result = run(tmp_path)
    assert result.returncode == 1
    assert "proxy/stray.cc: the file is in no layer's folder" in result.stderr
    assert "proxy/newplane/thing.h: the file is in no layer's folder" in result.stderr


def test_every_violation_is_listed_not_only_the_first(tmp_path):
    make_tree(tmp_path, {"proxy/base/a.cc": '#include "stats/stats.h"\n#include "net/tls_context.h"\n',
                         "hashing/b.cc": '#include "config/pool_config.h"\n'})
    result = run(tmp_path)
    assert result.returncode == 1
    assert sorted(result.stderr.splitlines()[1:]) == sorted([
        '  hashing/b.cc:1: #include "config/pool_config.h": hashing may not include config: '
        "key placement is linked alone by every tool that must know where a key lives",
        '  proxy/base/a.cc:1: #include "stats/stats.h": base may not include stats: '
        "logging, buffers and numbers are what every layer uses, so they can use none",
        '  proxy/base/a.cc:2: #include "net/tls_context.h": base may not include net: '
        "logging, buffers and numbers are what every layer uses, so they can use none",
    ])


def test_an_empty_or_missing_source_directory_is_an_error_not_a_pass(tmp_path):
    result = run(tmp_path / "nowhere")
    assert result.returncode == 2
    assert "no source file" in result.stderr
