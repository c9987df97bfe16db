// Image encoders: JPEG through TurboJPEG, PNG through libpng, GIF through giflib,
// and lossless TIFF through libtiff (encode and decode), all in memory.
//
// Each call is self-contained and thread-safe (TurboJPEG handles are per thread). Output
// bytes are a pure function of the input and the library versions: a TIFF carries no time,
// software or host tag.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/image.h"
#include "pipeline/core/status.h"

namespace petprep {

enum class JpegColor { kAuto, kCmyk };

// Every decoder refuses a picture whose header declares more than `max_pixels` pixels before it
// allocates anything for it (a 300-byte PNG may declare 20000 x 20000). The commands that read
// pictures take it as --max-pixels.
constexpr uint64_t kDefaultMaxPixels = 100'000'000;

// The error for a width x height picture over the limit, or OK.
Status CheckPictureSize(int64_t width, int64_t height, uint64_t max_pixels, const char* format);

// Encodes 1 (grayscale) or 3 (RGB) channels, or 4 as CMYK when color is kCmyk.
// quality in [1, 100]; RGB uses 4:2:0 chroma subsampling.
Result<std::string> EncodeJpeg(const Image& image, int quality, JpegColor color = JpegColor::kAuto);

// Decodes a JPEG to 8-bit RGB (accurate integer IDCT). A warning from libjpeg (truncated
// data, extraneous bytes) is an error here: callers get only images that decode cleanly.
Result<Image> DecodeJpeg(const std::string& bytes, uint64_t max_pixels = kDefaultMaxPixels);

// Decodes an 8-bit PNG into DecodeAnyPng's layout (gray, RGB or RGBA); 16-bit files are refused.
Result<Image> DecodePng(const std::string& bytes, uint64_t max_pixels = kDefaultMaxPixels);

// Any PNG (palette, 1-16 bits, gray+alpha, tRNS, interlaced), laid out as OpenCV's
// imdecode(IMREAD_UNCHANGED) lays it out but in RGB order: 1 channel for gray (a tRNS dropped),
// 3 for RGB or palette, 4 for RGB or palette with tRNS, gray+alpha (gray replicated) or RGBA.
// 16-bit files keep 16 bits (wide). Sub-8-bit gray is expanded to 8 bits.
struct AnyPng {
  int width = 0, height = 0, channels = 0;
  bool wide = false;             // 16-bit samples
  std::vector<uint8_t> data;     // 8-bit samples, row-major, interleaved
  std::vector<uint16_t> data16;  // 16-bit samples
};
Result<AnyPng> DecodeAnyPng(const std::string& bytes, uint64_t max_pixels = kDefaultMaxPixels);

// Encodes 1 (gray), 3 (RGB) or 4 (RGBA) channels as an 8-bit PNG (Paeth filter, deflate
// level 1).
Result<std::string> EncodePng(const Image& image);

// Encodes 3-channel RGB as a single-frame 256-colour GIF (6x6x6 colour cube palette).
Result<std::string> EncodeGif(const Image& image);

// Encodes 1 or 3 channels as a baseline TIFF in one strip with no date or software tag: one
// channel (masks) with PackBits, three with deflate (level 1) and horizontal differencing.
Result<std::string> EncodeTiff(const Image& image);

// Decodes an 8-bit 1- or 3-channel TIFF as written by EncodeTiff (contiguous planes).
Result<Image> DecodeTiff(const std::string& bytes, uint64_t max_pixels = kDefaultMaxPixels);

}  // namespace petprep
