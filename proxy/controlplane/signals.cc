#include "controlplane/signals.h"

#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>

#include "base/logger.h"

namespace ringproxy::proxy {
namespace {

struct NamedSignal {
  int number;
  const char* name;
};

constexpr NamedSignal kSignalNames[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
    {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
    {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGSYS, "SIGSYS"},
};

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr int kMaxFrames = 64;
// Room for the handler itself when the stack overflowed (a fault past the guard page has no
// stack left to run on).
constexpr size_t kAltStackSize = 64 * 1024;

// Local time's offset from UTC when the handlers were installed: localtime_r may take a lock,
// which a signal handler must not, so the handler does the calendar arithmetic itself.
long utc_offset_s = 0;

// Appends `value` in decimal, zero-padded to `width` digits, at `out`; returns the new end.
char* AppendNumber(char* out, int64_t value, int width) {
  char digits[24];
  int n = 0;
  uint64_t v = value < 0 ? 0 : static_cast<uint64_t>(value);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < static_cast<int>(sizeof(digits)));
  while (n < width && n < static_cast<int>(sizeof(digits))) digits[n++] = '0';
  while (n > 0) *out++ = digits[--n];
  return out;
}

char* AppendText(char* out, const char* end, const char* text) {
  while (*text != '\0' && out < end) *out++ = *text++;
  return out;
}

// "[YYYY-mm-dd HH:MM:SS.mmm] " as the logger writes it, from the clock alone (civil date from
// the day count, as in Howard Hinnant's algorithm).
char* AppendTimestamp(char* out) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const int64_t seconds = static_cast<int64_t>(now.tv_sec) + utc_offset_s;
  int64_t days = seconds / 86400;
  const int64_t of_day = seconds % 86400;
  days += 719468;
  const int64_t era = days / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  *out++ = '[';
  out = AppendNumber(out, year, 4);
  *out++ = '-';
  out = AppendNumber(out, month, 2);
  *out++ = '-';
  out = AppendNumber(out, day, 2);
  *out++ = ' ';
  out = AppendNumber(out, of_day / 3600, 2);
  *out++ = ':';
  out = AppendNumber(out, of_day / 60 % 60, 2);
  *out++ = ':';
  out = AppendNumber(out, of_day % 60, 2);
  *out++ = '.';
  out = AppendNumber(out, now.tv_nsec / 1000000, 3);
  *out++ = ']';
  *out++ = ' ';
  return out;
}

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Only async-signal-safe calls from here on: the process is in an unknown state.
void OnFatalSignal(int signum) {
  const int fd = Logger::Instance().fd_for_signal_handler();
  char line[256];
  char* const end = line + sizeof(line) - 1;
  char* out = AppendTimestamp(line);
  out = AppendText(out, end, "ALERT signal ");
  out = AppendNumber(out, signum, 1);
  out = AppendText(out, end, " (");
  out = AppendText(out, end, SignalName(signum));
  out = AppendText(out, end, ") received, core dumping; backtrace:");
  *out++ = '\n';
  WriteAll(fd, line, static_cast<size_t>(out - line));
  void* frames[kMaxFrames];
  const int count = backtrace(frames, kMaxFrames);
  backtrace_symbols_fd(frames, count, fd);
  // SA_RESETHAND has restored the default action, and the signal stays blocked until this
  // handler returns: raised again here, it then kills the process (a fault would also recur on
  // return, but a signal sent with kill(2) would not).
  raise(signum);
}

}  // namespace

const char* SignalName(int signum) {
  for (const NamedSignal& named : kSignalNames) {
    if (named.number == signum) return named.name;
  }
  return "unknown signal";
}

void InstallFatalSignalHandlers() {
  time_t now = time(nullptr);
  tm local{};
  if (localtime_r(&now, &local) != nullptr) utc_offset_s = local.tm_gmtoff;
  // glibc loads libgcc_s (malloc, locks) on the first backtrace(): do it now, not in a handler.
  void* frame = nullptr;
  backtrace(&frame, 1);
  // Freed never: the handlers may run until the very end of the process.
  static char* alt_stack = new char[kAltStackSize];
  stack_t stack{};
  stack.ss_sp = alt_stack;
  stack.ss_size = kAltStackSize;
  sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = OnFatalSignal;
  // SA_ONSTACK only matters on a thread that has an alternate stack (the main one, here).
  action.sa_flags = SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (const int signum : kFatalSignals) sigaction(signum, &action, nullptr);
}

}  // namespace ringproxy::proxy
