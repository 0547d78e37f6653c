// ringproxy's entry point: the command line, the one-shot modes (help, version, configuration
// check), then the configuration load that every run needs before RunProxy takes over. Exit codes:
// 0 success, 2 bad command line or configuration, otherwise RunProxy's.
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "config/secret_warnings.h"
#include "net/listen_socket.h"
#include "net/tls_context.h"
#include "observability/stat_field.h"
#include "process/command_line.h"
#include "process/proxy_runner.h"

namespace {

constexpr int kExitUsage = 2;

void PrintVersion() { std::printf("This is ringproxy-%s\n", RINGPROXY_VERSION); }

}  // namespace

int main(int argc, char** argv) {
  using ringproxy::config::LoadConfigFile;
  using ringproxy::config::LoadResult;
  using ringproxy::proxy::CommandLineResult;
  using ringproxy::proxy::Options;
  using ringproxy::proxy::ParseCommandLine;
  using ringproxy::proxy::UsageText;

  const CommandLineResult parsed =
      ParseCommandLine(std::span<const char* const>(argv + 1, argc > 0 ? argc - 1 : 0));
  if (!parsed.ok()) {
    std::fprintf(stderr, "ringproxy: %s\n", parsed.error.c_str());
    std::fprintf(stderr, "Try 'ringproxy --help' for the list of options.\n");
    return kExitUsage;
  }
  // A run finds its files by absolute paths (it may daemonize, which changes to "/"); a check
  // (-t) names the file as it was given.
  const Options options = parsed.options->test_conf
                              ? *parsed.options
                              : ringproxy::proxy::WithAbsolutePaths(*parsed.options);

  if (options.show_help) {
    PrintVersion();
    std::printf("\n%s", UsageText().c_str());
    return 0;
  }
  if (options.show_version) {
    PrintVersion();
    return 0;
  }
  if (options.describe_stats) {  // as nutcracker -D: needs no configuration
    PrintVersion();
    std::printf("\n%s", ringproxy::proxy::DescribeStats().c_str());
    return 0;
  }

  const LoadResult loaded = LoadConfigFile(options.conf_file);
  if (options.test_conf) {
    std::vector<ringproxy::proxy::PoolTls> tls;
    std::string tls_error;
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.error.ToString().c_str());
      std::fprintf(stderr, "ringproxy: configuration file '%s' syntax is invalid\n",
                   options.conf_file.c_str());
      return kExitUsage;
    }
    // The certificates and keys are part of what must work at start: check them too.
    if (!ringproxy::proxy::LoadPoolTls(*loaded.config, &tls, &tls_error)) {
      std::fprintf(stderr, "%s\n", tls_error.c_str());
      std::fprintf(stderr, "ringproxy: configuration file '%s' names unusable TLS files\n",
                   options.conf_file.c_str());
      return kExitUsage;
    }
    // Two pools on one address (127.0.0.1:P and localhost:P) could never both start. Whether
    // another process holds a port is not checked: during a reload the running proxy does.
    std::string listen_error;
    if (!ringproxy::proxy::CheckListenAddresses(loaded.config->pools, &listen_error)) {
      std::fprintf(stderr, "%s\n", listen_error.c_str());
      std::fprintf(stderr, "ringproxy: configuration file '%s' has listen addresses in conflict\n",
                   options.conf_file.c_str());
      return kExitUsage;
    }
    for (const std::string& warning : ringproxy::config::SecretWarnings(
             *loaded.config, ringproxy::config::FileReader::Current())) {
      std::fprintf(stderr, "ringproxy: warning: %s\n", warning.c_str());
    }
    std::printf("ringproxy: configuration file '%s' syntax is ok\n", options.conf_file.c_str());
    return 0;
  }
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error.ToString().c_str());
    return kExitUsage;
  }
  return ringproxy::proxy::RunProxy(options, *loaded.config);
}
