#include "process/command_line.h"

#include "config/byte_size.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "config/byte_size.h"

namespace ringproxy::proxy {
namespace {

// nutcracker's log levels run from LOG_EMERG (0) to LOG_PVERB (11); it clamps into that range.
constexpr int kMinVerbosity = 0;
constexpr int kMaxVerbosity = 11;
constexpr size_t kMinMbufSize = 512;
constexpr size_t kMaxMbufSize = 16777216;
constexpr int kMaxWorkers = 1024;

enum class Value { kNone, kNumber, kFile, kString };

struct Flag {
  char short_name;  // '\0' when the flag is long-only
  std::string_view long_name;
  Value value;
};

constexpr std::array kFlags = {
    Flag{'h', "help", Value::kNone},
    Flag{'V', "version", Value::kNone},
    Flag{'t', "test-conf", Value::kNone},
    Flag{'d', "daemonize", Value::kNone},
    Flag{'D', "describe-stats", Value::kNone},
    Flag{'v', "verbose", Value::kNumber},
    Flag{'o', "output", Value::kFile},
    Flag{'c', "conf-file", Value::kFile},
    Flag{'s', "stats-port", Value::kNumber},
    Flag{'i', "stats-interval", Value::kNumber},
    Flag{'a', "stats-addr", Value::kString},
    Flag{'p', "pid-file", Value::kFile},
    Flag{'m', "mbuf-size", Value::kNumber},
    Flag{'\0', "workers", Value::kNumber},
    Flag{'\0', "dns-server", Value::kString},
    Flag{'\0', "resolv-conf", Value::kFile},
    Flag{'\0', "dns-ttl-min", Value::kNumber},
    Flag{'\0', "dns-ttl-max", Value::kNumber},
    Flag{'\0', "drain-timeout", Value::kNumber},
    Flag{'\0', "max-clients", Value::kNumber},
    Flag{'\0', "allow-core-dumps", Value::kNone},
    Flag{'\0', "client-output-buffer-limit", Value::kString},
    Flag{'\0', "client-query-buffer-limit", Value::kString},
};

// How nutcracker reads a number on its command line (nc_atoi): digits only, at most INT32_MAX.
std::optional<int> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 10) {
    return std::nullopt;
  }
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  if (value > INT32_MAX) {
    return std::nullopt;
  }
  return static_cast<int>(value);
}

std::string Spelling(const Flag& flag) {
  if (flag.short_name != '\0') {
    return std::string("-") + flag.short_name;
  }
  return "--" + std::string(flag.long_name);
}

std::string_view ValueKind(Value value) {
  switch (value) {
    case Value::kNumber:
      return "a number";
    case Value::kFile:
      return "a file name";
    case Value::kString:
      return "a string";
    case Value::kNone:
      break;
  }
  return "no value";
}

// ringproxy's own flags, which have no short form.
std::optional<std::string> ApplyLongOnly(const Flag& flag, std::string_view spelled,
                                         std::string_view value, std::optional<int> number,
                                         Options* options) {
  const std::string name(flag.long_name);
  if (name == "workers") {
    if (*number > kMaxWorkers) {
      return "option " + std::string(spelled) + " value " + std::to_string(*number) +
             " is more than " + std::to_string(kMaxWorkers) +
             " (0 picks one per CPU of the container's quota)";
    }
    options->workers = *number;
  } else if (name == "dns-server") {
    if (value.empty()) return "option " + std::string(spelled) + " needs HOST[:PORT]";
    options->dns_servers.emplace_back(value);
  } else if (name == "resolv-conf") {
    options->resolv_conf = std::string(value);
  } else if (name == "dns-ttl-min") {
    options->dns_ttl_min_s = *number;
  } else if (name == "dns-ttl-max") {
    if (*number < 1) return "option " + std::string(spelled) + " must be at least 1 second";
    options->dns_ttl_max_s = *number;
  } else if (name == "drain-timeout") {
    options->drain_timeout_s = *number;
  } else if (name == "max-clients") {
    options->max_clients = *number;
  } else if (name == "allow-core-dumps") {
    options->allow_core_dumps = true;
  } else if (name == "client-output-buffer-limit") {
    std::string reason;
    const std::optional<config::OutputBufferLimit> limit =
        config::ParseOutputBufferLimit(value, &reason);
    if (!limit)
      return "option " + std::string(spelled) + " \"" + std::string(value) + "\" " + reason;
    options->client_output_buffer_limit = *limit;
  } else if (name == "client-query-buffer-limit") {
    std::string reason;
    const std::optional<uint64_t> bytes = config::ParseByteSize(value, &reason);
    if (!bytes || *bytes == 0) {
      return "option " + std::string(spelled) + " \"" + std::string(value) + "\" " +
             (bytes ? std::string("must be more than 0") : reason);
    }
    options->client_query_buffer_limit = *bytes;
  }
  if (options->dns_ttl_min_s > options->dns_ttl_max_s) {
    return "option --dns-ttl-min (" + std::to_string(options->dns_ttl_min_s) +
           ") is more than --dns-ttl-max (" + std::to_string(options->dns_ttl_max_s) + ")";
  }
  return std::nullopt;
}

