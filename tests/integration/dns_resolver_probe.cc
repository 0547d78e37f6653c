// dns_resolver_probe: resolves names with DnsResolver on a libuv loop and prints one JSON line per
// answer, in the order the answers arrive, for test_dns_resolver.py and for debugging.
//
//   dns_resolver_probe [--dns-server HOST:PORT]... [--resolv-conf PATH] [--timeout-ms N]
//                      [--tries N] [--port N] [--srv NAME]... [NAME]...
//
// Every lookup starts at once, so a slow answer never holds up a fast one. Each line holds
// name, kind ("address" or "srv"), status (0 or the ARES_E* code), status_name, error,
// addresses ("IP:PORT") or targets, ttl (4294967295: a literal address, no TTL) and elapsed_ms
// since the lookups started. Exit status: 0 when every lookup succeeded, 1 when one failed,
// 2 for a usage error, 3 when the loop still had handles after the resolver closed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/dns_resolver.h"

namespace {

using ringproxy::proxy::DnsAnswer;
using ringproxy::proxy::DnsOptions;
using ringproxy::proxy::DnsResolver;
using ringproxy::proxy::SocketAddress;
using ringproxy::proxy::SrvAnswer;

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// "IP:PORT" or "[IPv6]:PORT". Local rather than SocketAddress::ToString(): the probe links only the
// DNS library, not topology.cc.
std::string AddressText(const SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address.storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
  inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

const char* StatusName(int status) {
  switch (status) {
    case ARES_SUCCESS:
      return "ARES_SUCCESS";
    case ARES_ENODATA:
      return "ARES_ENODATA";
    case ARES_EFORMERR:
      return "ARES_EFORMERR";
    case ARES_ESERVFAIL:
      return "ARES_ESERVFAIL";
    case ARES_ENOTFOUND:
      return "ARES_ENOTFOUND";
    case ARES_EREFUSED:
      return "ARES_EREFUSED";
    case ARES_EBADNAME:
      return "ARES_EBADNAME";
    case ARES_ETIMEOUT:
      return "ARES_ETIMEOUT";
    case ARES_ECONNREFUSED:
      return "ARES_ECONNREFUSED";
    case ARES_EBADRESP:
      return "ARES_EBADRESP";
    default:
      return "OTHER";
  }
}

struct Probe {
  uint64_t start_ms = 0;
  uv_loop_t* loop = nullptr;
  int outstanding = 0;
  bool failed = false;
  std::unique_ptr<DnsResolver> resolver;

  std::string Head(const std::string& name, const char* kind, int status,
                   const std::string& error) const {
    return "{\"name\":" + Quote(name) + ",\"kind\":\"" + kind +
           "\",\"status\":" + std::to_string(status) + ",\"status_name\":\"" + StatusName(status) +
           "\",\"error\":" + Quote(error) +
           ",\"elapsed_ms\":" + std::to_string(uv_hrtime() / 1000000 - start_ms);
  }

  void Finish(const std::string& line, int status) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    failed = failed || status != ARES_SUCCESS;
    if (--outstanding == 0) {
      resolver->Close();
    }
  }

  void OnAddress(const std::string& name, const DnsAnswer& answer) {
    std::string line = Head(name, "address", answer.status, answer.error) + ",\"addresses\":[";
    for (size_t i = 0; i < answer.addresses.size(); ++i) {
      line += (i > 0 ? "," : "") + Quote(AddressText(answer.addresses[i]));
    }
    line += "],\"ttl\":" + std::to_string(answer.ttl_seconds) + "}";
    Finish(line, answer.status);
  }

  void OnSrv(const std::string& name, const SrvAnswer& answer) {
    std::string line = Head(name, "srv", answer.status, answer.error) + ",\"targets\":[";
    for (size_t i = 0; i < answer.targets.size(); ++i) {
      const auto& target = answer.targets[i];
      line += std::string(i > 0 ? "," : "") + "{\"target\":" + Quote(target.target) +
              ",\"port\":" + std::to_string(target.port) +
              ",\"priority\":" + std::to_string(target.priority) +
              ",\"weight\":" + std::to_string(target.weight) + "}";
    }
    line += "],\"ttl\":" + std::to_string(answer.ttl_seconds) + "}";
    Finish(line, answer.status);
  }
};

// A decimal integer in [low, high], the whole of `text`.
bool ParseNumber(const char* text, long low, long high, long* out) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < low || value > high) {
    return false;
  }
  *out = value;
  return true;
}

int Usage(const char* message) {
  std::fprintf(stderr,
               "%s\nusage: dns_resolver_probe [--dns-server HOST:PORT]... [--resolv-conf PATH] "
               "[--timeout-ms N] [--tries N] [--port N] [--srv NAME]... [NAME]...\n",
               message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  DnsOptions options;
  std::vector<std::string> names;
  std::vector<std::string> srv_names;
  long port = 6379;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--dns-server" && has_value) {
      options.servers.emplace_back(argv[++i]);
    } else if (arg == "--resolv-conf" && has_value) {
      options.resolv_conf = argv[++i];
    } else if (arg == "--timeout-ms" && has_value) {
      long value = 0;
      if (!ParseNumber(argv[++i], 1, 3600000, &value)) {
        return Usage("--timeout-ms must be a positive number of milliseconds");
      }
      options.timeout_ms = static_cast<int>(value);
    } else if (arg == "--tries" && has_value) {
      long value = 0;
      if (!ParseNumber(argv[++i], 1, 100, &value)) {
        return Usage("--tries must be 1..100");
      }
      options.tries = static_cast<int>(value);
    } else if (arg == "--port" && has_value) {
      if (!ParseNumber(argv[++i], 0, 65535, &port)) {
        return Usage("--port must be 0..65535");
      }
    } else if (arg == "--srv" && has_value) {
      srv_names.emplace_back(argv[++i]);
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage(("unknown or incomplete option " + arg).c_str());
    } else {
      names.push_back(arg);
    }
  }
  if (names.empty() && srv_names.empty()) {
    return Usage("nothing to resolve");
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  Probe probe;
  probe.loop = &loop;
  std::string error;
  probe.resolver = DnsResolver::Create(&loop, options, &error);
  if (!probe.resolver) {
    std::fprintf(stderr, "dns_resolver_probe: %s\n", error.c_str());
    return uv_loop_close(&loop) == 0 ? 2 : 3;
  }
  probe.start_ms = uv_hrtime() / 1000000;
  probe.outstanding = static_cast<int>(names.size() + srv_names.size());
  for (const std::string& name : names) {
    probe.resolver->Resolve(
        name, static_cast<uint16_t>(port),
        [&probe, name](const DnsAnswer& answer) { probe.OnAddress(name, answer); });
  }
  for (const std::string& name : srv_names) {
    probe.resolver->ResolveSrv(
        name, [&probe, name](const SrvAnswer& answer) { probe.OnSrv(name, answer); });
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  probe.resolver.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    std::fprintf(stderr, "dns_resolver_probe: handles left open on the loop\n");
    return 3;
  }
  return probe.failed ? 1 : 0;
}
