#include "pipeline/dataset/resize.h"

#include <gtest/gtest.h>

#include <cmath>

namespace petprep {
namespace {

Image Ramp(int w, int h, int c) {
  Image img(w, h, c);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k)
        img.at(x, y)[k] = static_cast<uint8_t>((x * 7 + y * 3 + k * 50) % 256);
    }
  }
  return img;
}

TEST(ResizeTest, SameSizeIsIdentity) {
  Image a = Ramp(37, 23, 3);
  EXPECT_EQ(ResizeBilinear(a, 37, 23).data, a.data);
  EXPECT_EQ(ResizeNearest(a, 37, 23).data, a.data);
}

TEST(ResizeTest, TapsFollowThePixelCentreRule) {
  // Halving: output x samples between source 2x and 2x+1 with equal weights.
  AxisTap t = BilinearTap(3, 100, 50);
  EXPECT_EQ(t.i0, 6);
  EXPECT_EQ(t.i1, 7);
  EXPECT_EQ(t.w0, 1024u);
  EXPECT_EQ(t.w1, 1024u);
  // Doubling: output 0 lies before source 0's centre and clamps to it.
  AxisTap c = BilinearTap(0, 50, 100);
  EXPECT_EQ(c.i0, 0);
  EXPECT_EQ(c.w0, 2048u);
  // Output 1 of a doubling lies at source 0.25: weights 3/4 and 1/4.
  AxisTap q = BilinearTap(1, 50, 100);
  EXPECT_EQ(q.i0, 0);
  EXPECT_EQ(q.i1, 1);
  EXPECT_EQ(q.w1, 512u);
  // The last output never reads past the edge.
  AxisTap e = BilinearTap(99, 50, 100);
  EXPECT_EQ(e.i1, 49);
}

// Against a plain double-precision bilinear with the same pixel-centre mapping: at most one
// step apart (the weights are rounded to 1/2048).
TEST(ResizeTest, CloseToTheRealNumberDefinition) {
  Image src = Ramp(211, 157, 3);
  Image out = ResizeBilinear(src, 128, 128);
  for (int y = 0; y < 128; ++y) {
    double sy = std::max(0.0, (y + 0.5) * 157 / 128 - 0.5);
    int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, 156);
    double fy = sy - y0;
    for (int x = 0; x < 128; ++x) {
      double sx = std::max(0.0, (x + 0.5) * 211 / 128 - 0.5);
      int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, 210);
      double fx = sx - x0;
      for (int c = 0; c < 3; ++c) {
        double v = (src.at(x0, y0)[c] * (1 - fx) + src.at(x1, y0)[c] * fx) * (1 - fy) +
                   (src.at(x0, y1)[c] * (1 - fx) + src.at(x1, y1)[c] * fx) * fy;
        ASSERT_NEAR(out.at(x, y)[c], v, 1.0) << x << "," << y << "," << c;
      }
    }
  }
}

TEST(ResizeTest, NearestNeverInventsValues) {
  Image mask(301, 199, 1);
  for (size_t i = 0; i < mask.data.size(); ++i) mask.data[i] = static_cast<uint8_t>(i % 3);
  Image out = ResizeNearest(mask, 128, 128);
  for (int y = 0; y < 128; ++y) {
    for (int x = 0; x < 128; ++x) {
      EXPECT_EQ(out.at(x, y)[0], mask.at(x * 301 / 128, y * 199 / 128)[0]);
    }
  }
}

}  // namespace
}  // namespace petprep
