#include "pipeline/core/crc32c.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/test_util.h"

namespace petprep {
namespace {

// RFC 3720 (iSCSI) appendix B.4 and the common check value.
TEST(Crc32cTest, KnownAnswers) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff'), inc(32, '\0');
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32cTest, ContinuationEqualsOneShot) {
  std::string s = "The quick brown fox jumps over the lazy dog, twice over: 0123456789";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = Crc32c(s.data(), cut);
    EXPECT_EQ(Crc32c(s.data() + cut, s.size() - cut, a), Crc32c(s.data(), s.size())) << cut;
  }
}

TEST(Crc32cTest, HardwarePathEqualsTables) {
  std::string data = testing::Payload(5000, 7);
  for (size_t len : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4999, 5000}) {
    for (uint32_t start : {0u, 0x12345678u}) {
      EXPECT_EQ(Crc32c(data.data(), len, start), Crc32cPortable(data.data(), len, start)) << len;
    }
  }
  EXPECT_EQ(Crc32cPortable("123456789", 9), 0xe3069283u);
}

TEST(Crc32cTest, MaskRoundTrips) {
  for (uint32_t v : {0u, 1u, 0xE3069283u, 0xffffffffu}) EXPECT_EQ(UnmaskCrc(MaskCrc(v)), v);
  EXPECT_NE(MaskCrc(0xE3069283u), 0xE3069283u);
}

}  // namespace
}  // namespace petprep
