#include "pipeline/core/philox.h"

#include <gtest/gtest.h>

namespace petprep {
namespace {

void ExpectPhilox(PhiloxCounter c, PhiloxKey k, PhiloxCounter want) {
  PhiloxCounter got = Philox4x32_10(c, k);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], want.v[i]) << "word " << i;
}

// Random123's known-answer vectors for philox4x32 with 10 rounds.
TEST(PhiloxTest, KnownAnswers) {
  ExpectPhilox({{0, 0, 0, 0}}, {{0, 0}}, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}});
  ExpectPhilox({{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, {{0xffffffff, 0xffffffff}},
               {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}});
  ExpectPhilox({{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, {{0xa4093822, 0x299f31d0}},
               {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}});
}

TEST(PhiloxTest, DerivedValuesFollowTheExactRules) {
  EXPECT_EQ(UniformFloat(0), 0.0f);
  EXPECT_EQ(UniformFloat(0xffffffffu), 16777215.0f / 16777216.0f);
  EXPECT_EQ(UniformFloat(0x80000000u), 0.5f);
  EXPECT_EQ(BoundedInt(0, 10), 0u);
  EXPECT_EQ(BoundedInt(0x80000000u, 10), 5u);
  EXPECT_EQ(BoundedInt(0xffffffffu, 10), 9u);
}

TEST(PhiloxTest, StreamWalksBlocksInOrder) {
  PhiloxKey key = DeriveKey(42, RandomPurpose::kAugment);
  uint64_t sample = 0x4f51e517a08d6f38ull;
  PhiloxStream s(key, sample, 3);
  for (uint32_t block = 0; block < 3; ++block) {
    PhiloxCounter c = {
        {static_cast<uint32_t>(sample), static_cast<uint32_t>(sample >> 32), 3, block}};
    PhiloxCounter want = Philox4x32_10(c, key);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(s.NextU32(), want.v[i]) << block << "/" << i;
  }
  PhiloxStream later(key, sample, 3, 2);
  PhiloxCounter c2 = {{static_cast<uint32_t>(sample), static_cast<uint32_t>(sample >> 32), 3, 2}};
  EXPECT_EQ(later.NextU32(), Philox4x32_10(c2, key).v[0]);
}

TEST(PhiloxTest, KeysDependOnSeedAndPurpose) {
  PhiloxKey a = DeriveKey(1, RandomPurpose::kShuffle);
  PhiloxKey b = DeriveKey(1, RandomPurpose::kAugment);
  PhiloxKey c = DeriveKey(2, RandomPurpose::kShuffle);
  PhiloxKey a2 = DeriveKey(1, RandomPurpose::kShuffle);
  EXPECT_TRUE(a.v[0] != b.v[0] || a.v[1] != b.v[1]);
  EXPECT_TRUE(a.v[0] != c.v[0] || a.v[1] != c.v[1]);
  EXPECT_TRUE(a.v[0] == a2.v[0] && a.v[1] == a2.v[1]);
  PhiloxCounter want = Philox4x32_10({{1, 0, 0, 0}}, {{1, 0}});
  PhiloxKey k = DeriveKey(1, RandomPurpose::kSynth);
  EXPECT_EQ(k.v[0], want.v[0]);
  EXPECT_EQ(k.v[1], want.v[1]);
}

TEST(PhiloxTest, BoundedDrawsStayInRangeAndCoverIt) {
  PhiloxStream s(DeriveKey(7, RandomPurpose::kSynth), 1, 0);
  int seen[7] = {};
  for (int i = 0; i < 7000; ++i) {
    int v = s.Between(3, 9);
    ASSERT_GE(v, 3);
    ASSERT_LE(v, 9);
    ++seen[v - 3];
    float u = s.Uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
  }
  for (int count : seen) EXPECT_GT(count, 850);
}

}  // namespace
}  // namespace petprep
