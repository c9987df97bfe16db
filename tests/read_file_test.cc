#include "pipeline/core/read_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

constexpr FileLimit kSmall{"test record", 16};

TEST(ReadFileTest, ReadsARegularFileWhole) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "a", "hello").ok());
  auto text = ReadFile(dir / "a", kSmall);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "hello");
  ASSERT_TRUE(WriteFileAtomic(dir / "empty", "").ok());
  EXPECT_EQ(*ReadFile(dir / "empty", kSmall), "");
}

TEST(ReadFileTest, AMissingFileIsNotFound) {
  testing::TempDir dir;
  auto r = ReadFile(dir / "nope", kSmall);
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find(dir / "nope"), std::string::npos);
}

TEST(ReadFileTest, AFileOverTheLimitIsRefusedFromItsSize) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "big", std::string(17, 'x')).ok());
  auto r = ReadFile(dir / "big", kSmall);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir / "big"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("17 bytes, more than a test record may hold (16 bytes)"),
            std::string::npos)
      << r.status().message();
}

// A FIFO with no writer: a plain open() would wait for one forever.
TEST(ReadFileTest, AFifoIsRefusedAtOnce) {
  testing::TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0644), 0);
  const auto start = std::chrono::steady_clock::now();
  auto r = ReadFile(dir / "fifo", kSmall);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir / "fifo" + ": a FIFO, not a regular file"),
            std::string::npos)
      << r.status().message();
}

TEST(ReadFileTest, DevicesFoldersAndLinksToThemAreRefused) {
  testing::TempDir dir;
  ASSERT_EQ(::symlink("/dev/zero", (dir / "zero.json").c_str()), 0);
  for (const std::string& path : {std::string("/dev/zero"), dir / "zero.json", dir.path()}) {
    auto r = ReadFile(path, kCheckpointLimit);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << path;
    EXPECT_NE(r.status().message().find(path + ": "), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("not a regular file (petprep reads a checkpoint only"),
              std::string::npos)
        << r.status().message();
  }
  EXPECT_NE(ReadFile(dir.path(), kSmall).status().message().find("a folder"), std::string::npos);
  EXPECT_NE(ReadFile("/dev/zero", kSmall).status().message().find("a character device"),
            std::string::npos);
}

TEST(ReadFileTest, StreamingReadsStopAtTheLimit) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "a", std::string(10, 'x')).ok());
  auto f = ReadableFile::Open(dir / "a", kSmall);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), 10u);
  // The file grows past the limit after it was opened: the read that crosses it fails.
  {
    FILE* out = std::fopen((dir / "a").c_str(), "ab");
    ASSERT_NE(out, nullptr);
    std::fputs("0123456789", out);
    std::fclose(out);
  }
  auto all = f->ReadAll();
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("it grew while read"), std::string::npos)
      << all.status().message();
}

}  // namespace
}  // namespace petprep