// Applies one flag; returns an error message, naming the flag as `spelled` ("-s" or
// "--stats-port"), when its value is refused.
std::optional<std::string> Apply(const Flag& flag, std::string_view spelled, std::string_view value,
                                 Options* options) {
  const std::optional<int> number =
      flag.value == Value::kNumber ? ParseNumber(value) : std::optional<int>();
  if (flag.value == Value::kNumber && !number) {
    return "option " + std::string(spelled) + " requires a number, not '" + std::string(value) +
           "'";
  }
  switch (flag.short_name) {
    case 'h':
      options->show_help = true;
      break;
    case 'V':
      options->show_version = true;
      break;
    case 't':
      options->test_conf = true;
      break;
    case 'd':
      options->daemonize = true;
      break;
    case 'D':
      options->describe_stats = true;
      break;
    case 'v':
      options->verbosity = std::clamp(*number, kMinVerbosity, kMaxVerbosity);
      break;
    case 'o':
      options->output_file = std::string(value);
      break;
    case 'c':
      options->conf_file = std::string(value);
      break;
    case 's':
      if (*number < 1 || *number > 65535) {
        return "option " + std::string(spelled) + " value " + std::to_string(*number) +
               " is not a valid port (1-65535)";
      }
      options->stats_port = static_cast<uint16_t>(*number);
      break;
    case 'i':
      options->stats_interval_ms = *number;
      break;
    case 'a':
      options->stats_addr = std::string(value);
      break;
    case 'p':
      options->pid_file = std::string(value);
      break;
    case 'm':
      if (static_cast<size_t>(*number) < kMinMbufSize ||
          static_cast<size_t>(*number) > kMaxMbufSize) {
        return "option " + std::string(spelled) + ": mbuf chunk size must be between " +
               std::to_string(kMinMbufSize) + " and " + std::to_string(kMaxMbufSize) + " bytes";
      }
      options->mbuf_size = static_cast<size_t>(*number);
      break;
    case '\0':
      return ApplyLongOnly(flag, spelled, value, number, options);
    default:
      break;
  }
  return std::nullopt;
}

const Flag* FindShort(char name) {
  const auto found = std::find_if(kFlags.begin(), kFlags.end(), [name](const Flag& flag) {
    return flag.short_name != '\0' && flag.short_name == name;
  });
  return found == kFlags.end() ? nullptr : &*found;
}

