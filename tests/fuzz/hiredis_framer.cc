#include "tests/fuzz/hiredis_framer.h"

#include <hiredis/hiredis.h>

#include <cstring>

namespace ringproxy::fuzz {
namespace {

// Every object is this one address: the reader only needs non-null results.
char g_object;

HiredisFramer* FramerOf(const redisReadTask* task) {
  return static_cast<HiredisFramer*>(task->privdata);
}

int ParentType(const redisReadTask* task) {
  return task->parent != nullptr ? task->parent->type : -1;
}

void* CreateString(const redisReadTask* task, char* text, size_t length) {
  FramerOf(task)->NoteString(task->type, ParentType(task), text, length);
  return &g_object;
}

void* CreateArray(const redisReadTask* task, int /*elements*/) {
  FramerOf(task)->NoteElement(task->type, ParentType(task), false);
  return &g_object;
}

void* CreateInteger(const redisReadTask* task, long long /*value*/) {
  FramerOf(task)->NoteElement(task->type, ParentType(task), false);
  return &g_object;
}

void* CreateNil(const redisReadTask* task) {
  FramerOf(task)->NoteElement(task->type, ParentType(task), true);
  return &g_object;
}

void FreeObject(void* /*object*/) {}

redisReplyObjectFunctions g_functions = {CreateString, CreateArray, CreateInteger, CreateNil,
                                         FreeObject};

}  // namespace

HiredisFramer::HiredisFramer(std::string_view stream, size_t long_line_bytes)
    : reader_(redisReaderCreateWithFunctions(&g_functions)),
      stream_(stream),
      long_line_bytes_(long_line_bytes) {
  // Every read task copies the reader's privdata as it is set up.
  reader_->privdata = this;
  if (!stream.empty()) redisReaderFeed(reader_, stream.data(), stream.size());
}

HiredisFramer::~HiredisFramer() { redisReaderFree(reader_); }

void HiredisFramer::NoteString(int type, int parent_type, const char* text, size_t length) {
  if (type == REDIS_REPLY_STATUS || type == REDIS_REPLY_ERROR) {
    if (std::memchr(text, '\r', length) != nullptr) current_.lone_cr = true;
    if (length > long_line_bytes_) current_.long_line = true;
  } else if (type == REDIS_REPLY_STRING) {
    // hiredis checked that the two bytes after the body are in its buffer, not what they are.
    if (text[length] != '\r' || text[length + 1] != '\n') current_.bad_trailer = true;
  }
  NoteElement(type, parent_type, false);
}

void HiredisFramer::NoteElement(int type, int parent_type, bool nil) {
  if (parent_type != REDIS_REPLY_ARRAY) return;
  if (type != REDIS_REPLY_STRING && !nil) current_.non_bulk_element = true;
  if (nil) current_.nil_element = true;
}

HiredisFramer::Frame HiredisFramer::Next() {
  if (done_) return last_;
  current_ = Frame{};
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
    current_.status = Status::kError;
    current_.error = reader_->errstr;
    // "Multi-bulk length out of range" also names a count below -1, which the proxy's parsers
    // reject themselves, so treating it as a limit hides nothing.
    current_.hiredis_limit =
        current_.error.find("nested multi bulk") != std::string::npos ||
        current_.error.find("Multi-bulk length out of range") != std::string::npos;
  } else if (reply == nullptr) {
    current_.status = Status::kIncomplete;
  } else {
    current_.status = Status::kComplete;
    // hiredis drops consumed bytes from the front of its buffer now and then; what is left
    // unread is always the stream's tail.
    current_.end = stream_.size() - (reader_->len - reader_->pos);
  }
  if (current_.status != Status::kComplete) {
    done_ = true;
    last_ = current_;
  }
  return current_;
}

}  // namespace ringproxy::fuzz
