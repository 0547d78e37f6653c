#include "controlplane/control_plane.h"

#include <sys/prctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/logger.h"
#include "config/config_loader.h"
#include "config/secret_warnings.h"
#include "controlplane/signals.h"
#include "net/uv_handle.h"

namespace ringproxy::proxy {
namespace {

constexpr int kExitStartup = 2;
// A ConfigMap update or an editor's save is several file events in a burst; reload once after
// it settles.
constexpr uint64_t kReloadDebounceMs = 100;
// How often the TLS files are checked for a change. A Secret update swaps a symlink in another
// directory than the configuration's, so they are polled (a few stat calls) rather than watched.
constexpr uint64_t kTlsPollMs = 1000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// What identifies each file's current content: a rewrite, a rename over it or a Secret's
// symlink swap all change the inode, size or modification time.
std::string Fingerprint(const std::vector<std::string>& files) {
  std::string text;
  for (const std::string& file : files) {
    struct stat st {};
    if (stat(file.c_str(), &st) != 0) {
      text += file + " missing;";
      continue;
    }
    text += file + " " + std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " +
            std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return text;
}

bool IsConfigEvent(const std::string& config_name, const char* changed) {
  // The file's own name (an edit, or an editor's rename over it) or a ConfigMap update, which
  // swaps the `..data` symlink the file resolves through. Anything else in the directory (the
  // log file next to it, an editor's swap file) is not the configuration. Without a name the
  // event could be anything: look.
  if (changed == nullptr) return true;
  const std::string_view name(changed);
  return name == config_name || name == "..data";
}

}  // namespace

ControlPlane::ControlPlane(const ControlSettings& settings) : settings_(settings) {
  uv_loop_init(&loop_);
  loop_.data = this;
}

ControlPlane::~ControlPlane() {
  if (joiner_.joinable()) joiner_.join();
  uv_loop_close(&loop_);
}

int ControlPlane::Run(const config::Config& config) {
  std::string error;
  resolver_ = DnsResolver::Create(&loop_, settings_.dns, &error);
  if (resolver_ == nullptr) {
    RP_LOG(kLogEmerg, "cannot start the resolver: %s", error.c_str());
    return kExitStartup;
  }
  discovery_ = std::make_unique<Discovery>(
      &loop_, resolver_.get(), settings_.discovery, &stats_,
      [this](std::shared_ptr<const Topology> topology) { OnTopology(std::move(topology)); });
  settings_.proxy.worker.on_server_failure = [this](const std::string& pool,
                                                    const std::string& server) {
    discovery_->ReportFailure(pool, server);
  };

  for (const int signum : {SIGTERM, SIGINT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2}) {
    auto* signal = new uv_signal_t;  // freed in its close callback
    uv_signal_init(&loop_, signal);
    signal->data = this;
    uv_signal_start(
        signal,
        [](uv_signal_t* handle, int number) {
          static_cast<ControlPlane*>(handle->data)->OnSignal(number);
        },
        signum);
    signals_.push_back(signal);
  }
  drained_ = new uv_async_t;
  uv_async_init(&loop_, drained_,
                [](uv_async_t* async) { static_cast<ControlPlane*>(async->data)->Shutdown(); });
  drained_->data = this;

  config_text_ = ReadFile(settings_.config_path);
  if (!Apply(config, &error)) {
    RP_LOG(kLogEmerg, "cannot start: %s", error.c_str());
    exit_code_ = kExitStartup;
    Shutdown();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return exit_code_;
  }
  if (settings_.watch_config) WatchConfig();
  tls_poll_timer_ = new uv_timer_t;  // freed in its close callback
  uv_timer_init(&loop_, tls_poll_timer_);
  tls_poll_timer_->data = this;
  uv_timer_start(
      tls_poll_timer_,
      [](uv_timer_t* timer) { static_cast<ControlPlane*>(timer->data)->CheckTlsFiles(); },
      kTlsPollMs, kTlsPollMs);
  uv_run(&loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

void ControlPlane::OnTopology(std::shared_ptr<const Topology> topology) {
  std::string error;
  if (!started_) {
    if (!proxy_.Start(std::move(topology), settings_.proxy, &error)) {
      RP_LOG(kLogEmerg, "cannot start: %s", error.c_str());
      exit_code_ = kExitStartup;
      Shutdown();
      return;
    }
    started_ = true;
    RP_LOG(kLogNotice, "ringproxy-%s (%s build) started with %d workers: %s", RINGPROXY_VERSION,
           RINGPROXY_BUILD_TYPE, proxy_.workers(), settings_.workers_reason.c_str());
    stats_service_ = std::make_unique<StatsService>(&loop_, &proxy_, &stats_, settings_.stats);
    if (!stats_service_->Start(&error)) {
      // As nutcracker: a stats port that cannot be bound is a startup error.
      RP_LOG(kLogEmerg, "cannot start: %s", error.c_str());
      exit_code_ = kExitStartup;
      BeginDrain();
    }
    return;
  }
  if (draining_) return;
  if (!proxy_.Update(std::move(topology), &error)) {
    RP_LOG(kLogError, "new topology not applied: %s", error.c_str());
  }
}

void ControlPlane::OnSignal(int signum) {
  Logger& log = Logger::Instance();
  // Logged at any level, as nutcracker does: "signal 21 (SIGTTIN) received, up logging level".
  auto received = [&](const char* action) {
    log.Log(kLogNotice, "signal %d (%s) received%s", signum, SignalName(signum), action);
  };
  switch (signum) {
    case SIGTERM:
    case SIGINT:
      if (draining_) {
        received(", exiting now (it came while draining)");
        std::_Exit(1);
      }
      received(", draining");
      BeginDrain();
      break;
    case SIGHUP:
      // nutcracker reopens its log on SIGHUP; ringproxy also reloads its configuration.
      received(", reopening log file and reloading the configuration");
      if (!log.Reopen()) RP_LOG(kLogError, "cannot reopen the log file");
      Reload("SIGHUP", true);
      break;
    case SIGTTIN:
      received(", up logging level");
      log.set_level(std::min(log.level() + 1, 11));
      log.Log(kLogNotice, "up log level to %d", log.level());
      break;
    case SIGTTOU:
      received(", down logging level");
      log.set_level(std::max(log.level() - 1, 0));
      log.Log(kLogNotice, "down log level to %d", log.level());
      break;
    default:
      // SIGUSR1, SIGUSR2: nutcracker logs and otherwise ignores them, so a script that sends
      // them to nutcracker does not kill ringproxy (their default action would).
      received("");
      break;
  }
}

void ControlPlane::Reload(const char* why, bool force) {
  if (draining_) return;
  const std::string text = ReadFile(settings_.config_path);
  // A touch is not a change; nor is the same rejected text seen again (rejected once, logged
  // once, counted once). SIGHUP and a TLS file change always try.
  if (!force && (text == config_text_ || (rejected_text_ && text == *rejected_text_))) return;
  const config::LoadResult loaded = config::LoadConfigFile(settings_.config_path);
  std::string error;
  if (!loaded.ok()) {
    error = loaded.error.ToString();
  } else if (Apply(*loaded.config, &error)) {
    config_text_ = text;
    rejected_text_.reset();
    stats_.config_reloads_ok.Add();
    RP_LOG(kLogNotice, "reload (%s): configuration '%s' applied", why,
           settings_.config_path.c_str());
    return;
  }
  rejected_text_ = text;
  stats_.config_reloads_rejected.Add();
  RP_LOG(kLogError, "reload (%s) rejected, keeping the running configuration: %s", why,
         error.c_str());
}

bool ControlPlane::Apply(const config::Config& config, std::string* error) {
  // A reload that would move a pool onto an address in use is refused now, while the running
  // configuration can still be kept (at start, Proxy::Start checks when it binds).
  if (started_ && !proxy_.CheckListeners(config, error)) return false;
  std::vector<std::string> files = TlsFiles(config);
  // Taken before reading the files: a change during the load is seen by the next poll.
  std::string fingerprint = Fingerprint(files);
  for (const std::string& warning : config::SecretWarnings(config, config::FileReader::Current())) {
    RP_LOG(kLogWarn, "%s", warning.c_str());
  }
  ProtectKeyMaterial(config);
  std::vector<PoolTls> tls;
  if (!LoadPoolTls(config, &tls, error)) {
    // Not retried until a file of the running configuration changes again.
    tls_fingerprint_ = Fingerprint(tls_files_);
    return false;
  }
  tls_files_ = std::move(files);
  tls_fingerprint_ = std::move(fingerprint);
  discovery_->SetConfig(config, std::move(tls));
  return true;
}

void ControlPlane::ProtectKeyMaterial(const config::Config& config) {
  if (!LoadsTlsKeys(config) || prctl(PR_GET_DUMPABLE) == 0) return;
  if (settings_.allow_core_dumps) {
    RP_LOG(kLogNotice, "TLS private keys loaded; core dumps stay enabled (--allow-core-dumps)");
    return;
  }
  // Not undone when a reload drops the keys: the process has held them.
  if (prctl(PR_SET_DUMPABLE, 0) != 0) {
    RP_LOG(kLogWarn, "TLS private keys loaded, but core dumps could not be disabled: %s",
           std::strerror(errno));
    return;
  }
  RP_LOG(kLogNotice,
         "TLS private keys loaded: core dumps disabled (--allow-core-dumps keeps them for "
         "debugging)");
}

void ControlPlane::CheckTlsFiles() {
  if (draining_ || tls_files_.empty()) return;
  if (Fingerprint(tls_files_) == tls_fingerprint_) return;
  Reload("TLS file change", true);
}

void ControlPlane::WatchConfig() {
  // Watch the directory, not the file: a ConfigMap update replaces the `..data` symlink the
  // file resolves through, and editors replace files by rename; a watch on the old inode would
  // go silent.
  const std::filesystem::path path = std::filesystem::absolute(settings_.config_path);
  config_name_ = path.filename().string();
  watcher_ = new uv_fs_event_t;
  uv_fs_event_init(&loop_, watcher_);
  watcher_->data = this;
  reload_timer_ = new uv_timer_t;
  uv_timer_init(&loop_, reload_timer_);
  reload_timer_->data = this;
  const int rc = uv_fs_event_start(
      watcher_,
      [](uv_fs_event_t* handle, const char* filename, int /*events*/, int status) {
        auto* self = static_cast<ControlPlane*>(handle->data);
        if (status != 0 || self->draining_ || !IsConfigEvent(self->config_name_, filename)) {
          return;
        }
        uv_timer_start(
            self->reload_timer_,
            [](uv_timer_t* timer) {
              static_cast<ControlPlane*>(timer->data)->Reload("file change", false);
            },
            kReloadDebounceMs, 0);
      },
      path.parent_path().c_str(), 0);
  if (rc != 0) {
    RP_LOG(kLogWarn, "not watching '%s' for changes: %s (SIGHUP still reloads)",
           path.parent_path().c_str(), uv_strerror(rc));
  }
}

void ControlPlane::BeginDrain() {
  if (draining_) return;
  draining_ = true;
  RP_LOG(kLogNotice, "draining: no new connections, finishing in-flight requests");
  proxy_.Drain();
  // Workers finish on their own threads; a joiner tells the loop when they are all done.
  joiner_ = std::thread([this] {
    proxy_.Join();
    uv_async_send(drained_);
  });
}

void ControlPlane::Shutdown() {
  RP_LOG(kLogNotice, started_ && exit_code_ == 0 ? "drained; exiting" : "exiting");
  for (uv_signal_t* signal : signals_) CloseAndDelete(signal);
  signals_.clear();
  CloseAndDelete(watcher_);
  CloseAndDelete(reload_timer_);
  CloseAndDelete(tls_poll_timer_);
  CloseAndDelete(drained_);
  watcher_ = nullptr;
  reload_timer_ = nullptr;
  tls_poll_timer_ = nullptr;
  drained_ = nullptr;
  if (stats_service_ != nullptr) stats_service_->Close();  // answered until the drain ended
  if (discovery_ != nullptr) discovery_->Close();
  if (resolver_ != nullptr) resolver_->Close();
}

}  // namespace ringproxy::proxy
