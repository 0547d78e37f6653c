// Small RESP2 encoders for the replies the proxy composes itself (local commands, errors, merged
// split replies) and for re-encoding the requests it splits.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/byte_buffer.h"

namespace ringproxy::proxy::resp {

void AppendSimple(ByteBuffer* out, std::string_view text);  // +text
// `text` starts with the error code ("ERR ...", "NOAUTH ..."); CR/LF in it become spaces.
void AppendError(ByteBuffer* out, std::string_view text);
void AppendInteger(ByteBuffer* out, int64_t value);
void AppendBulk(ByteBuffer* out, std::string_view value);
void AppendNullBulk(ByteBuffer* out);
void AppendArrayHeader(ByteBuffer* out, int64_t count);

}  // namespace ringproxy::proxy::resp
