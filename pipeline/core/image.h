// An 8-bit interleaved image in host memory (HWC, row-major, no padding).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace petprep {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 gray / class ids, 3 RGB, 4 RGBA or CMYK
  std::vector<uint8_t> data;

  Image() = default;
  Image(int w, int h, int c, uint8_t fill = 0)
      : width(w), height(h), channels(c), data(static_cast<size_t>(w) * h * c, fill) {}

  uint8_t* row(int y) { return data.data() + static_cast<size_t>(y) * width * channels; }
  const uint8_t* row(int y) const {
    return data.data() + static_cast<size_t>(y) * width * channels;
  }
  uint8_t* at(int x, int y) { return row(y) + static_cast<size_t>(x) * channels; }
  const uint8_t* at(int x, int y) const { return row(y) + static_cast<size_t>(x) * channels; }
  bool empty() const { return data.empty(); }
};

}  // namespace petprep
