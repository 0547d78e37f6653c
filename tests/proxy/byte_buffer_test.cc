#include "base/byte_buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace ringproxy::proxy {
namespace {

TEST(ByteBuffer, ReleasesMemoryWhenEmptied) {
  ByteBuffer buffer;
  buffer.Append("hello");
  EXPECT_GT(buffer.capacity(), 0u);
  buffer.Consume(5);
  EXPECT_EQ(buffer.capacity(), 0u);
  EXPECT_TRUE(buffer.empty());
}

TEST(ByteBuffer, ClearKeepsTheMemoryForReuse) {
  ByteBuffer buffer;
  buffer.Append("hello");
  buffer.Consume(1);
  const size_t capacity = buffer.capacity();
  buffer.Clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), capacity);
  buffer.Append("again");
  EXPECT_EQ(buffer.view(), "again");
  EXPECT_EQ(buffer.capacity(), capacity);
}

TEST(ByteBuffer, AppendingAnEmptyBufferToAnEmptyOneLeavesBothEmpty) {
  // Under UBSan, a memcpy from the null data of an empty buffer is reported.
  ByteBuffer empty;
  ByteBuffer buffer;
  buffer.Append(empty.view());
  buffer.Append(nullptr, 0);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 0u);
}

TEST(ByteBuffer, ConsumesFromTheFront) {
  ByteBuffer buffer;
  buffer.Append("hello world");
  buffer.Consume(6);
  EXPECT_EQ(buffer.view(), "world");
  buffer.Append("!");
  EXPECT_EQ(buffer.view(), "world!");
}

TEST(ByteBuffer, GrowsKeepingContent) {
  ByteBuffer buffer;
  std::string expected;
  for (int i = 0; i < 10000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    buffer.Append(piece);
    expected += piece;
    if (i % 7 == 0) {
      buffer.Consume(1);
      expected.erase(0, 1);
    }
  }
  EXPECT_EQ(buffer.view(), expected);
}

TEST(ByteBuffer, MoveLeavesTheSourceEmpty) {
  ByteBuffer a;
  a.Append("abc");
  ByteBuffer b = std::move(a);
  EXPECT_EQ(b.view(), "abc");
  // The moved-from state is the point of this test.
  // NOLINTNEXTLINE(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
  EXPECT_EQ(a.capacity(), 0u);
}

}  // namespace
}  // namespace ringproxy::proxy
