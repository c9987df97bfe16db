// Draws one synthetic pet: an RGB picture and its Oxford-style trimap, from (seed, pet id).
//
// A pet is a textured body, head, ears, legs and tail whose colours and pattern (solid,
// stripes, spots, patches) belong to its breed, on a cluttered textured background with
// distractor shapes in the same colours, so that colour alone does not find the pet but
// shape and texture do. Everything is a pure function of (seed, pet id, breed): the same
// inputs give the same pixels on any machine (integer hashing and IEEE float +, -, *, /,
// sqrt only, no contraction). Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "pipeline/core/image.h"
#include "pipeline/dataset/breeds.h"

namespace petprep {

struct BoundingBox {
  int xmin, ymin, xmax, ymax;  // inclusive pixel coordinates
};

struct RenderedPet {
  Image image;   // RGB, width and height in [150, 600]
  Image trimap;  // 1 channel: 1 pet, 2 background, 3 border band around the pet
  BoundingBox head;
  int jpeg_quality;  // drawn in [75, 95]
};

RenderedPet RenderPet(uint64_t seed, std::string_view pet_id, const Breed& breed);

// The pet's official split: trainval.txt (true) or test.txt, about half each.
bool SynthIsTrainval(uint64_t seed, std::string_view pet_id);

}  // namespace petprep
