"""The proxy's command table against a live redis-server 7.0.

command_table_dump prints the table (proxy/command_table.cc); Redis's `COMMAND` says what the
server knows. Every command Redis lists must be in the table with the same arity and legacy key
range (for subcommand containers: the container itself, plus every keyed subcommand), the table
must list nothing Redis does not know, and the table's key extraction (CollectKeys) must find the
same keys as `COMMAND GETKEYS` for a command line of every keyed command and for the argument
forms of every command whose keys move (numkeys, STORE, STREAMS, KEYS, subcommands).
"""

import json
import os
import subprocess

import pytest
import redis

import harness

DUMP_TIMEOUT = 30  # seconds for command_table_dump to answer

# SORT_RO is flagged movablekeys for its BY/GET patterns, which name keys only through a pattern
# Redis expands itself; the proxy routes it by its one fixed key.
MOVABLE_BY_PATTERN_ONLY = {"sort_ro"}

# Command lines where Redis 7.0's COMMAND GETKEYS names no key although the command has one:
# PFMERGE's second key spec (source keys from index 2 on) starts past the end of a bare
# `PFMERGE dest`, and 7.0 then discards every spec of the command. PFMERGE dest merges into dest.
GETKEYS_MISSES = {("pfmerge", "a1")}

# Argument forms of the commands whose keys depend on their arguments.
MOVABLE_SAMPLES = [
    ["EVAL", "return 1", "2", "a", "b", "arg"],
    ["EVAL", "return 1", "0"],
    ["EVAL", "return 1", "0", "arg"],
    ["EVAL", "return 1", "3", "a", "b"],
    ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1", "a"],
    ["EVAL_RO", "return 1", "1", "a", "x"],
    ["EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "2", "a", "b"],
    ["FCALL", "f", "1", "a", "x", "y"],
    ["FCALL_RO", "f", "3", "a", "b", "c"],
    ["FCALL", "f", "0"],
    ["ZUNIONSTORE", "dest", "2", "a", "b", "WEIGHTS", "1", "2"],
    ["ZINTERSTORE", "dest", "1", "a"],
    ["ZDIFFSTORE", "dest", "3", "a", "b", "c"],
    ["ZUNION", "2", "a", "b", "WITHSCORES"],
    ["ZINTER", "1", "a"],
    ["ZDIFF", "2", "a", "b"],
    ["SINTERCARD", "2", "a", "b", "LIMIT", "5"],
    ["ZINTERCARD", "1", "a"],
    ["LMPOP", "2", "a", "b", "LEFT", "COUNT", "3"],
    ["ZMPOP", "1", "a", "MIN"],
    ["BLMPOP", "0", "2", "a", "b", "RIGHT"],
    ["BZMPOP", "1.5", "1", "a", "MAX"],
    ["SORT", "k"],
    ["SORT", "k", "BY", "w_*", "LIMIT", "0", "10", "GET", "#", "ALPHA", "STORE", "dest"],
    ["SORT", "k", "GET", "store", "DESC"],
    ["SORT", "k", "STORE", "a", "STORE", "b"],
    ["SORT_RO", "k", "BY", "w_*", "GET", "o_*"],
    ["GEORADIUS", "k", "15", "37", "200", "km"],
    ["GEORADIUS", "k", "15", "37", "200", "km", "WITHDIST", "STORE", "dest"],
    ["GEORADIUS", "k", "15", "37", "200", "km", "COUNT", "3", "STOREDIST", "dest"],
    ["GEORADIUSBYMEMBER", "k", "m", "100", "km", "STORE", "dest"],
    ["GEORADIUSBYMEMBER", "k", "m", "100", "km", "ASC"],
    ["MIGRATE", "127.0.0.1", "1", "k", "0", "1000"],
    ["MIGRATE", "127.0.0.1", "1", "", "0", "1000", "COPY", "REPLACE", "KEYS", "a", "b"],
    ["MIGRATE", "127.0.0.1", "1", "", "0", "1000", "AUTH", "pw", "KEYS", "a"],
    ["XREAD", "STREAMS", "a", "0"],
    ["XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "0", "$"],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"],
    ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "NOACK", "STREAMS", "a", "b", ">", ">"],
    ["OBJECT", "HELP"],
    ["MEMORY", "STATS"],
    ["XINFO", "STREAM", "k", "FULL"],
    ["XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"],
    ["SPUBLISH", "channel", "message"],
    ["MSET", "a", "1", "b", "2", "c", "3"],
]


