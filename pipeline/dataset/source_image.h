// Reads the source files of one pet, whatever they really are, and says what is wrong.
//
// An image named .jpg may be a clean JPEG (kept byte for byte), a JPEG that libjpeg warns
// about (truncated, extraneous bytes), a grayscale or CMYK JPEG, a PNG or a GIF; all but the
// clean JPEG are decoded to 8-bit RGB for a lossless re-encoding. A trimap becomes class ids
// (trimap value - 1: 0 pet, 1 background, 2 border) at the image's size. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/image.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/codec.h"

namespace petprep {

struct FoundDefect {
  std::string kind;    // "png_as_jpg", "trimap_size_mismatch", ...
  std::string detail;  // for people: what exactly was found
};

struct SourceImage {
  bool clean_jpeg = false;  // keep the bytes as image.jpg
  int width = 0, height = 0;
  Image rgb;  // 3 channels; left empty for a clean JPEG, whose bytes are kept as they are
  std::vector<FoundDefect> defects;
};

// Detects the format from magic bytes and decodes. An error means it cannot be read at all.
// A colour JPEG is validated by a decode at 1/8 scale: libjpeg still reads every marker and
// every entropy-coded bit (where truncation and extraneous bytes show), but skips most of
// the inverse DCT and colour conversion; only a JPEG with a warning is decoded in full.
//   CMYK / YCCK JPEGs follow the Adobe convention (inverted ink): R = C * K / 255, rounded.
Result<SourceImage> ReadSourceImage(const std::string& bytes,
                                    uint64_t max_pixels = kDefaultMaxPixels);

// A picture of any format ReadSourceImage reads (JPEG of any colour space, PNG, GIF), decoded
// in full to 8-bit RGB: what predict segments.
Result<Image> DecodePicture(const std::string& bytes, uint64_t max_pixels = kDefaultMaxPixels);

struct SourceMask {
  Image classes;  // 1 channel, the image's size, values 0 pet, 1 background, 2 border
  std::vector<FoundDefect> defects;
};

// A trimap of another size is resized nearest-neighbour (source pixel floor(x * sw / w));
// a 3- or 4-channel trimap uses its first (red) channel; values outside 1..3 become class 2.
Result<SourceMask> ReadTrimap(const std::string& bytes, int width, int height,
                              uint64_t max_pixels = kDefaultMaxPixels);

}  // namespace petprep
