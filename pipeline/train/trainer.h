// petprep train / eval / predict: the U-Net trained on a partitioned dataset so that the
// weights after step N are the same bits for any thread count and after a crash and resume.
//
// A run folder RUN holds config.json (the resolved options, the dataset fingerprint and the
// provenance), metrics.jsonl (a line per step and per epoch; no times, so it is itself
// reproducible), checkpoints/step-NNNNNNNN.ckpt (the last few) and best.ckpt (lowest
// validation loss), summary.json, and eval-<split>.json from eval. The loader's stream runs on
// across training epochs (an epoch is steps_per_epoch steps); step s trains on the loader's
// batch s, with dropout keyed by (seed, s), so a resumed run computes exactly the steps an
// uninterrupted one would.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "pipeline/augment/augment.h"
#include "pipeline/core/status.h"
#include "pipeline/train/backend.h"

namespace petprep {

struct TrainOptions {
  std::string data;         // DATA/dataset
  std::string out;          // RUN
  std::string config_path;  // a hyperparameter JSON file (the blog's keys), optional
  uint64_t seed = 42;
  int epochs = 1;
  uint64_t steps_per_epoch = 0;  // 0: the train split's batches per pass
  int batch = 8;
  double lr = 1e-3;
  std::string loss = "ce";  // "ce" or "bce-jaccard"
  std::string augment_path;
  std::vector<int> widths = {16, 32, 64, 128};
  float dropout = 0.0f;
  int threads = 0;           // 0: all cores; never changes a result
  uint64_t hash_every = 10;  // the weights' SHA-256 in metrics.jsonl every K steps
  uint64_t max_steps = 0;    // stop (with a checkpoint) when the global step reaches it
  int keep_checkpoints = 3;
  bool resume = false;
  bool quiet = false;
  // Options given on the command line: a config file does not override them.
  std::set<std::string> given;
};

// Applies a hyperparameter file: batch_size, epochs, iterations (ignored, with a note),
// learning_rate, model_arch (unet; MobileNetV2 / VGG19 with a note), steps_per_epoch, and
// petprep's seed, loss, widths, dropout. An unknown key is an error naming it.
Status ApplyConfigFile(const std::string& path, TrainOptions* o, std::vector<std::string>* notes);

struct TrainResult {
  uint64_t steps = 0;  // global step reached
  bool finished = false;
  std::string weights_sha256;
  nlohmann::ordered_json summary;
  std::vector<std::string> notes;
};

// Trains (or resumes) into o.out on `backend` (null: the CPU's). kInterrupted after Ctrl-C,
// with a checkpoint written. A backend's error stops training with its Status (naming the op);
// the checkpoints written before stay as they are.
Status Train(TrainOptions o, TrainResult* result, Backend* backend = nullptr);

// The metrics of a run's weights on a split: the newest step checkpoint unless `checkpoint`
// names one (a path, or "best"). data "" means the dataset in config.json. Writes
// RUN/eval-<split>.json.
Status EvaluateRun(const std::string& run, const std::string& split, const std::string& data,
                   const std::string& checkpoint, int threads, nlohmann::ordered_json* metrics);

// For each image file (any size; JPEG, PNG, GIF, ...): the predicted class mask at the
// image's size (PNG, class ids 0 pet, 1 background, 2 border) and an overlay (PNG, pet orange,
// border yellow), as OUT/<stem>.mask.png and OUT/<stem>.overlay.png (a petset folder's image.jpg
// takes the folder's name, the pet id). The ops run on the
// calling oneTBB arena.
Status PredictRun(const std::string& run, const std::vector<std::string>& images,
                  const std::string& out_dir, const std::string& checkpoint,
                  std::vector<std::string>* written);

}  // namespace petprep
