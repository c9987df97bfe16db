#include "pipeline/augment/augment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace petprep {
namespace {

struct Sample {
  int side;
  std::vector<uint8_t> image, mask;
};

// A hand-made image: pixel (x, y) = (x * 4, y * 4, 100), mask 0 on the left half.
Sample Made(int side) {
  Sample s{side, std::vector<uint8_t>(side * side * 3), std::vector<uint8_t>(side * side)};
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      uint8_t* p = &s.image[(y * side + x) * 3];
      p[0] = static_cast<uint8_t>(x * 4);
      p[1] = static_cast<uint8_t>(y * 4);
      p[2] = 100;
      s.mask[y * side + x] = x < side / 2 ? 0 : (y < side / 2 ? 1 : 2);
    }
  }
  return s;
}

struct Out {
  std::vector<float> image;
  std::vector<uint8_t> mask;
};

Out Augment(const AugmentParams& p, const Sample& s) {
  Out o{std::vector<float>(3 * p.dst * p.dst), std::vector<uint8_t>(p.dst * p.dst)};
  AugmentSampleCpu(p, s.image.data(), s.mask.data(), o.image.data(), o.mask.data());
  return o;
}

AugmentParams Identity(int side) {
  AugmentSpec none = AugmentSpec::None();
  return DrawAugmentParams(none, 1, 1, 0, side, side, side);
}

TEST(AugmentTest, NoneIsTheReferenceNormalization) {
  Sample s = Made(32);
  Out o = Augment(Identity(32), s);
  for (int i = 0; i < 32 * 32; ++i) {
    for (int c = 0; c < 3; ++c) {
      ASSERT_EQ(o.image[c * 1024 + i], s.image[i * 3 + c] / 128.0f - 1.0f) << i;
    }
    ASSERT_EQ(o.mask[i], s.mask[i]);
  }
}

TEST(AugmentTest, AFlipIsAFlip) {
  Sample s = Made(32);
  AugmentParams p = Identity(32);
  p.flip = 1;
  Out o = Augment(p, s);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) {
      int src = y * 32 + (31 - x);
      ASSERT_EQ(o.mask[y * 32 + x], s.mask[src]);
      ASSERT_EQ(o.image[y * 32 + x], s.image[src * 3] / 128.0f - 1.0f) << x << "," << y;
    }
  }
}

TEST(AugmentTest, ACropLandsWhereItShould) {
  Sample s = Made(64);
  AugmentParams p = Identity(64);
  p.dst = 32;
  p.crop_x = 16;
  p.crop_y = 8;
  p.crop_w = 32;
  p.crop_h = 32;  // a 1:1 window: output (u, v) is source (16 + u, 8 + v)
  Out o = Augment(p, s);
  for (int v = 0; v < 32; ++v) {
    for (int u = 0; u < 32; ++u) {
      int src = (8 + v) * 64 + 16 + u;
      ASSERT_EQ(o.mask[v * 32 + u], s.mask[src]);
      ASSERT_EQ(o.image[v * 32 + u], s.image[src * 3] / 128.0f - 1.0f);
      ASSERT_EQ(o.image[32 * 32 + v * 32 + u], s.image[src * 3 + 1] / 128.0f - 1.0f);
    }
  }
}

TEST(AugmentTest, MasksNeverGainValues) {
  Sample s = Made(48);
  auto spec = AugmentSpec::FromJson(
      R"({"flip_p": 0.5, "crop_scale": [0.2, 1], "crop_ratio": [0.5, 2], "rotate_deg": 45,
          "brightness": 0.5, "contrast": 0.5, "saturation": 0.5})",
      "test");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  for (uint64_t key = 0; key < 50; ++key) {
    Out o = Augment(DrawAugmentParams(*spec, 3, key, 1, 48, 48, 40), s);
    for (uint8_t v : o.mask) ASSERT_LE(v, 2);
    for (float f : o.image) ASSERT_TRUE(f >= -1.0f && f < 1.0f);
  }
}