// getopt_long's matching: an exact name wins, else a prefix of exactly one name. A prefix that
// nutcracker's table alone would resolve ("--m": --mbuf-size) keeps that meaning although
// ringproxy's own flags (the ones without a short form, "--max-clients") also match it: a
// nutcracker command line means the same to ringproxy.
const Flag* FindLong(std::string_view name, std::string* error) {
  std::vector<const Flag*> matches;
  for (const Flag& flag : kFlags) {
    if (flag.long_name == name) {
      return &flag;
    }
    if (!name.empty() && flag.long_name.starts_with(name)) {
      matches.push_back(&flag);
    }
  }
  if (matches.size() == 1) {
    return matches.front();
  }
  const auto nutcrackers = std::count_if(matches.begin(), matches.end(),
                                         [](const Flag* flag) { return flag->short_name != '\0'; });
  if (nutcrackers == 1) {
    return *std::find_if(matches.begin(), matches.end(),
                         [](const Flag* flag) { return flag->short_name != '\0'; });
  }
  if (matches.empty()) {
    *error = "unrecognized option '--" + std::string(name) + "'";
  } else {
    *error = "option '--" + std::string(name) + "' is ambiguous; possibilities:";
    for (const Flag* flag : matches) {
      *error += " '--" + std::string(flag->long_name) + "'";
    }
  }
  return nullptr;
}

CommandLineResult Fail(std::string error) {
  return CommandLineResult{.options = std::nullopt, .error = std::move(error)};
}

}  // namespace

CommandLineResult ParseCommandLine(std::span<const char* const> args) {
  Options options;
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i] == nullptr ? std::string_view() : args[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      return Fail("unexpected argument '" + std::string(arg) + "'");
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg.starts_with("--")) {
      const std::string_view body = arg.substr(2);
      const size_t equals = body.find('=');
      const std::string_view name = body.substr(0, equals);
      std::string error;
      const Flag* flag = FindLong(name, &error);
      if (flag == nullptr) {
        return Fail(error);
      }
      std::string_view value;
      if (flag->value == Value::kNone) {
        if (equals != std::string_view::npos) {
          return Fail("option '--" + std::string(flag->long_name) + "' doesn't allow an argument");
        }
      } else if (equals != std::string_view::npos) {
        value = body.substr(equals + 1);
      } else if (i + 1 < args.size() && args[i + 1] != nullptr) {
        value = args[++i];
      } else {
        return Fail("option '--" + std::string(flag->long_name) + "' requires " +
                    std::string(ValueKind(flag->value)));
      }
      if (auto refused = Apply(*flag, "--" + std::string(flag->long_name), value, &options)) {
        return Fail(*refused);
      }
      continue;
    }
    // A cluster of short flags; one that takes a value takes the rest of the cluster, else the
    // next argument, whatever it looks like (as getopt does).
    for (size_t j = 1; j < arg.size(); ++j) {
      if (arg[j] == '?') {
        options.show_help = true;
        continue;
      }
      const Flag* flag = FindShort(arg[j]);
      if (flag == nullptr) {
        return Fail(std::string("invalid option -- '") + arg[j] + "'");
      }
      if (flag->value == Value::kNone) {
        Apply(*flag, Spelling(*flag), {}, &options);
        continue;
      }
      std::string_view value = arg.substr(j + 1);
      if (value.empty()) {
        if (i + 1 >= args.size() || args[i + 1] == nullptr) {
          return Fail("option " + Spelling(*flag) + " requires " +
                      std::string(ValueKind(flag->value)));
        }
        value = args[++i];
      }
      if (auto refused = Apply(*flag, Spelling(*flag), value, &options)) {
        return Fail(*refused);
      }
      break;
    }
  }
  return CommandLineResult{.options = std::move(options), .error = {}};
}

Options WithAbsolutePaths(const Options& options) {
  Options absolute = options;
  for (std::string* path :
       {&absolute.conf_file, &absolute.output_file, &absolute.pid_file, &absolute.resolv_conf}) {
    if (path->empty()) continue;
    std::error_code error;
    const std::filesystem::path resolved = std::filesystem::absolute(*path, error);
    if (!error) *path = resolved.lexically_normal().string();
  }
  return absolute;
}