def _dump_path():
    path = os.path.join(harness.build_dir(), "tests", "proxy", "command_table_dump")
    if not os.access(path, os.X_OK):
        raise harness.HarnessError("%s is missing: build the command_table_dump target" % path)
    return path


@pytest.fixture(scope="module")
def server(module_processes):
    return module_processes.redis()


@pytest.fixture(scope="module")
def client(server):
    c = server.client(decode_responses=True)
    # redis-py would reduce COMMAND's reply to a summary without subcommands (and misread COMMAND
    # GETKEYS as a COMMAND reply); take both raw.
    c.response_callbacks.pop("COMMAND", None)
    return c


@pytest.fixture(scope="module")
def redis_commands(client):
    """name -> COMMAND's raw entry (name, arity, flags, first, last, step, ..., subcommands)."""
    return {entry[0]: entry for entry in client.execute_command("COMMAND")}


@pytest.fixture(scope="module")
def table():
    out = subprocess.run([_dump_path()], check=True, capture_output=True, timeout=DUMP_TIMEOUT,
                         text=True).stdout
    return {entry["name"]: entry for entry in json.loads(out)["commands"]}


def collect_keys(lines):
    """CollectKeys' answer for each command line (a list of arguments)."""
    text = "".join("\t".join(args) + "\n" for args in lines)
    out = subprocess.run([_dump_path(), "--keys"], check=True, capture_output=True,
                         timeout=DUMP_TIMEOUT, input=text, text=True).stdout
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == len(lines)
    return answers


def redis_getkeys(client, args):
    """The keys `COMMAND GETKEYS` names, or None when Redis says the line names none."""
    try:
        keys = client.execute_command("COMMAND", "GETKEYS", *args)
    except redis.exceptions.ResponseError:
        return None
    return list(keys) or None


def test_table_has_every_command_redis_lists(redis_commands, table):
    missing = sorted(set(redis_commands) - set(table))
    assert missing == []


def test_table_lists_nothing_redis_does_not_know(redis_commands, table):
    unknown = sorted(set(table) - set(redis_commands))
    assert unknown == []


def test_arity_and_legacy_key_range_match_redis(redis_commands, table):
    mismatches = []
    for name, entry in sorted(redis_commands.items()):
        spec = table.get(name)
        if spec is None:
            continue  # reported by test_table_has_every_command_redis_lists
        ours = (spec["arity"], spec["first_key"], spec["last_key"], spec["key_step"])
        theirs = (entry[1], entry[3], entry[4], entry[5])
        if ours != theirs:
            mismatches.append("%s: table %s, redis %s" % (name, ours, theirs))
    assert mismatches == []


def test_keyed_subcommands_match_redis(redis_commands, table):
    mismatches = []
    for name, entry in sorted(redis_commands.items()):
        spec = table.get(name)
        if spec is None or spec["kind"] in ("local", "unsupported"):
            continue
        theirs = {sub[0].split("|", 1)[1]: (sub[1], sub[3], sub[4], sub[5]) for sub in entry[9]}
        keyed = {sub: shape for sub, shape in theirs.items() if shape[1] > 0}
        ours = {sub["name"]: (sub["arity"], sub["first_key"], sub["last_key"], sub["key_step"])
                for sub in spec["subcommands"]}
        if ours != keyed:
            mismatches.append("%s: table %s, redis (keyed) %s" % (name, ours, keyed))
    assert mismatches == []


