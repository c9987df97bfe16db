#include "pipeline/dataset/source_image.h"

#include <gtest/gtest.h>

#include "pipeline/dataset/codec.h"

namespace petprep {
namespace {

Image Gradient(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(x, y);
      p[0] = static_cast<uint8_t>(x * 7), p[1] = static_cast<uint8_t>(y * 5), p[2] = 90;
    }
  }
  return img;
}

TEST(SourceImageTest, DecodePictureReadsPngAndJpegToRgb) {
  const Image img = Gradient(21, 13);
  auto png = EncodePng(img);
  ASSERT_TRUE(png.ok());
  auto from_png = DecodePicture(*png);
  ASSERT_TRUE(from_png.ok()) << from_png.status().ToString();
  EXPECT_EQ(from_png->data, img.data) << "PNG is lossless";
  auto jpeg = EncodeJpeg(img, 95);
  ASSERT_TRUE(jpeg.ok());
  auto from_jpeg = DecodePicture(*jpeg);
  ASSERT_TRUE(from_jpeg.ok()) << from_jpeg.status().ToString();
  EXPECT_EQ(from_jpeg->width, 21);
  EXPECT_EQ(from_jpeg->height, 13);
  EXPECT_EQ(from_jpeg->channels, 3);
  auto direct = DecodeJpeg(*jpeg);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(from_jpeg->data, direct->data);
}

TEST(SourceImageTest, DecodePictureRefusesWhatIsNoPicture) {
  auto bad = DecodePicture("this is a text file, not a picture");
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(bad.status().message().empty());
  EXPECT_FALSE(DecodePicture("").ok());
}

}  // namespace
}  // namespace petprep
