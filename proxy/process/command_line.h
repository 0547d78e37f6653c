// ringproxy's command line: nutcracker 0.5.0's flags with its defaults and value rules (so a
// unit file or a container spec written for nutcracker runs unchanged), plus --workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/pool_config.h"

namespace ringproxy::proxy {

struct Options {
  bool show_help = false;       // -h, --help (also -?)
  bool show_version = false;    // -V, --version
  bool test_conf = false;       // -t, --test-conf: load the configuration, report, exit
  bool daemonize = false;       // -d, --daemonize
  bool describe_stats = false;  // -D, --describe-stats
  int verbosity = 5;            // -v, --verbose=N: nutcracker's log levels, clamped to 0..11
  std::string output_file;      // -o, --output=FILE; empty: stderr
  std::string conf_file = "conf/nutcracker.yml";  // -c, --conf-file=FILE
  uint16_t stats_port = 22222;                    // -s, --stats-port=N (1-65535)
  std::string stats_addr = "0.0.0.0";             // -a, --stats-addr=ADDR
  int stats_interval_ms = 30000;                  // -i, --stats-interval=MS
  std::string pid_file;                           // -p, --pid-file=FILE; empty: none
  size_t mbuf_size = 16384;  // -m, --mbuf-size=N: 512..16777216, accepted as nutcracker does
  int workers = 0;           // --workers=N: worker threads; 0 follows the container's CPU quota
  // ringproxy's own, for Kubernetes:
  int drain_timeout_s = 25;              // --drain-timeout=S (Kubernetes grace period 30 s)
  std::vector<std::string> dns_servers;  // --dns-server=HOST[:PORT], repeatable
  std::string resolv_conf;               // --resolv-conf=FILE; empty: /etc/resolv.conf
  int dns_ttl_min_s = 1;                 // --dns-ttl-min=S
  int dns_ttl_max_s = 30;                // --dns-ttl-max=S
  int max_clients = 0;  // --max-clients=N: client connections over all pools; 0: no limit
  // --allow-core-dumps: stay dumpable when TLS private keys are loaded (for debugging).
  bool allow_core_dumps = false;
  // --client-output-buffer-limit="HARD SOFT SECONDS" and --client-query-buffer-limit=SIZE: the
  // flow-control limits of pools that do not set their own keys.
  config::OutputBufferLimit client_output_buffer_limit;
  uint64_t client_query_buffer_limit = uint64_t{64} << 20;

  bool operator==(const Options&) const = default;
};

struct CommandLineResult {
  std::optional<Options> options;  // set on success
  std::string
      error;  // otherwise one line without the program name, e.g. "option -s requires a number"

  bool ok() const { return options.has_value(); }
};

// Parses the arguments after the program name, as getopt_long would with nutcracker's option
// table: "-c FILE", "-cFILE", clusters such as "-dt", "--conf-file=FILE", "--conf-file FILE",
// unambiguous abbreviations ("--conf"), "--" ending the options. Unlike nutcracker, which ignores
// them, a stray positional argument is an error. Pure: no global state, no output.
CommandLineResult ParseCommandLine(std::span<const char* const> args);

// `options` with every file path (-c, -o, -p, --resolv-conf) made absolute against the current
// directory, as the process must find them after daemonizing (which changes to "/").
Options WithAbsolutePaths(const Options& options);

// The --help text: usage line and one line per option with its default.
std::string UsageText();

}  // namespace ringproxy::proxy
