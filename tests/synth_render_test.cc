#include "pipeline/dataset/synth_render.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipeline/dataset/synth.h"

namespace petprep {
namespace {

const Breed& BreedOf(const std::string& id) { return *ParsePetId(id)->breed; }

TEST(SynthRenderTest, SameInputsSamePixels) {
  RenderedPet a = RenderPet(7, "Bengal_3", BreedOf("Bengal_3"));
  RenderedPet b = RenderPet(7, "Bengal_3", BreedOf("Bengal_3"));
  EXPECT_EQ(a.image.data, b.image.data);
  EXPECT_EQ(a.trimap.data, b.trimap.data);
  RenderedPet c = RenderPet(8, "Bengal_3", BreedOf("Bengal_3"));
  EXPECT_NE(a.image.data, c.image.data);
  RenderedPet d = RenderPet(7, "Bengal_4", BreedOf("Bengal_4"));
  EXPECT_NE(a.image.data, d.image.data);
}

TEST(SynthRenderTest, TrimapsLookLikeOxfordTrimaps) {
  for (const std::string& id : SynthPetIds(74)) {
    RenderedPet p = RenderPet(1, id, BreedOf(id));
    ASSERT_GE(p.image.width, 150);
    ASSERT_LE(p.image.width, 600);
    ASSERT_GE(p.image.height, 150);
    ASSERT_LE(p.image.height, 600);
    ASSERT_EQ(p.trimap.width, p.image.width);
    ASSERT_EQ(p.trimap.height, p.image.height);
    ASSERT_GE(p.jpeg_quality, 75);
    ASSERT_LE(p.jpeg_quality, 95);
    size_t count[4] = {};
    for (uint8_t v : p.trimap.data) {
      ASSERT_TRUE(v >= 1 && v <= 3) << id << " holds " << int(v);
      ++count[v];
    }
    double n = static_cast<double>(p.trimap.data.size());
    EXPECT_GT(count[1] / n, 0.04) << id << ": the pet is too small";
    EXPECT_LT(count[1] / n, 0.7) << id << ": the pet fills the picture";
    EXPECT_GT(count[3], 0u) << id;
    // A pet pixel never touches a background pixel: the border band lies between them.
    for (int y = 0; y < p.trimap.height; ++y) {
      for (int x = 1; x < p.trimap.width; ++x) {
        int a = p.trimap.at(x - 1, y)[0], b = p.trimap.at(x, y)[0];
        ASSERT_FALSE((a == 1 && b == 2) || (a == 2 && b == 1)) << id << " at " << x << "," << y;
      }
    }
    EXPECT_LE(p.head.xmin, p.head.xmax);
    EXPECT_LE(p.head.ymin, p.head.ymax);
  }
}

// The pictures must not be solvable by colour alone: a per-pixel classifier on a 16^3
// colour histogram, fitted on half of the pets, finds the pet poorly on the other half.
TEST(SynthRenderTest, ColourAloneDoesNotFindThePet) {
  std::vector<std::string> ids = SynthPetIds(148);
  constexpr int kBins = 16 * 16 * 16;
  std::vector<double> pet(kBins, 0), bg(kBins, 0);
  auto bin = [](const uint8_t* p) { return (p[0] >> 4) * 256 + (p[1] >> 4) * 16 + (p[2] >> 4); };
  for (size_t i = 0; i < ids.size(); i += 2) {
    RenderedPet p = RenderPet(3, ids[i], BreedOf(ids[i]));
    for (int y = 0; y < p.image.height; ++y) {
      for (int x = 0; x < p.image.width; ++x) {
        uint8_t t = p.trimap.at(x, y)[0];
        if (t == 1) pet[bin(p.image.at(x, y))] += 1;
        if (t == 2) bg[bin(p.image.at(x, y))] += 1;
      }
    }
  }
  double inter = 0, uni = 0;
  for (size_t i = 1; i < ids.size(); i += 2) {
    RenderedPet p = RenderPet(3, ids[i], BreedOf(ids[i]));
    for (int y = 0; y < p.image.height; ++y) {
      for (int x = 0; x < p.image.width; ++x) {
        uint8_t t = p.trimap.at(x, y)[0];
        if (t == 3) continue;
        int b = bin(p.image.at(x, y));
        bool predicted = pet[b] > bg[b];
        bool truth = t == 1;
        inter += predicted && truth;
        uni += predicted || truth;
      }
    }
  }
  double iou = inter / uni;
  std::printf("colour-histogram classifier: pet IoU %.3f\n", iou);
  EXPECT_LT(iou, 0.6);
}

TEST(SynthRenderTest, OfficialSplitIsAboutHalf) {
  int trainval = 0;
  std::vector<std::string> ids = SynthPetIds(1000);
  for (const std::string& id : ids) trainval += SynthIsTrainval(5, id);
  EXPECT_GT(trainval, 440);
  EXPECT_LT(trainval, 560);
}

}  // namespace
}  // namespace petprep
