// Small RESP encoders for the replies the proxy composes itself (local commands, errors, merged
// split replies) and for re-encoding the requests it splits. The types RESP3 adds take the
// client's protocol and fall back to the form Redis gives a RESP2 client.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/byte_buffer.h"
#include "dataplane/protocol.h"

namespace ringproxy::proxy::resp {

void AppendSimple(ByteBuffer* out, std::string_view text);  // +text
// `text` starts with the error code ("ERR ...", "NOAUTH ..."); CR/LF in it become spaces.
void AppendError(ByteBuffer* out, std::string_view text);
void AppendInteger(ByteBuffer* out, int64_t value);
void AppendBulk(ByteBuffer* out, std::string_view value);
void AppendNullBulk(ByteBuffer* out);
void AppendArrayHeader(ByteBuffer* out, int64_t count);

// RESP3's null (_), or RESP2's null bulk string.
void AppendNull(ByteBuffer* out, Protocol protocol);
// A map of `pairs` key-value pairs (%), or RESP2's flat array of twice as many elements.
void AppendMapHeader(ByteBuffer* out, int64_t pairs, Protocol protocol);
// A set (~), or RESP2's array.
void AppendSetHeader(ByteBuffer* out, int64_t count, Protocol protocol);
// A verbatim text string (=N\r\ntxt:...), or RESP2's bulk string.
void AppendVerbatimText(ByteBuffer* out, std::string_view text, Protocol protocol);

}  // namespace ringproxy::proxy::resp