std::string UsageText() {
  const Options defaults;
  std::string text;
  text += "Usage: ringproxy [-?hVdDt] [-v verbosity level] [-o output file]\n";
  text += "                 [-c conf file] [-s stats port] [-a stats addr]\n";
  text += "                 [-i stats interval] [-p pid file] [-m mbuf size]\n";
  text += "                 [--workers N] [--drain-timeout S] [--dns-server HOST:PORT]...\n";
  text += "                 [--resolv-conf FILE] [--dns-ttl-min S] [--dns-ttl-max S]\n";
  text += "                 [--max-clients N] [--allow-core-dumps]\n";
  text += "                 [--client-output-buffer-limit \"HARD SOFT SECONDS\"]\n";
  text += "                 [--client-query-buffer-limit SIZE]\n";
  text += "\n";
  text += "Options:\n";
  text += "  -h, --help             : print this help and exit\n";
  text += "  -V, --version          : print the version and exit\n";
  text += "  -t, --test-conf        : check the configuration file, report, and exit\n";
  text += "  -d, --daemonize        : detach and run in the background\n";
  text += "  -D, --describe-stats   : print what each statistic means and exit\n";
  text += "  -v, --verbose=N        : log level, " + std::to_string(kMinVerbosity) +
          " (emergencies only) to " + std::to_string(kMaxVerbosity) +
          " (default: " + std::to_string(defaults.verbosity) + ")\n";
  text += "  -o, --output=S         : log file (default: stderr)\n";
  text += "  -c, --conf-file=S      : configuration file (default: " + defaults.conf_file + ")\n";
  text += "  -s, --stats-port=N     : stats port (default: " + std::to_string(defaults.stats_port) +
          ")\n";
  text += "  -a, --stats-addr=S     : stats address (default: " + defaults.stats_addr + ")\n";
  text += "  -i, --stats-interval=N : stats aggregation interval in msec (default: " +
          std::to_string(defaults.stats_interval_ms) + " msec)\n";
  text += "  -p, --pid-file=S       : write the process id to this file (default: off)\n";
  text += "  -m, --mbuf-size=N      : buffer chunk size in bytes, " + std::to_string(kMinMbufSize) +
          " to " + std::to_string(kMaxMbufSize) +
          " (default: " + std::to_string(defaults.mbuf_size) + " bytes)\n";
  text += "      --workers=N        : worker threads; 0 starts one per CPU of the container's\n";
  text +=
      "                           CPU quota (default: " + std::to_string(defaults.workers) + ")\n";
  text += "      --drain-timeout=N  : on SIGTERM, seconds in-flight requests may take before the\n";
  text += "                           remaining clients are closed (default: " +
          std::to_string(defaults.drain_timeout_s) + ")\n";
  text += "      --dns-server=S     : DNS server HOST[:PORT] for server names (repeatable;\n";
  text += "                           default: the resolv.conf's nameservers)\n";
  text += "      --resolv-conf=S    : resolv.conf for nameservers, search list and ndots\n";
  text += "                           (default: /etc/resolv.conf)\n";
  text += "      --dns-ttl-min=N    : re-resolve a name at most this often, in seconds (default: " +
          std::to_string(defaults.dns_ttl_min_s) + ")\n";
  text +=
      "      --dns-ttl-max=N    : re-resolve a name at least this often, in seconds (default: " +
      std::to_string(defaults.dns_ttl_max_s) + ")\n";
  text += "      --max-clients=N    : client connections over all pools at once; one more gets\n";
  text += "                           \"max number of clients reached\" (default: 0, no limit)\n";
  text +=
      "      --allow-core-dumps : keep core dumps (and ptrace by the same user) possible when\n";
  text += "                           TLS private keys are loaded, for debugging (default: off)\n";
  text +=
      "      --client-output-buffer-limit=S : Redis's client-output-buffer-limit for the pools\n";
  text +=
      "                           that set no client_output_buffer_limit (default: \"1gb 32mb "
      "10\")\n";
  text += "      --client-query-buffer-limit=S : requests read ahead of a client at its soft\n";
  text += "                           output limit, for pools that set none (default: 64mb)\n";
  return text;
}

}  // namespace ringproxy::proxy
