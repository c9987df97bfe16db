#include "pipeline/dataset/resize.h"

#include <cstring>

namespace petprep {

Image ResizeBilinear(const Image& src, int dst_w, int dst_h) {
  Image out(dst_w, dst_h, src.channels);
  std::vector<AxisTap> tx(dst_w);
  for (int x = 0; x < dst_w; ++x) tx[x] = BilinearTap(x, src.width, dst_w);
  for (int y = 0; y < dst_h; ++y) {
    AxisTap ty = BilinearTap(y, src.height, dst_h);
    uint8_t* row = out.row(y);
    for (int x = 0; x < dst_w; ++x) {
      for (int c = 0; c < src.channels; ++c) {
        row[x * src.channels + c] =
            BilinearPixel(src.data.data(), src.width, src.channels, tx[x], ty, c);
      }
    }
  }
  return out;
}

Image ResizeNearest(const Image& src, int dst_w, int dst_h) {
  Image out(dst_w, dst_h, src.channels);
  for (int y = 0; y < dst_h; ++y) {
    const uint8_t* srow = src.row(NearestIndex(y, src.height, dst_h));
    uint8_t* row = out.row(y);
    for (int x = 0; x < dst_w; ++x) {
      std::memcpy(row + x * src.channels, srow + NearestIndex(x, src.width, dst_w) * src.channels,
                  src.channels);
    }
  }
  return out;
}

}  // namespace petprep
