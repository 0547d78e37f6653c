// command_table_dump: shows the command table to tests that compare it with a live Redis.
//
//   command_table_dump          prints the whole table as one JSON document
//   command_table_dump --keys   reads command lines from stdin, one per line with arguments
//                               separated by TAB (so empty arguments can be given), and prints
//                               for each a JSON line {"scan": "...", "keys": [indices]}
//
// tests/integration/test_command_table.py drives it.
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/command_table.h"

namespace {

using ringproxy::proxy::CommandKind;
using ringproxy::proxy::CommandSpec;
using ringproxy::proxy::KeyPattern;
using ringproxy::proxy::KeyScan;
using ringproxy::proxy::LocalCommand;

std::string_view KindName(CommandKind kind) {
  switch (kind) {
    case CommandKind::kSingleKey:
      return "single_key";
    case CommandKind::kMultiKey:
      return "multi_key";
    case CommandKind::kSplitGet:
      return "split_get";
    case CommandKind::kSplitSet:
      return "split_set";
    case CommandKind::kSplitCount:
      return "split_count";
    case CommandKind::kLocal:
      return "local";
    case CommandKind::kTransaction:
      return "transaction";
    case CommandKind::kFanOut:
      return "fan_out";
    case CommandKind::kPool:
      return "pool";
    case CommandKind::kUnsupported:
      return "unsupported";
    case CommandKind::kBlocking:
      return "blocking";
    case CommandKind::kPubSub:
      return "pubsub";
  }
  return "?";
}

std::string_view LocalName(LocalCommand local) {
  switch (local) {
    case LocalCommand::kNone:
      return "none";
    case LocalCommand::kPing:
      return "ping";
    case LocalCommand::kEcho:
      return "echo";
    case LocalCommand::kQuit:
      return "quit";
    case LocalCommand::kAuth:
      return "auth";
    case LocalCommand::kSelect:
      return "select";
    case LocalCommand::kHello:
      return "hello";
    case LocalCommand::kCommand:
      return "command";
    case LocalCommand::kClient:
      return "client";
    case LocalCommand::kInfo:
      return "info";
    case LocalCommand::kMulti:
      return "multi";
    case LocalCommand::kExec:
      return "exec";
    case LocalCommand::kDiscard:
      return "discard";
    case LocalCommand::kWatch:
      return "watch";
    case LocalCommand::kUnwatch:
      return "unwatch";
    case LocalCommand::kSubscribe:
      return "subscribe";
    case LocalCommand::kUnsubscribe:
      return "unsubscribe";
    case LocalCommand::kPsubscribe:
      return "psubscribe";
    case LocalCommand::kPunsubscribe:
      return "punsubscribe";
    case LocalCommand::kSsubscribe:
      return "ssubscribe";
    case LocalCommand::kSunsubscribe:
      return "sunsubscribe";
    case LocalCommand::kPublish:
      return "publish";
    case LocalCommand::kSpublish:
      return "spublish";
    case LocalCommand::kPubsub:
      return "pubsub";
    case LocalCommand::kReset:
      return "reset";
  }
  return "?";
}

std::string_view PatternName(KeyPattern pattern) {
  switch (pattern) {
    case KeyPattern::kRange:
      return "range";
    case KeyPattern::kNumkeys:
      return "numkeys";
    case KeyPattern::kNumkeysMayBeZero:
      return "numkeys_may_be_zero";
    case KeyPattern::kSortStore:
      return "sort_store";
    case KeyPattern::kGeoStore:
      return "geo_store";
    case KeyPattern::kMigrate:
      return "migrate";
    case KeyPattern::kXread:
      return "xread";
    case KeyPattern::kXreadGroup:
      return "xreadgroup";
    case KeyPattern::kSubcommand:
      return "subcommand";
    case KeyPattern::kNotKeys:
      return "not_keys";
    case KeyPattern::kKeySpecs:
      return "key_specs";
  }
  return "?";
}

std::string_view ScanName(KeyScan scan) {
  switch (scan) {
    case KeyScan::kOk:
      return "ok";
    case KeyScan::kBadNumkeys:
      return "bad_numkeys";
    case KeyScan::kNoKeys:
      return "no_keys";
    case KeyScan::kWrongArity:
      return "wrong_arity";
    case KeyScan::kSyntaxError:
      return "syntax_error";
  }
  return "?";
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void PrintTable() {
  std::string out = "{\"commands\": [\n";
  bool first = true;
  for (const CommandSpec& spec : ringproxy::proxy::AllCommands()) {
    out += first ? "  " : ",\n  ";
    first = false;
    out += "{\"name\": " + Quote(spec.name) + ", \"arity\": " + std::to_string(spec.arity) +
           ", \"kind\": " + Quote(KindName(spec.kind)) +
           ", \"local\": " + Quote(LocalName(spec.local)) +
           ", \"first_key\": " + std::to_string(spec.first_key) +
           ", \"last_key\": " + std::to_string(spec.last_key) +
           ", \"key_step\": " + std::to_string(spec.key_step) +
           ", \"key_pattern\": " + Quote(PatternName(spec.key_pattern)) +
           ", \"pattern_arg\": " + std::to_string(spec.pattern_arg) + ", \"subcommands\": [";
    bool first_sub = true;
    for (const auto& sub : spec.subcommands) {
      out += first_sub ? "" : ", ";
      first_sub = false;
      out += "{\"name\": " + Quote(sub.name) + ", \"arity\": " + std::to_string(sub.arity) +
             ", \"first_key\": " + std::to_string(sub.first_key) +
             ", \"last_key\": " + std::to_string(sub.last_key) +
             ", \"key_step\": " + std::to_string(sub.key_step) + "}";
    }
    out += "]}";
  }
  out += "\n]}\n";
  std::fputs(out.c_str(), stdout);
}

int PrintKeys() {
  std::string line;
  std::vector<uint32_t> keys;
  while (std::getline(std::cin, line)) {
    std::vector<std::string_view> args;
    std::string_view rest = line;
    for (size_t tab = rest.find('\t'); tab != std::string_view::npos; tab = rest.find('\t')) {
      args.push_back(rest.substr(0, tab));
      rest.remove_prefix(tab + 1);
    }
    args.push_back(rest);
    const CommandSpec* spec = ringproxy::proxy::LookupCommand(args[0]);
    if (spec == nullptr) {
      std::printf("{\"scan\": \"unknown_command\", \"keys\": []}\n");
      continue;
    }
    keys.clear();
    const KeyScan scan = ringproxy::proxy::CollectKeys(*spec, args, &keys);
    std::string out = "{\"scan\": " + Quote(ScanName(scan)) + ", \"keys\": [";
    for (size_t i = 0; i < keys.size(); ++i) {
      out += (i == 0 ? "" : ", ") + std::to_string(keys[i]);
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 1) {
    PrintTable();
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (argc == 2 && std::string_view(argv[1]) == "--keys") {
    return PrintKeys();
  }
  std::fprintf(stderr, "usage: %s [--keys]\n", argv[0]);
  return 2;
}