def test_keyless_commands_are_answered_by_the_proxy_sent_everywhere_or_unsupported(
        redis_commands, table):
    wrong = []
    for name, entry in sorted(redis_commands.items()):
        flags, first_key = entry[2], entry[3]
        keyed_subcommands = any(sub[3] > 0 for sub in entry[9])
        if first_key == 0 and "movablekeys" not in flags and not keyed_subcommands:
            if table[name]["kind"] not in ("local", "transaction", "fan_out", "pool",
                                             "unsupported", "pubsub"):
                wrong.append(name)
    assert wrong == []


# XREAD and XREADGROUP block only with BLOCK: without it they route by their streams, and the
# Router refuses the BLOCK form.
BLOCKING_ONLY_WITH_AN_OPTION = {"xread", "xreadgroup"}


def test_blocking_commands_are_their_own_kind_and_pubsub_ones_the_hubs(redis_commands, table):
    wrong = [name for name, entry in sorted(redis_commands.items())
             if "blocking" in entry[2]
             and name not in BLOCKING_ONLY_WITH_AN_OPTION
             and table[name]["kind"] != "blocking"]
    assert wrong == []
    assert [name for name, entry in sorted(redis_commands.items())
            if "pubsub" in entry[2] and table[name]["kind"] != "pubsub"] == []
    assert all(table[name]["kind"] == "multi_key" for name in BLOCKING_ONLY_WITH_AN_OPTION)


def test_commands_with_movable_keys_have_a_key_pattern(redis_commands, table):
    wrong = [name for name, entry in sorted(redis_commands.items())
             if "movablekeys" in entry[2] and name not in MOVABLE_BY_PATTERN_ONLY
             and table[name]["key_pattern"] == "range"]
    assert wrong == []


def _lines(words, arity, step):
    """A command line at the minimal arity, and for a variadic command one `step` longer."""
    counts = [abs(arity)] + ([abs(arity) + step] if arity < 0 else [])
    return [words + ["a%d" % i for i in range(len(words), count)] for count in counts]


def _fixed_key_samples(redis_commands):
    """Command lines of every keyed command and keyed subcommand."""
    samples = []
    for name, entry in sorted(redis_commands.items()):
        arity, flags, first_key, step = entry[1], entry[2], entry[3], entry[5]
        if first_key > 0 and "movablekeys" not in flags:
            samples += _lines([name], arity, step)
        for sub in entry[9]:
            if sub[3] > 0:
                samples += _lines(sub[0].split("|"), sub[1], sub[5])
    return samples


def test_collect_keys_matches_command_getkeys(client, redis_commands):
    samples = _fixed_key_samples(redis_commands) + MOVABLE_SAMPLES
    assert len(samples) > 150
    mismatches = []
    for args, answer in zip(samples, collect_keys(samples)):
        expected = [args[1]] if tuple(args) in GETKEYS_MISSES else redis_getkeys(client, args)
        ours = [args[i] for i in answer["keys"]] if answer["scan"] == "ok" else None
        if ours != expected:
            mismatches.append("%s: table %s %s, redis %s" % (args, answer["scan"], ours, expected))
    assert mismatches == []


def test_single_key_commands_name_exactly_one_key(redis_commands, table):
    samples = [args for args in _fixed_key_samples(redis_commands)
               if table[args[0]]["kind"] == "single_key"]
    assert samples
    wrong = [args for args, answer in zip(samples, collect_keys(samples))
             if answer["scan"] != "ok" or len(answer["keys"]) != 1]
    assert wrong == []


def test_split_commands_match_redis_key_ranges(redis_commands, table):
    split = {name: spec["kind"] for name, spec in table.items() if spec["kind"].startswith("split")}
    assert split == {"mget": "split_get", "mset": "split_set", "del": "split_count",
                     "unlink": "split_count", "touch": "split_count", "exists": "split_count"}
    for name in split:
        assert redis_commands[name][3:6] == [1, -1, 2 if name == "mset" else 1]
