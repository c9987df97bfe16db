#include "pipeline/fetch/known_archives.h"

#include <gtest/gtest.h>

#include "pipeline/core/hash.h"

namespace petprep {
namespace {

TEST(KnownArchivesTest, BuiltInTableHoldsBothVersions) {
  ExpectedArchives e = ExpectedArchives::BuiltIn();
  auto images = e.VersionsOf("images.tar.gz");
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].size, 791918971u);
  EXPECT_EQ(images[0].sha256, "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d");
  EXPECT_EQ(images[0].md5, "5c4f3ee8e5d25df40f4fd59a7f44e54c");
  EXPECT_EQ(images[1].size, 802191360u);
  auto ann = e.VersionsOf("annotations.tar.gz");
  ASSERT_EQ(ann.size(), 2u);
  EXPECT_EQ(ann[0].size, 19173078u);
  EXPECT_EQ(ann[1].sha256, "8568ffea346d0b62181808f9fe45d00d214e43a45cd9a28c55664a690bd4eb76");
  EXPECT_EQ(e.MaxSizeOf("images.tar.gz"), 802191360u);
  EXPECT_NE(e.Match("images.tar.gz", 791918971,
                    "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d"),
            nullptr);
  EXPECT_EQ(e.Match("images.tar.gz", 791918970,
                    "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d"),
            nullptr)
      << "the size must match too";
}

TEST(KnownArchivesTest, ParsesSha256sumOutput) {
  std::string a = Sha256Hex("a"), b = Sha256Hex("b");
  std::string upper = b;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  auto e = ExpectedArchives::FromChecksumsText(
      a + "  images.tar.gz\n\n" + upper + " *some/dir/annotations.tar.gz\r\n" + a + "  README\n",
      "SUMS");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_NE(e->Match("images.tar.gz", 1, a), nullptr);
  EXPECT_NE(e->Match("annotations.tar.gz", 12345, b), nullptr) << "no size known: any size";
  EXPECT_EQ(e->Match("images.tar.gz", 1, b), nullptr);
  EXPECT_EQ(e->MaxSizeOf("images.tar.gz"), 0u);
  EXPECT_TRUE(e->VersionsOf("README").empty()) << "other names are ignored";
}

TEST(KnownArchivesTest, MalformedLinesAreNamed) {
  std::string a = Sha256Hex("a");
  auto bad_hex = ExpectedArchives::FromChecksumsText(
      a + "  images.tar.gz\n" + std::string(63, 'a') + "g  annotations.tar.gz\n", "SUMS");
  ASSERT_FALSE(bad_hex.ok());
  EXPECT_NE(bad_hex.status().message().find("SUMS:2:"), std::string::npos)
      << bad_hex.status().message();
  auto one_space = ExpectedArchives::FromChecksumsText(a + " images.tar.gz\n", "S");
  ASSERT_FALSE(one_space.ok());
  EXPECT_NE(one_space.status().message().find("S:1:"), std::string::npos);
  auto nothing = ExpectedArchives::FromChecksumsText(a + "  other.tar\n", "S");
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.status().message().find("neither"), std::string::npos);
  EXPECT_FALSE(ExpectedArchives::FromChecksumsFile("/no/such/SUMS").ok());
}

TEST(KnownArchivesTest, MismatchMessageShowsExpectedAndActual) {
  ExpectedArchives e = ExpectedArchives::BuiltIn();
  std::string m =
      e.MismatchMessage("data/raw/images.tar.gz", "images.tar.gz", 1234, Sha256Hex("x"), "md5x");
  EXPECT_NE(m.find("data/raw/images.tar.gz: 1,234 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find(Sha256Hex("x")), std::string::npos);
  EXPECT_NE(m.find("791,918,971 bytes"), std::string::npos);
  EXPECT_NE(m.find("5c4f3ee8e5d25df40f4fd59a7f44e54c"), std::string::npos);
  EXPECT_NE(m.find("plain tar (2019)"), std::string::npos);
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(1000), "1,000");
}

}  // namespace
}  // namespace petprep
