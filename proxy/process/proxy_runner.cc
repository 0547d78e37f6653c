// Process set-up (log, daemon, pid file), then the control plane, which runs until the proxy has
// drained.
#include "process/proxy_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "base/logger.h"
#include "controlplane/control_plane.h"
#include "controlplane/signals.h"
#include "observability/stat_field.h"
#include "process/cpu_quota.h"

namespace ringproxy::proxy {
namespace {

constexpr int kExitStartup = 2;

bool Daemonize(std::string* error) {
  // Classic double fork: the daemon is no session leader, so it can never reacquire a terminal.
  pid_t pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid > 0) _exit(0);
  if (setsid() < 0) {
    *error = "setsid failed";
    return false;
  }
  std::signal(SIGHUP, SIG_IGN);
  pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid > 0) _exit(0);
  if (chdir("/") != 0) {
    *error = "chdir / failed";
    return false;
  }
  umask(0);
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) {
    *error = "open /dev/null failed";
    return false;
  }
  dup2(null_fd, STDIN_FILENO);
  dup2(null_fd, STDOUT_FILENO);
  dup2(null_fd, STDERR_FILENO);
  if (null_fd > STDERR_FILENO) close(null_fd);
  return true;
}

bool WritePidFile(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return false;
  std::fprintf(file, "%d\n", static_cast<int>(getpid()));
  return std::fclose(file) == 0;
}

}  // namespace

int RunProxy(const Options& given, const config::Config& config) {
  // Daemonizing changes to "/": a relative path would then name another file, and the reload,
  // the file watcher, SIGHUP's log reopen and the pid file's removal would all miss theirs.
  const Options options = WithAbsolutePaths(given);
  Logger& log = Logger::Instance();
  log.set_level(options.verbosity);
  if (!log.Open(options.output_file)) {
    std::fprintf(stderr, "ringproxy: cannot open log file '%s'\n", options.output_file.c_str());
    return kExitStartup;
  }
  if (options.describe_stats) {
    std::printf("This is ringproxy-%s\n\n%s", RINGPROXY_VERSION, DescribeStats().c_str());
    return 0;
  }
  std::string error;
  if (options.daemonize && !Daemonize(&error)) {
    RP_LOG(kLogEmerg, "cannot daemonize: %s", error.c_str());
    return kExitStartup;
  }
  if (!options.pid_file.empty() && !WritePidFile(options.pid_file)) {
    RP_LOG(kLogEmerg, "cannot write pid file '%s'", options.pid_file.c_str());
    return kExitStartup;
  }
  std::signal(SIGPIPE, SIG_IGN);
  InstallFatalSignalHandlers();

  ControlSettings settings;
  settings.config_path = options.conf_file;
  settings.stats = {options.stats_addr, options.stats_port,
                    static_cast<uint64_t>(options.stats_interval_ms)};
  if (options.workers > 0) {
    settings.proxy.workers = options.workers;
    settings.workers_reason = "--workers " + std::to_string(options.workers);
  } else {
    settings.proxy.workers = DefaultWorkerCount(&settings.workers_reason);
  }
  settings.proxy.max_clients = options.max_clients;
  settings.proxy.worker.flow.output = options.client_output_buffer_limit;
  settings.proxy.worker.flow.query_buffer_bytes = options.client_query_buffer_limit;
  settings.allow_core_dumps = options.allow_core_dumps;
  settings.proxy.worker.drain_timeout_ms = static_cast<uint64_t>(options.drain_timeout_s) * 1000;
  settings.dns.servers = options.dns_servers;
  settings.dns.resolv_conf = options.resolv_conf;
  settings.discovery.ttl_min_s = static_cast<uint32_t>(options.dns_ttl_min_s);
  settings.discovery.ttl_max_s = static_cast<uint32_t>(options.dns_ttl_max_s);
  int exit_code = 0;
  {
    ControlPlane control(settings);
    exit_code = control.Run(config);
  }
  if (!options.pid_file.empty()) unlink(options.pid_file.c_str());
  return exit_code;
}

}  // namespace ringproxy::proxy
