#include "pipeline/dataset/codec.h"

#include <gif_lib.h>
#include <gtest/gtest.h>
#include <png.h>
#include <turbojpeg.h>

#include <cstring>
#include <opencv2/imgcodecs.hpp>

namespace petprep {
namespace {

Image Gradient(int w, int h, int c) {
  Image img(w, h, c);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) img.at(x, y)[k] = static_cast<uint8_t>(x + y + k * 40);
    }
  }
  return img;
}

cv::Mat Decode(const std::string& bytes, int flags) {
  std::vector<uchar> buf(bytes.begin(), bytes.end());
  return cv::imdecode(buf, flags);
}

TEST(CodecTest, JpegRgbDecodesCloseToTheSource) {
  Image img = Gradient(64, 48, 3);
  auto jpeg = EncodeJpeg(img, 95);
  ASSERT_TRUE(jpeg.ok());
  EXPECT_EQ(jpeg->substr(0, 3), "\xff\xd8\xff");
  cv::Mat m = Decode(*jpeg, cv::IMREAD_COLOR);
  ASSERT_EQ(m.cols, 64);
  ASSERT_EQ(m.rows, 48);
  cv::Vec3b px = m.at<cv::Vec3b>(20, 30);  // BGR
  EXPECT_NEAR(px[2], img.at(30, 20)[0], 12);
  EXPECT_NEAR(px[0], img.at(30, 20)[2], 12);
}

TEST(CodecTest, JpegColorSpaces) {
  tjhandle tj = tjInitDecompress();
  int w, h, subsamp, cs;
  auto gray = EncodeJpeg(Gradient(32, 32, 1), 90);
  ASSERT_TRUE(gray.ok());
  ASSERT_EQ(tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(gray->data()),
                                gray->size(), &w, &h, &subsamp, &cs),
            0);
  EXPECT_EQ(cs, TJCS_GRAY);
  auto cmyk = EncodeJpeg(Gradient(32, 32, 4), 90, JpegColor::kCmyk);
  ASSERT_TRUE(cmyk.ok());
  ASSERT_EQ(tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(cmyk->data()),
                                cmyk->size(), &w, &h, &subsamp, &cs),
            0);
  EXPECT_TRUE(cs == TJCS_CMYK || cs == TJCS_YCCK) << cs;
  tjDestroy(tj);
  EXPECT_FALSE(EncodeJpeg(Gradient(8, 8, 4), 90).ok()) << "4 channels need kCmyk";
  EXPECT_FALSE(EncodeJpeg(Gradient(8, 8, 3), 0).ok());
}

TEST(CodecTest, PngIsLossless) {
  for (int c : {1, 3, 4}) {
    Image img = Gradient(31, 17, c);
    auto png = EncodePng(img);
    ASSERT_TRUE(png.ok());
    EXPECT_EQ(png->substr(1, 3), "PNG");
    cv::Mat m = Decode(*png, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(m.channels(), c);
    ASSERT_EQ(m.cols, 31);
    for (int y = 0; y < 17; ++y) {
      for (int x = 0; x < 31; ++x) {
        const uint8_t* want = img.at(x, y);
        const uint8_t* got = m.ptr<uint8_t>(y) + x * c;
        if (c == 1) {
          ASSERT_EQ(got[0], want[0]);
        } else {
          ASSERT_EQ(got[0], want[2]) << "BGR order";
          ASSERT_EQ(got[1], want[1]);
          ASSERT_EQ(got[2], want[0]);
          if (c == 4) {
            ASSERT_EQ(got[3], want[3]);
          }
        }
      }
    }
  }
}

struct MemReader {
  const std::string* data;
  size_t pos = 0;
};

int ReadGif(GifFileType* gif, GifByteType* out, int n) {
  auto* r = static_cast<MemReader*>(gif->UserData);
  size_t k = std::min<size_t>(n, r->data->size() - r->pos);
  std::memcpy(out, r->data->data() + r->pos, k);
  r->pos += k;
  return static_cast<int>(k);
}

TEST(CodecTest, GifHoldsTheCubeColours) {
  Image img(4, 2, 3, 0);
  img.at(1, 0)[0] = 255;                    // red
  img.at(2, 1)[1] = 102;                    // green level 2
  img.at(3, 1)[0] = img.at(3, 1)[2] = 204;  // level 4
  auto gif = EncodeGif(img);
  ASSERT_TRUE(gif.ok());
  EXPECT_EQ(gif->substr(0, 6), "GIF89a");
  MemReader reader{&*gif};
  int err = 0;
  GifFileType* g = DGifOpen(&reader, ReadGif, &err);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(DGifSlurp(g), GIF_OK);
  ASSERT_EQ(g->ImageCount, 1);
  EXPECT_EQ(g->SWidth, 4);
  EXPECT_EQ(g->SHeight, 2);
  const GifByteType* px = g->SavedImages[0].RasterBits;
  const GifColorType* pal = g->SColorMap->Colors;
  EXPECT_EQ(pal[px[1]].Red, 255);
  EXPECT_EQ(pal[px[4 + 2]].Green, 102);
  EXPECT_EQ(pal[px[4 + 3]].Red, 204);
  EXPECT_EQ(pal[px[4 + 3]].Blue, 204);
  EXPECT_EQ(pal[px[0]].Red + pal[px[0]].Green + pal[px[0]].Blue, 0);
  DGifCloseFile(g, &err);
}

}  // namespace
}  // namespace petprep

