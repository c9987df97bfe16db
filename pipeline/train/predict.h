// Prediction: a run's weights on pictures of any size and format.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/dataset/codec.h"

namespace petprep {

// For each image file (any size; JPEG, PNG, GIF, ...): the predicted class mask at the
// image's size (PNG, class ids 0 pet, 1 background, 2 border) and an overlay (PNG, pet orange,
// border yellow), as OUT/<stem>.mask.png and OUT/<stem>.overlay.png (a petset folder's image.jpg
// takes the folder's name, the pet id). Every input is read and every output name checked
// before anything is written. The ops run on the calling oneTBB arena. `written`: the files, in
// input order, mask then overlay (then the probabilities). The network runs on the ops backend
// `device`. With `probabilities`, also OUT/<stem>.probabilities.npy: the calibrated class
// probabilities per pixel, softmax(logits / T) with the run's T (RUN/calibration.json; 1 when the
// run is not calibrated, or calibrated for other weights: then `*note` says so), float32 of
// shape (1, 3, S, S) at the model's input size S, classes in the order pet, background, border.
Status PredictRun(const std::string& run, const std::vector<std::string>& images,
                  const std::string& out_dir, const std::string& checkpoint,
                  const std::string& device, bool probabilities, std::vector<std::string>* written,
                  std::string* note, uint64_t max_pixels = kDefaultMaxPixels);

}  // namespace petprep
