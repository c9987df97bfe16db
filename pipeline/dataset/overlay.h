// How petprep draws classes over a picture (predict's overlays, preview's sheets): the pet in
// orange, the border in yellow, each blended half and half with the pixel; background as it is.
#pragma once

#include <cstdint>

#include "pipeline/core/image.h"

namespace petprep {

// Tints one RGB pixel by its class id (0 pet, 1 background, 2 border; above 2 as border).
inline void TintByClass(uint8_t class_id, uint8_t* rgb) {
  if (class_id == 1) return;
  static constexpr int kTint[2][3] = {{255, 120, 0}, {255, 230, 0}};
  const int* t = kTint[class_id == 0 ? 0 : 1];
  for (int k = 0; k < 3; ++k) rgb[k] = static_cast<uint8_t>((rgb[k] + t[k]) / 2);
}

// `rgb` (3 channels) with `classes` (1 channel, the same size) drawn over it.
Image OverlayClasses(const Image& rgb, const Image& classes);

}  // namespace petprep