namespace petprep {
namespace {

TEST(CodecTest, PngRoundTripsThroughLibpng) {
  for (int c : {1, 3, 4}) {
    Image img(23, 9, c);
    for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<uint8_t>(i * 37 + c);
    auto png = EncodePng(img);
    ASSERT_TRUE(png.ok());
    auto back = DecodePng(*png);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->channels, c);
    EXPECT_EQ(back->data, img.data);
  }
  EXPECT_FALSE(DecodePng("not a png").ok());
  auto png = EncodePng(Image(40, 40, 3, 7));
  EXPECT_FALSE(DecodePng(png->substr(0, png->size() / 2)).ok()) << "a truncated PNG is an error";
}

}  // namespace
}  // namespace petprep

namespace petprep {
namespace {

// A PNG of any layout, written with libpng directly: pseudo-random samples, a full palette
// for palette files, and a tRNS chunk when asked.
std::string WritePngVariant(int w, int h, int color, int depth, bool trns, bool interlace,
                            uint32_t seed) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return "";
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep d, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(d), n);
      },
      nullptr);
  png_set_IHDR(png, info, w, h, depth, color, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> palette(256);
  std::vector<png_byte> alpha(256);
  for (int i = 0; i < 256; ++i) {
    palette[i] = {static_cast<png_byte>(i * 7), static_cast<png_byte>(255 - i),
                  static_cast<png_byte>(i * 13)};
    alpha[i] = static_cast<png_byte>(i * 5);
  }
  if (color == PNG_COLOR_TYPE_PALETTE) {
    png_set_PLTE(png, info, palette.data(), 1 << depth);
    if (trns) png_set_tRNS(png, info, alpha.data(), 1 << depth, nullptr);
  } else if (trns) {
    png_color_16 key{};
    key.gray = key.red = 1;
    key.green = 2;
    key.blue = 3;
    png_set_tRNS(png, info, nullptr, 0, &key);
  }
  png_write_info(png, info);
  const int samples = color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_PALETTE ? 1
                      : color == PNG_COLOR_TYPE_GRAY_ALPHA                            ? 2
                      : color == PNG_COLOR_TYPE_RGB                                   ? 3
                                                                                      : 4;
  const size_t row_bytes = (static_cast<size_t>(w) * samples * depth + 7) / 8;
  std::vector<png_byte> data(row_bytes * h);
  uint32_t x = seed;
  for (auto& b : data) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<png_byte>(x >> 24);
  }
  std::vector<png_bytep> rows(h);
  for (int y = 0; y < h; ++y) rows[y] = data.data() + y * row_bytes;
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// DecodeAnyPng lays every PNG out as OpenCV's imdecode(IMREAD_UNCHANGED) does (in RGB order),
// which the conversion of PNGs named .jpg and of trimaps has always followed.
TEST(CodecTest, AnyPngMatchesOpenCvUnchanged) {
  struct Variant {
    int color;
    std::vector<int> depths;
  };
  const Variant variants[] = {{PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}},
                              {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}},
                              {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}},
                              {PNG_COLOR_TYPE_RGB, {8, 16}},
                              {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}}};
  int checked = 0;
  for (const Variant& v : variants) {
    for (int depth : v.depths) {
      for (bool trns : {false, true}) {
        if (trns && (v.color & PNG_COLOR_MASK_ALPHA)) continue;  // not allowed with alpha
        for (bool interlace : {false, true}) {
          const std::string what = "color " + std::to_string(v.color) + " depth " +
                                   std::to_string(depth) + (trns ? " tRNS" : "") +
                                   (interlace ? " interlaced" : "");
          std::string bytes =
              WritePngVariant(13, 7, v.color, depth, trns, interlace, 99u + checked);
          ASSERT_FALSE(bytes.empty()) << what;
          cv::Mat m = Decode(bytes, cv::IMREAD_UNCHANGED);
          ASSERT_FALSE(m.empty()) << what;
          auto ours = DecodeAnyPng(bytes);
          ASSERT_TRUE(ours.ok()) << what << ": " << ours.status().ToString();
          ASSERT_EQ(ours->channels, m.channels()) << what;
          ASSERT_EQ(ours->wide, m.depth() == CV_16U) << what;
          const int ch = m.channels();
          for (int y = 0; y < m.rows; ++y) {
            for (int x = 0; x < m.cols; ++x) {
              for (int c = 0; c < ch; ++c) {
                // OpenCV holds BGR(A); ours is RGB(A).
                const int cv_c = ch >= 3 && c < 3 ? 2 - c : c;
                const size_t i = (static_cast<size_t>(y) * m.cols + x) * ch + c;
                const int want = ours->wide ? m.ptr<uint16_t>(y)[x * ch + cv_c]
                                            : m.ptr<uint8_t>(y)[x * ch + cv_c];
                const int got = ours->wide ? ours->data16[i] : ours->data[i];
                ASSERT_EQ(got, want) << what << " at " << x << "," << y << " channel " << c;
              }
            }
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 30);
}

}  // namespace
}  // namespace petprep
