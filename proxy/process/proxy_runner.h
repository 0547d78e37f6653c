// The proxy's normal run, entered from main() once the command line is parsed and the
// configuration has loaded. main() handles --help, --version and --test-conf itself and never
// calls this for them.
#pragma once

#include "config/pool_config.h"
#include "process/command_line.h"

namespace ringproxy::proxy {

// Runs ringproxy until it is told to stop (signal) or cannot go on, and returns the process exit
// code: 0 after an orderly stop, non-zero when startup or the run failed (having said why on the
// log). Honours every runtime field of `options` (daemonize, describe_stats, verbosity,
// output_file, stats_*, pid_file, mbuf_size, workers). Blocks the calling thread for the whole
// run. Both arguments are only borrowed: the callee copies what must outlive the call.
int RunProxy(const Options& options, const config::Config& config);

}  // namespace ringproxy::proxy
