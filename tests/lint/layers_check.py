#!/usr/bin/env python3
"""Fails when a source file of hashing/, config/ or proxy/ includes a header of a layer it may not
depend on, or an include path that names no layer.

The link lines of the CMake libraries already keep a layer from reaching a library it does not
link; this check states the intended dependencies as one table and reads them off the sources, so
that a link line widened by mistake, or a header reached through another library's include root,
is caught with the file and line that did it.

Usage: layers_check.py SOURCE_DIR
"""

import os
import re
import sys

# Each layer, the layers its files may include (itself among them), and why. A layer is a folder:
# hashing/ and config/ at the top, the others under proxy/. proxy/main.cc counts as "process".
RULES = {
    "hashing": ({"hashing"},
                "key placement is linked alone by every tool that must know where a key lives"),
    "config": ({"config", "hashing"},
               "the config names hash functions and distributions, and is read without a proxy"),
    "base": ({"base"},
             "logging, buffers and numbers are what every layer uses, so they can use none"),
    "net": ({"base", "net", "config"},
            "sockets, DNS and TLS serve both planes and take their settings from the config"),
    "stats": ({"base", "stats"},
              "counters are written by workers and read by exporters, knowing neither"),
    "dataplane": ({"base", "net", "stats", "dataplane", "config", "hashing"},
                  "the workers route requests; the control plane drives them, not the reverse"),
    "observability": ({"base", "net", "stats", "observability", "config"},
                      "the stats port reads the stats layer and knows nothing of the data plane"),
    "controlplane": ({"base", "net", "stats", "dataplane", "observability", "controlplane",
                      "config", "hashing"},
                     "the control thread joins the planes; the process around it is above it"),
    "process": ({"base", "net", "stats", "dataplane", "observability", "controlplane", "process",
                 "config", "hashing"},
                "the command line and main() assemble everything"),
}

# Where each layer's files live, relative to the source directory.
FOLDERS = {layer: ("proxy/" + layer if layer not in ("hashing", "config") else layer)
           for layer in RULES}
# Files that belong to a layer without living in its folder.
LOOSE_FILES = {"proxy/main.cc": "process"}
SOURCE_SUFFIXES = (".h", ".hpp", ".inc", ".cc", ".cpp", ".c")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]*)"')


def layer_of_file(relpath):
    """The layer a source file (a path relative to the source directory) belongs to, or None."""
    if relpath in LOOSE_FILES:
        return LOOSE_FILES[relpath]
    for layer, folder in FOLDERS.items():
        if relpath.startswith(folder + "/"):
            return layer
    return None


def source_files(root):
    """Every C/C++ source under the checked folders, as sorted paths relative to root."""
    found = []
    for top in ("hashing", "config", "proxy"):
        for directory, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in files:
                if name.endswith(SOURCE_SUFFIXES):
                    found.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(p.replace(os.sep, "/") for p in found)


def check_include(root, layer, target):
    """The broken rule as a phrase, or None when `layer` may include `target`."""
    parts = target.split("/")
    if len(parts) < 2 or "." in parts or ".." in parts or "" in parts:
        return "an include names its layer as its first folder (\"dataplane/router.h\")"
    named = parts[0]
    if named not in RULES:
        return "'%s' is no layer (layers: %s)" % (named, ", ".join(sorted(RULES)))
    if named not in RULES[layer][0]:
        return "%s may not include %s: %s" % (layer, named, RULES[layer][1])
    if not os.path.isfile(os.path.join(root, FOLDERS[named], *parts[1:])):
        return "no such file in %s/" % FOLDERS[named]
    return None


def check(root):
    """(violations as "file:line: ..." lines, number of files, number of includes)."""
    violations = []
    includes = 0
    files = source_files(root)
    for relpath in files:
        layer = layer_of_file(relpath)
        if layer is None:
            violations.append("%s: the file is in no layer's folder (%s)"
                              % (relpath, ", ".join(sorted(f + "/" for f in FOLDERS.values()))))
            continue
        with open(os.path.join(root, relpath), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                includes += 1
                broken = check_include(root, layer, match.group(1))
                if broken:
                    violations.append('%s:%d: #include "%s": %s'
                                      % (relpath, number, match.group(1), broken))
    return violations, len(files), includes


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: layers_check.py SOURCE_DIR\n")
        return 2
    violations, files, includes = check(argv[1])
    if files == 0:
        sys.stderr.write("layers_check: no source file under %s\n" % argv[1])
        return 2
    if violations:
        sys.stderr.write("includes that break the layer rules (tests/lint/layers_check.py):\n")
        for v in violations:
            sys.stderr.write("  %s\n" % v)
        return 1
    print("layers: %d includes in %d files follow the layer rules" % (includes, files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
