// Signal names for the log, and what happens on a fatal signal.
//
// Log lines about signals keep nutcracker's form, "signal 21 (SIGTTIN) received, up logging
// level", which log scrapers written for nutcracker match. A fatal signal (SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGABRT) writes its name and a backtrace to the log, then the process dies of
// that same signal by its default action (a core dump where enabled), so a supervisor and the
// exit status both report the real cause.
#pragma once

namespace ringproxy::proxy {

// "SIGTTIN" for SIGTTIN, ...; "unknown signal" for a number without a name. Async-signal-safe.
const char* SignalName(int signum);

// Installs the fatal-signal handlers, process-wide. Call once, from the main thread, after the
// log is open: the handlers write to whatever file the log uses at the time of the signal.
void InstallFatalSignalHandlers();

}  // namespace ringproxy::proxy
