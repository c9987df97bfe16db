// petprep train: the U-Net trained on a partitioned dataset so that the weights after step N
// are the same bits for any thread count and after a crash and resume.
//
// The run folder (run_folder.h) holds config.json, metrics.jsonl, the checkpoints and
// summary.json. The loader's stream runs on across training epochs (an epoch is
// steps_per_epoch steps); step s trains on the loader's batch s, with dropout keyed by
// (seed, s), so a resumed run computes exactly the steps an uninterrupted one would. The loop
// pulls batches from the loader and runs each step on the calling thread, in an arena of
// TrainOptions::threads; the loader decodes the next batches meanwhile.
//
// Evaluation and prediction: evaluate.h and predict.h.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/metrics.h"
#include "pipeline/train/train_options.h"

namespace petprep {

struct TrainResult {
  uint64_t steps = 0;        // the global step reached
  uint64_t total_steps = 0;  // epochs x steps per epoch
  bool finished = false;     // steps == total_steps
  std::string weights_sha256;
  float last_loss = std::numeric_limits<float>::quiet_NaN();
  std::optional<MetricsSummary> validation;  // the newest validation of the run, if any
  std::optional<MetricsSummary> test;        // at the end, when the dataset has a test split
  std::string model;                         // "unet 16-32-64-128 at 64 px"
  std::string device;                        // the backend in words (Backend::Describe)
  std::vector<std::string> notes;            // for the user: options ignored, facts noticed
};

// Trains (or resumes) into o.out on `backend` (null: the CPU's), and writes summary.json.
// kInterrupted after Ctrl-C, with a checkpoint written. A backend's error stops training
// with its Status (naming the op); the checkpoints written before stay as they are.
Status Train(TrainOptions o, TrainResult* result, Backend* backend = nullptr);

}  // namespace petprep
