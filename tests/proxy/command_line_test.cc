// The command line: nutcracker's flags, defaults and value rules, getopt_long's spellings, and
// --workers.
#include "process/command_line.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

namespace ringproxy::proxy {
namespace {

CommandLineResult Parse(std::initializer_list<const char*> args) {
  const std::vector<const char*> argv(args);
  return ParseCommandLine(argv);
}

Options ParseOk(std::initializer_list<const char*> args) {
  const CommandLineResult result = Parse(args);
  EXPECT_TRUE(result.ok()) << result.error;
  return result.ok() ? *result.options : Options{};
}

std::string ParseError(std::initializer_list<const char*> args) {
  const CommandLineResult result = Parse(args);
  EXPECT_FALSE(result.ok());
  return result.error;
}

TEST(CommandLine, NoArgumentsGiveNutcrackersDefaults) {
  const Options options = ParseOk({});
  EXPECT_FALSE(options.show_help);
  EXPECT_FALSE(options.show_version);
  EXPECT_FALSE(options.test_conf);
  EXPECT_FALSE(options.daemonize);
  EXPECT_FALSE(options.describe_stats);
  EXPECT_EQ(options.verbosity, 5);
  EXPECT_EQ(options.output_file, "");
  EXPECT_EQ(options.conf_file, "conf/nutcracker.yml");
  EXPECT_EQ(options.stats_port, 22222);
  EXPECT_EQ(options.stats_addr, "0.0.0.0");
  EXPECT_EQ(options.stats_interval_ms, 30000);
  EXPECT_EQ(options.pid_file, "");
  EXPECT_EQ(options.mbuf_size, 16384u);
  EXPECT_EQ(options.workers, 0);
}

TEST(CommandLine, EveryShortFlag) {
  const Options options = ParseOk(
      {"-h", "-V",   "-t", "-d",        "-D", "-v",   "7",  "-o",       "/tmp/log", "-c", "r.yml",
       "-s", "2222", "-a", "127.0.0.1", "-i", "1000", "-p", "/tmp/pid", "-m",       "512"});
  EXPECT_TRUE(options.show_help);
  EXPECT_TRUE(options.show_version);
  EXPECT_TRUE(options.test_conf);
  EXPECT_TRUE(options.daemonize);
  EXPECT_TRUE(options.describe_stats);
  EXPECT_EQ(options.verbosity, 7);
  EXPECT_EQ(options.output_file, "/tmp/log");
  EXPECT_EQ(options.conf_file, "r.yml");
  EXPECT_EQ(options.stats_port, 2222);
  EXPECT_EQ(options.stats_addr, "127.0.0.1");
  EXPECT_EQ(options.stats_interval_ms, 1000);
  EXPECT_EQ(options.pid_file, "/tmp/pid");
  EXPECT_EQ(options.mbuf_size, 512u);
}

TEST(CommandLine, EveryLongFlagWithEqualsOrSeparateValue) {
  const Options options =
      ParseOk({"--help", "--version", "--test-conf", "--daemonize", "--describe-stats",
               "--verbose=8", "--output", "/tmp/log", "--conf-file=r.yml", "--stats-port", "2222",
               "--stats-addr=127.0.0.1", "--stats-interval=1000", "--pid-file=/tmp/pid",
               "--mbuf-size=16777216", "--workers=4"});
  Options expected;
  expected.show_help = true;
  expected.show_version = true;
  expected.test_conf = true;
  expected.daemonize = true;
  expected.describe_stats = true;
  expected.verbosity = 8;
  expected.output_file = "/tmp/log";
  expected.conf_file = "r.yml";
  expected.stats_port = 2222;
  expected.stats_addr = "127.0.0.1";
  expected.stats_interval_ms = 1000;
  expected.pid_file = "/tmp/pid";
  expected.mbuf_size = 16777216;
  expected.workers = 4;
  EXPECT_EQ(options, expected);
}

TEST(CommandLine, ShortFlagsClusterAndTakeAttachedValues) {
  const Options options = ParseOk({"-dtcmy.yml", "-v9", "-s", "3000"});
  EXPECT_TRUE(options.daemonize);
  EXPECT_TRUE(options.test_conf);
  EXPECT_EQ(options.conf_file, "my.yml");
  EXPECT_EQ(options.verbosity, 9);
  EXPECT_EQ(options.stats_port, 3000);
}

TEST(CommandLine, AValueIsTheNextArgumentWhateverItLooksLike) {
  // getopt does the same: "-c -t" names a file "-t" and does not test the configuration.
  const Options options = ParseOk({"-c", "-t"});
  EXPECT_EQ(options.conf_file, "-t");
  EXPECT_FALSE(options.test_conf);
}

TEST(CommandLine, LongFlagsMayBeAbbreviatedWhenUnambiguous) {
  const Options options = ParseOk({"--conf=a.yml", "--test", "--work", "2", "--stats-p=99"});
  EXPECT_EQ(options.conf_file, "a.yml");
  EXPECT_TRUE(options.test_conf);
  EXPECT_EQ(options.workers, 2);
  EXPECT_EQ(options.stats_port, 99);
}

// nutcracker's getopt table resolves "--m" to --mbuf-size; ringproxy's --max-clients must not
// make it ambiguous. Prefixes only ringproxy's flags share stay ambiguous.
TEST(CommandLine, APrefixNutcrackerResolvesKeepsItsMeaning) {
  EXPECT_EQ(ParseOk({"--m", "1024"}).mbuf_size, 1024u);
  EXPECT_EQ(ParseOk({"--ma=7"}).max_clients, 7);
  EXPECT_EQ(ParseError({"--dns-ttl=5"}),
            "option '--dns-ttl' is ambiguous; possibilities: '--dns-ttl-min' '--dns-ttl-max'");
  EXPECT_EQ(ParseError({"--d"}),
            "option '--d' is ambiguous; possibilities: '--daemonize' '--describe-stats' "
            "'--dns-server' '--dns-ttl-min' '--dns-ttl-max' '--drain-timeout'");
}

TEST(CommandLine, QuestionMarkAsksForHelp) { EXPECT_TRUE(ParseOk({"-?"}).show_help); }

TEST(CommandLine, VerbosityIsClampedToNutcrackersLevels) {
  EXPECT_EQ(ParseOk({"-v", "0"}).verbosity, 0);
  EXPECT_EQ(ParseOk({"-v", "11"}).verbosity, 11);
  EXPECT_EQ(ParseOk({"-v", "99"}).verbosity, 11);
}

TEST(CommandLine, DoubleDashEndsOptions) {
  EXPECT_EQ(ParseError({"-t", "--", "-d"}), "unexpected argument '-d'");
  EXPECT_TRUE(ParseOk({"-t", "--"}).test_conf);
}

struct RefusedCase {
  std::vector<const char*> args;
  const char* error;
};

class CommandLineRefuses : public testing::TestWithParam<RefusedCase> {};

TEST_P(CommandLineRefuses, WithAMessage) {
  const CommandLineResult result = ParseCommandLine(GetParam().args);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Nutcracker, CommandLineRefuses,
    testing::Values(
        RefusedCase{{"-x"}, "invalid option -- 'x'"}, RefusedCase{{"-tx"}, "invalid option -- 'x'"},
        RefusedCase{{"--frobnicate"}, "unrecognized option '--frobnicate'"},
        RefusedCase{{"--ver"},
                    "option '--ver' is ambiguous; possibilities: '--version' '--verbose'"},
        RefusedCase{{"--stats"},
                    "option '--stats' is ambiguous; possibilities: '--stats-port' "
                    "'--stats-interval' '--stats-addr'"},
        RefusedCase{{"--help=yes"}, "option '--help' doesn't allow an argument"},
        RefusedCase{{"-c"}, "option -c requires a file name"},
        RefusedCase{{"--conf-file"}, "option '--conf-file' requires a file name"},
        RefusedCase{{"-a"}, "option -a requires a string"},
        RefusedCase{{"-v"}, "option -v requires a number"},
        RefusedCase{{"--workers"}, "option '--workers' requires a number"},
        RefusedCase{{"-v", "high"}, "option -v requires a number, not 'high'"},
        RefusedCase{{"-v", "-1"}, "option -v requires a number, not '-1'"},
        RefusedCase{{"-i", "1.5"}, "option -i requires a number, not '1.5'"},
        RefusedCase{{"-s", "0"}, "option -s value 0 is not a valid port (1-65535)"},
        RefusedCase{{"-s", "65536"}, "option -s value 65536 is not a valid port (1-65535)"},
        RefusedCase{{"--stats-port="}, "option --stats-port requires a number, not ''"},
        RefusedCase{{"--stats-port=0"},
                    "option --stats-port value 0 is not a valid port (1-65535)"},
        RefusedCase{{"-s", "99999999999"}, "option -s requires a number, not '99999999999'"},
        RefusedCase{{"-m", "511"},
                    "option -m: mbuf chunk size must be between 512 and 16777216 bytes"},
        RefusedCase{{"-m", "16777217"},
                    "option -m: mbuf chunk size must be between 512 and 16777216 bytes"},
        RefusedCase{{"--workers=-2"}, "option --workers requires a number, not '-2'"},
        RefusedCase{{"--workers", "1025"},
                    "option --workers value 1025 is more than 1024 (0 picks one per CPU of the "
                    "container's quota)"},
        RefusedCase{{"conf.yml"}, "unexpected argument 'conf.yml'"},
        RefusedCase{{"-t", "-"}, "unexpected argument '-'"}));

TEST(CommandLine, CallsDoNotShareState) {
  // getopt keeps its position in globals; this parser must not.
  EXPECT_FALSE(Parse({"-x"}).ok());
  EXPECT_EQ(ParseOk({"-c", "a.yml"}).conf_file, "a.yml");
  EXPECT_EQ(ParseOk({"-c", "b.yml"}).conf_file, "b.yml");
}

TEST(CommandLine, UsageNamesRingproxyEveryFlagAndItsDefault) {
  const std::string usage = UsageText();
  EXPECT_TRUE(usage.starts_with("Usage: ringproxy ")) << usage;
  for (const char* flag :
       {"-h, --help", "-V, --version", "-t, --test-conf", "-d, --daemonize", "-D, --describe-stats",
        "-v, --verbose=N", "-o, --output=S", "-c, --conf-file=S", "-s, --stats-port=N",
        "-a, --stats-addr=S", "-i, --stats-interval=N", "-p, --pid-file=S", "-m, --mbuf-size=N",
        "--workers=N"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
  for (const char* default_text :
       {"(default: conf/nutcracker.yml)", "(default: 22222)", "(default: 0.0.0.0)",
        "(default: 30000 msec)", "(default: 16384 bytes)", "(default: 5)"}) {
    EXPECT_NE(usage.find(default_text), std::string::npos) << default_text;
  }
}

}  // namespace
}  // namespace ringproxy::proxy

namespace ringproxy::proxy {
namespace {

TEST(CommandLineKubernetes, DnsServersRepeat) {
  const CommandLineResult result = ParseCommandLine(
      std::vector<const char*>{"--dns-server", "127.0.1.1:5353", "--dns-server=127.0.1.2:53"});
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.options->dns_servers,
            (std::vector<std::string>{"127.0.1.1:5353", "127.0.1.2:53"}));
}

TEST(CommandLineKubernetes, DrainAndResolverOptions) {
  const CommandLineResult result = ParseCommandLine(
      std::vector<const char*>{"--drain-timeout", "40", "--resolv-conf", "/tmp/r.conf",
                               "--dns-ttl-min=2", "--dns-ttl-max=9"});
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.options->drain_timeout_s, 40);
  EXPECT_EQ(result.options->resolv_conf, "/tmp/r.conf");
  EXPECT_EQ(result.options->dns_ttl_min_s, 2);
  EXPECT_EQ(result.options->dns_ttl_max_s, 9);
}

TEST(CommandLineKubernetes, TtlFloorAboveCeilingIsRefused) {
  const CommandLineResult result =
      ParseCommandLine(std::vector<const char*>{"--dns-ttl-min=60", "--dns-ttl-max=10"});
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("--dns-ttl-min"), std::string::npos);
}

TEST(CommandLineLimits, MaxClientsIsANonNegativeNumber) {
  const CommandLineResult result = ParseCommandLine(std::vector<const char*>{"--max-clients=500"});
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.options->max_clients, 500);
  EXPECT_EQ(ParseCommandLine(std::vector<const char*>{}).options->max_clients, 0);
  EXPECT_EQ(ParseCommandLine(std::vector<const char*>{"--max-clients", "-1"}).error,
            "option --max-clients requires a number, not '-1'");
  EXPECT_EQ(ParseCommandLine(std::vector<const char*>{"--max-clients=lots"}).error,
            "option --max-clients requires a number, not 'lots'");
  EXPECT_NE(UsageText().find("--max-clients=N"), std::string::npos);
}

