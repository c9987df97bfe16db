#include "pipeline/dataset/overlay.h"

namespace petprep {

Image OverlayClasses(const Image& rgb, const Image& classes) {
  Image out = rgb;
  for (int y = 0; y < rgb.height; ++y) {
    for (int x = 0; x < rgb.width; ++x) TintByClass(classes.at(x, y)[0], out.at(x, y));
  }
  return out;
}

}  // namespace petprep
