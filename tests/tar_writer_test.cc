#include "pipeline/dataset/tar_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

Result<std::string> WriteSample(const std::string& path, TarWriter::Compression c) {
  auto w = TarWriter::Create(path, c);
  if (!w.ok()) return w.status();
  Status s = (*w)->AddDirectory("images/");
  if (s.ok()) s = (*w)->AddFile("images/a.jpg", "AAAA");
  if (s.ok()) s = (*w)->AddFile("images/empty", "");
  if (s.ok()) s = (*w)->AddSymlink("images/link", "../../etc/passwd");
  if (s.ok()) s = (*w)->AddHardlink("images/hard", "images/a.jpg");
  if (s.ok()) s = (*w)->AddFifo("images/fifo");
  if (s.ok()) s = (*w)->AddFilledFile("images/big", 100000, 'z');
  if (!s.ok()) return s;
  return (*w)->Finish();
}

TEST(TarWriterTest, EntriesReadBackInOrder) {
  testing::TempDir dir;
  auto sha = WriteSample(dir / "a.tar.gz", TarWriter::Compression::kGzip);
  ASSERT_TRUE(sha.ok()) << sha.status().ToString();
  EXPECT_EQ(*sha, ToHex(*Sha256OfFile(dir / "a.tar.gz", kArchiveFileLimit)));
  auto names = testing::ArchiveEntryNames(dir / "a.tar.gz");
  std::vector<std::string> want = {"images/",     "images/a.jpg", "images/empty", "images/link",
                                   "images/hard", "images/fifo",  "images/big"};
  EXPECT_EQ(names, want);
  auto files = testing::ReadArchive(dir / "a.tar.gz");
  EXPECT_EQ(files["images/a.jpg"], "AAAA");
  EXPECT_EQ(files["images/big"], std::string(100000, 'z'));
}

TEST(TarWriterTest, SameEntriesGiveSameBytesAtAnotherTime) {
  testing::TempDir dir;
  auto a = WriteSample(dir / "a.tar.gz", TarWriter::Compression::kGzip);
  sleep(2);  // a time stamp anywhere would now differ
  auto b = WriteSample(dir / "b.tar.gz", TarWriter::Compression::kGzip);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  std::string bytes = *ReadFile(dir / "a.tar.gz");
  EXPECT_EQ(bytes.substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(bytes.substr(4, 4), std::string(4, '\0')) << "gzip header mtime must be 0";
}

TEST(TarWriterTest, PlainTarHasUstarHeaders) {
  testing::TempDir dir;
  auto sha = WriteSample(dir / "plain.tar.gz", TarWriter::Compression::kNone);
  ASSERT_TRUE(sha.ok());
  std::string bytes = *ReadFile(dir / "plain.tar.gz");
  EXPECT_EQ(bytes.substr(0, 7), "images/");
  EXPECT_EQ(bytes.substr(257, 5), "ustar");
  EXPECT_EQ(bytes.size() % 512, 0u);
  EXPECT_EQ(testing::ReadArchive(dir / "plain.tar.gz")["images/a.jpg"], "AAAA");
}

TEST(TarWriterTest, NothingUnderTheNameWithoutFinish) {
  testing::TempDir dir;
  {
    auto w = TarWriter::Create(dir / "x.tar.gz", TarWriter::Compression::kGzip);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->AddFile("a", std::string(1 << 20, 'q')).ok());
  }
  EXPECT_FALSE(ReadFile(dir / "x.tar.gz").ok());
}

}  // namespace
}  // namespace petprep