TEST(CommandLineKubernetes, DrainTimeoutNeedsANumber) {
  EXPECT_FALSE(ParseCommandLine(std::vector<const char*>{"--drain-timeout=soon"}).ok());
}

TEST(CommandLine, FilePathsAreMadeAbsoluteForADaemon) {
  const Options given = ParseOk(
      {"-c", "conf/r.yml", "-o", "./r.log", "-p", "../r.pid", "--resolv-conf", "/etc/resolv.conf"});
  const Options absolute = WithAbsolutePaths(given);
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(absolute.conf_file, cwd + "/conf/r.yml");
  EXPECT_EQ(absolute.output_file, cwd + "/r.log");
  EXPECT_EQ(absolute.pid_file, std::filesystem::current_path().parent_path().string() + "/r.pid");
  EXPECT_EQ(absolute.resolv_conf, "/etc/resolv.conf");
  // Empty means "none" (stderr, no pid file): it stays empty.
  EXPECT_EQ(WithAbsolutePaths(ParseOk({})).output_file, "");
  EXPECT_EQ(WithAbsolutePaths(ParseOk({})).pid_file, "");
}

TEST(CommandLine, AllowCoreDumpsIsOffUnlessGiven) {
  EXPECT_FALSE(ParseCommandLine(std::vector<const char*>{}).options->allow_core_dumps);
  EXPECT_TRUE(
      ParseCommandLine(std::vector<const char*>{"--allow-core-dumps"}).options->allow_core_dumps);
  EXPECT_EQ(ParseCommandLine(std::vector<const char*>{"--allow-core-dumps=yes"}).error,
            "option '--allow-core-dumps' doesn't allow an argument");
  EXPECT_NE(UsageText().find("--allow-core-dumps"), std::string::npos);
}

TEST(CommandLine, ClientBufferLimitsTakeRedisSizes) {
  const Options options = ParseOk(
      {"--client-output-buffer-limit", "256mb 16mb 30", "--client-query-buffer-limit=128mb"});
  EXPECT_EQ(options.client_output_buffer_limit,
            (config::OutputBufferLimit{256u << 20, 16u << 20, 30}));
  EXPECT_EQ(options.client_query_buffer_limit, 128u << 20);
  EXPECT_EQ(ParseOk({}).client_output_buffer_limit, config::OutputBufferLimit{});
  EXPECT_EQ(ParseCommandLine(std::vector<const char*>{"--client-output-buffer-limit", "1gb"}).error,
            "option --client-output-buffer-limit \"1gb\" is not \"<hard> <soft> <soft seconds>\" "
            "(e.g. \"1gb 32mb 10\")");
  EXPECT_EQ(ParseCommandLine(std::vector<const char*>{"--client-query-buffer-limit=0"}).error,
            "option --client-query-buffer-limit \"0\" must be more than 0");
  // nutcracker's "--c" still means --conf-file.
  EXPECT_EQ(ParseOk({"--c", "x.yml"}).conf_file, "x.yml");
}

}  // namespace
}  // namespace ringproxy::proxy