TEST(AugmentTest, DrawsDependOnSeedSampleAndEpochOnly) {
  auto spec = AugmentSpec::FromJson(R"({"rotate_deg": 30, "brightness": 0.4})", "t");
  AugmentParams a = DrawAugmentParams(*spec, 7, 42, 2, 64, 64, 64);
  AugmentParams b = DrawAugmentParams(*spec, 7, 42, 2, 64, 64, 64);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0);
  EXPECT_NE(DrawAugmentParams(*spec, 8, 42, 2, 64, 64, 64).sin_t, a.sin_t);
  EXPECT_NE(DrawAugmentParams(*spec, 7, 43, 2, 64, 64, 64).sin_t, a.sin_t);
  EXPECT_NE(DrawAugmentParams(*spec, 7, 42, 3, 64, 64, 64).sin_t, a.sin_t);
  // Turning brightness off leaves the rotation drawn for the same sample as it was.
  auto rot = AugmentSpec::FromJson(R"({"rotate_deg": 30})", "t");
  EXPECT_EQ(DrawAugmentParams(*rot, 7, 42, 2, 64, 64, 64).sin_t, a.sin_t);
  EXPECT_LE(std::fabs(a.sin_t), 0.5f + 1e-6f);
}

TEST(AugmentTest, OwnSinCosAreAccurate) {
  double worst = 0;
  for (int i = -10000; i <= 10000; ++i) {
    float x = static_cast<float>(i) * (0.7853982f / 10000.0f);
    worst = std::max(worst, std::fabs(PetSin(x) - std::sin(static_cast<double>(x))));
    worst = std::max(worst, std::fabs(PetCos(x) - std::cos(static_cast<double>(x))));
  }
  EXPECT_LT(worst, 3e-7);
}

TEST(AugmentTest, SpecErrorsNameTheKeyAndRange) {
  struct Case {
    const char* json;
    const char* expect;
  } cases[] = {
      {R"({"flip": 0.5})", "unknown key \"flip\""},
      {R"({"flip_p": 1.5})", "\"flip_p\" must be a number in [0, 1]"},
      {R"({"rotate_deg": 90})", "\"rotate_deg\" must be a number in [0, 45]"},
      {R"({"crop_scale": [0, 1]})", "\"crop_scale\""},
      {R"({"crop_scale": [0.9, 0.5]})", "lo <= hi"},
      {R"({"crop_ratio": [0, 2]})", "\"crop_ratio\""},
      {R"({"brightness": -0.1})", "\"brightness\""},
      {R"({"normalize": "imagenet"})", "\"normalize\""},
      {R"({"normalize": {"mean": [0.5, 0.5], "std": [1, 1, 1]}})", "\"normalize\""},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"flip_p": )", "not valid JSON"},
  };
  for (const Case& c : cases) {
    auto r = AugmentSpec::FromJson(c.json, "spec.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("spec.json", 0), 0u);
  }
  auto ok = AugmentSpec::FromJson(
      R"({"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}})", "s");
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->reference_normalize);
  EXPECT_EQ(AugmentSpec::FromJson("{}", "s")->flip_p, 0.5f) << "the reference's flip by default";
}

TEST(AugmentTest, ColourJitterFollowsTheIntegerRules) {
  Sample s = Made(16);
  AugmentParams p = Identity(16);
  p.q_brightness = 384;  // x 1.5
  Out o = Augment(p, s);
  for (int i = 0; i < 256; ++i) {
    int want = std::min(255, (s.image[i * 3] * 384 + 128) >> 8);
    ASSERT_EQ(o.image[i], want / 128.0f - 1.0f);
  }
  EXPECT_EQ(RoundDiv256(-384), -1);  // -1.5 rounds half up
  EXPECT_EQ(RoundDiv256(-385), -2);
  EXPECT_EQ(RoundDiv256(383), 1);
  EXPECT_EQ(RoundDiv256(384), 2);
}

}  // namespace
}  // namespace petprep
