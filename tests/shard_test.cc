#include "pipeline/dataset/shard.h"

#include <gtest/gtest.h>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/crc32c.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

void WriteShard(const testing::TempDir& dir, const std::vector<std::string>& records) {
  ShardBuilder b;
  for (const auto& r : records) b.Add(r);
  ASSERT_TRUE(WriteFileAtomic(dir / "s.rec", b.bytes()).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "s.idx", b.IndexBytes()).ok());
}

TEST(ShardTest, FramesAreTfRecords) {
  ShardBuilder b;
  b.Add("abc");
  const std::string& s = b.bytes();
  ASSERT_EQ(s.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(s.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  uint32_t len_crc = 0, data_crc = 0;
  for (int i = 3; i >= 0; --i) len_crc = (len_crc << 8) | static_cast<uint8_t>(s[8 + i]);
  for (int i = 3; i >= 0; --i) data_crc = (data_crc << 8) | static_cast<uint8_t>(s[15 + i]);
  EXPECT_EQ(len_crc, MaskCrc(Crc32c(s.data(), 8)));
  EXPECT_EQ(data_crc, MaskCrc(Crc32c("abc", 3)));
  EXPECT_EQ(s.substr(12, 3), "abc");
}

TEST(ShardTest, ReadsRecordIThroughTheIndex) {
  testing::TempDir dir;
  std::vector<std::string> recs = {"first", "", std::string(100000, 'x'), "last"};
  WriteShard(dir, recs);
  auto r = ShardReader::Open(dir / "s.rec", dir / "s.idx");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)->count(), 4u);
  for (size_t i : {3u, 0u, 2u, 1u}) EXPECT_EQ(*(*r)->Read(i), recs[i]) << i;
  auto all = ReadAllFrames(dir / "s.rec");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, recs);
}

TEST(ShardTest, CorruptionNamesShardAndRecord) {
  testing::TempDir dir;
  WriteShard(dir, {"aaaa", "bbbb", "cccc"});
  std::string bytes = *ReadFile(dir / "s.rec");
  bytes[20 + 12 + 1] ^= 1;  // a data byte of record 1
  ASSERT_TRUE(WriteFileAtomic(dir / "s.rec", bytes).ok());
  auto r = ShardReader::Open(dir / "s.rec", dir / "s.idx");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->Read(0).ok());
  auto bad = (*r)->Read(1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(dir / "s.rec"), std::string::npos);
  EXPECT_NE(bad.status().message().find("record 1"), std::string::npos);
  EXPECT_NE(bad.status().message().find("CRC"), std::string::npos);
  auto all = ReadAllFrames(dir / "s.rec");
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("record 1"), std::string::npos);
}

TEST(ShardTest, IndexMustMatchTheShard) {
  testing::TempDir dir;
  WriteShard(dir, {"aaaa"});
  ASSERT_TRUE(WriteFileAtomic(dir / "s.rec", *ReadFile(dir / "s.rec") + "x").ok());
  auto r = ShardReader::Open(dir / "s.rec", dir / "s.idx");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("says"), std::string::npos);
  EXPECT_FALSE(ShardReader::Open(dir / "nope.rec", dir / "s.idx").ok());
}

}  // namespace
}  // namespace petprep
