#include "pipeline/dataset/overlay.h"

#include <gtest/gtest.h>

namespace petprep {
namespace {

TEST(OverlayTest, PetOrangeBorderYellowBackgroundUntouched) {
  Image rgb(3, 1, 3), classes(3, 1, 1);
  for (int x = 0; x < 3; ++x) {
    uint8_t* p = rgb.at(x, 0);
    p[0] = 100, p[1] = 50, p[2] = 1;
  }
  classes.at(0, 0)[0] = 0;
  classes.at(1, 0)[0] = 1;
  classes.at(2, 0)[0] = 2;
  Image out = OverlayClasses(rgb, classes);
  const uint8_t* pet = out.at(0, 0);
  const uint8_t* bg = out.at(1, 0);
  const uint8_t* border = out.at(2, 0);
  EXPECT_EQ(pet[0], (100 + 255) / 2);
  EXPECT_EQ(pet[1], (50 + 120) / 2);
  EXPECT_EQ(pet[2], (1 + 0) / 2);
  EXPECT_EQ(bg[0], 100);
  EXPECT_EQ(bg[1], 50);
  EXPECT_EQ(bg[2], 1);
  EXPECT_EQ(border[0], (100 + 255) / 2);
  EXPECT_EQ(border[1], (50 + 230) / 2);
  EXPECT_EQ(border[2], (1 + 0) / 2);
}

}  // namespace
}  // namespace petprep
