#include "pipeline/fetch/archive_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "pipeline/core/atomic_file.h"
#include "pipeline/dataset/tar_writer.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

namespace fs = std::filesystem;

// Reads every entry; returns the first error, or OK and the names.
Status ReadAll(const std::string& path, std::vector<std::string>* names,
               ExtractLimits limits = ExtractLimits()) {
  auto r = ArchiveReader::Open(path, limits);
  if (!r.ok()) return r.status();
  ArchiveEntry e;
  for (;;) {
    auto more = (*r)->Next(&e);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    names->push_back(e.path);
  }
}

template <typename Fill>
std::string MakeTar(const testing::TempDir& dir, const std::string& name, Fill fill,
                    TarWriter::Compression c = TarWriter::Compression::kGzip) {
  auto w = TarWriter::Create(dir / name, c);
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE((*w)->AddFile("images/ok.jpg", "fine").ok());
  fill(**w);
  EXPECT_TRUE((*w)->Finish().ok());
  return dir / name;
}

void ExpectRefused(const std::string& path, const std::string& entry, const std::string& why) {
  std::vector<std::string> names;
  Status s = ReadAll(path, &names);
  ASSERT_FALSE(s.ok()) << path;
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(entry), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
}

TEST(ArchiveReaderTest, HostileEntriesAreRefused) {
  testing::TempDir dir;
  ExpectRefused(
      MakeTar(dir, "dotdot.tar.gz",
              [](TarWriter& w) { ASSERT_TRUE(w.AddFile("images/../../evil", "x").ok()); }),
      "images/../../evil", "'..' component");
  ExpectRefused(MakeTar(dir, "abs.tar.gz",
                        [](TarWriter& w) { ASSERT_TRUE(w.AddFile("/tmp/evil", "x").ok()); }),
                "/tmp/evil", "absolute path");
  ExpectRefused(MakeTar(dir, "link.tar.gz",
                        [](TarWriter& w) {
                          ASSERT_TRUE(w.AddSymlink("images/link", "/etc").ok());
                          ASSERT_TRUE(w.AddFile("images/link/passwd", "x").ok());
                        }),
                "images/link", "symbolic link");
  ExpectRefused(
      MakeTar(dir, "hard.tar.gz",
              [](TarWriter& w) { ASSERT_TRUE(w.AddHardlink("images/h", "images/ok.jpg").ok()); }),
      "images/h", "hardlink");
  ExpectRefused(
      MakeTar(dir, "fifo.tar.gz", [](TarWriter& w) { ASSERT_TRUE(w.AddFifo("images/pipe").ok()); }),
      "images/pipe", "FIFO");
  std::string long_name = "images/" + std::string(300, 'n');
  ExpectRefused(
      MakeTar(
          dir, "long.tar", [&](TarWriter& w) { ASSERT_TRUE(w.AddFile(long_name, "x").ok()); },
          TarWriter::Compression::kNone),
      "images/nnnn", "name over the OS limit");
}

TEST(ArchiveReaderTest, DecompressionBombsAreRefused) {
  testing::TempDir dir;
  std::string bomb = MakeTar(dir, "bomb.tar.gz", [](TarWriter& w) {
    ASSERT_TRUE(w.AddFilledFile("images/huge.jpg", 100ull << 20, '\0').ok());
  });
  EXPECT_LT(fs::file_size(bomb), 1u << 20) << "small gzip, huge entry";
  ExpectRefused(bomb, "images/huge.jpg", "--max-entry-bytes");
  ExtractLimits tight;
  tight.max_total_bytes = 10;
  std::vector<std::string> names;
  std::string two = MakeTar(dir, "two.tar.gz", [](TarWriter& w) {
    ASSERT_TRUE(w.AddFile("images/b", "0123456789").ok());
  });
  Status s = ReadAll(two, &names, tight);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--max-extract-bytes"), std::string::npos) << s.message();
}

TEST(ArchiveReaderTest, DamagedStreamsNameTheArchive) {
  testing::TempDir dir;
  std::string good = MakeTar(dir, "good.tar.gz", [](TarWriter& w) {
    ASSERT_TRUE(w.AddFile("images/big.jpg", testing::Payload(300000)).ok());
  });
  std::string bytes = *ReadFile(good);
  ASSERT_TRUE(WriteFileAtomic(dir / "trunc.tar.gz", bytes.substr(0, bytes.size() / 2)).ok());
  std::vector<std::string> names;
  Status s = ReadAll(dir / "trunc.tar.gz", &names);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir / "trunc.tar.gz"), std::string::npos) << s.message();

  ASSERT_TRUE(WriteFileAtomic(dir / "junk.tar.gz", testing::Payload(5000)).ok());
  s = ReadAll(dir / "junk.tar.gz", &names);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("neither a gzip stream nor a tar archive"), std::string::npos);

  gzFile gz = gzopen((dir / "notar.tar.gz").c_str(), "wb");
  std::string text = testing::Payload(20000);
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  s = ReadAll(dir / "notar.tar.gz", &names);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir / "notar.tar.gz"), std::string::npos) << s.message();
}

TEST(ArchiveReaderTest, PlainTarNamedTarGzIsAccepted) {
  testing::TempDir dir;
  std::string plain = MakeTar(
      dir, "images.tar.gz",
      [](TarWriter& w) { ASSERT_TRUE(w.AddFile("./images/b.jpg", "bb").ok()); },
      TarWriter::Compression::kNone);
  EXPECT_EQ(*DetectArchiveFormat(plain), "tar");
  auto r = ArchiveReader::Open(plain, ExtractLimits());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)->gzip());
  ArchiveEntry e;
  ASSERT_TRUE(*(*r)->Next(&e));
  EXPECT_EQ(e.path, "images/ok.jpg");
  EXPECT_EQ(e.data, "fine");
  ASSERT_TRUE(*(*r)->Next(&e));
  EXPECT_EQ(e.path, "images/b.jpg") << "a leading ./ is dropped";
  EXPECT_FALSE(*(*r)->Next(&e));
}

}  // namespace
}  // namespace petprep
