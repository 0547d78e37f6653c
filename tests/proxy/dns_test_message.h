// Builds DNS messages byte by byte for the resolver tests: responses with chosen records and TTLs,
// which no real server on this machine can be made to serve (dnsmasq gives every local record
// the same TTL).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringproxy::proxy::testing {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kTypeSrv = 33;
constexpr uint16_t kRcodeNxdomain = 3;

struct DnsRecord {
  std::string name;
  uint16_t type = kTypeA;
  uint32_t ttl = 0;
  std::vector<uint8_t> data;
};

inline void PutU16(std::vector<uint8_t>* out, uint16_t value) {
  out->push_back(static_cast<uint8_t>(value >> 8));
  out->push_back(static_cast<uint8_t>(value));
}

inline void PutU32(std::vector<uint8_t>* out, uint32_t value) {
  PutU16(out, static_cast<uint16_t>(value >> 16));
  PutU16(out, static_cast<uint16_t>(value));
}

// `name` as uncompressed labels ("a.b" -> 1 'a' 1 'b' 0).
inline std::vector<uint8_t> EncodeName(const std::string& name) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) {
      dot = name.size();
    }
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<long>(start),
               name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

inline DnsRecord ARecord(const std::string& name, const std::string& ip, uint32_t ttl) {
  DnsRecord record{name, kTypeA, ttl, std::vector<uint8_t>(4)};
  inet_pton(AF_INET, ip.c_str(), record.data.data());
  return record;
}

inline DnsRecord AaaaRecord(const std::string& name, const std::string& ip, uint32_t ttl) {
  DnsRecord record{name, kTypeAaaa, ttl, std::vector<uint8_t>(16)};
  inet_pton(AF_INET6, ip.c_str(), record.data.data());
  return record;
}

inline DnsRecord CnameRecord(const std::string& name, const std::string& target, uint32_t ttl) {
  return DnsRecord{name, kTypeCname, ttl, EncodeName(target)};
}

inline DnsRecord SrvRecord(const std::string& name, uint16_t priority, uint16_t weight,
                           uint16_t port, const std::string& target, uint32_t ttl) {
  DnsRecord record{name, kTypeSrv, ttl, {}};
  PutU16(&record.data, priority);
  PutU16(&record.data, weight);
  PutU16(&record.data, port);
  const std::vector<uint8_t> encoded = EncodeName(target);
  record.data.insert(record.data.end(), encoded.begin(), encoded.end());
  return record;
}

// A response to query `id` for (`question`, `qtype`), class IN, with `answers` uncompressed.
inline std::vector<uint8_t> BuildResponse(uint16_t id, const std::string& question, uint16_t qtype,
                                          uint16_t rcode, const std::vector<DnsRecord>& answers) {
  std::vector<uint8_t> out;
  PutU16(&out, id);
  PutU16(&out, static_cast<uint16_t>(0x8180 | rcode));  // response, RD, RA
  PutU16(&out, 1);
  PutU16(&out, static_cast<uint16_t>(answers.size()));
  PutU16(&out, 0);
  PutU16(&out, 0);
  const std::vector<uint8_t> qname = EncodeName(question);
  out.insert(out.end(), qname.begin(), qname.end());
  PutU16(&out, qtype);
  PutU16(&out, 1);
  for (const DnsRecord& record : answers) {
    const std::vector<uint8_t> name = EncodeName(record.name);
    out.insert(out.end(), name.begin(), name.end());
    PutU16(&out, record.type);
    PutU16(&out, 1);
    PutU32(&out, record.ttl);
    PutU16(&out, static_cast<uint16_t>(record.data.size()));
    out.insert(out.end(), record.data.begin(), record.data.end());
  }
  return out;
}

}  // namespace ringproxy::proxy::testing
