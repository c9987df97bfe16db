// Evaluation: a split through the network in eval mode (no augmentation, the run's
// normalisation, stored order), counted into exact integer confusion counts, so the metrics are
// the same for any batch size, thread count or backend.
#pragma once

#include <tbb/task_arena.h>

#include <cstdint>
#include <optional>
#include <string>

#include "pipeline/augment/augment.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/loader/loader.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/metrics.h"
#include "pipeline/train/train_options.h"
#include "pipeline/train/unet.h"

namespace petprep {

// A batch's images and class ids on a backend.
struct DeviceBatch {
  DeviceTensor images, labels;
};

// Uploads a loader batch (images N x 3 x side x side, class ids N x 1 x side x side).
Status UploadBatch(Backend* backend, const Batch& b, DeviceBatch* out);

// The loader of an eval-mode pass: no augmentation (the run's normalisation), stored order.
LoaderOptions EvalLoaderOptions(int batch, const AugmentSpec& train_spec, int threads);

// The loss of `kind` and its gradient on the logits.
Status LossOf(Backend* backend, LossKind kind, const DeviceTensor& logits,
              const DeviceTensor& labels, DeviceTensor* loss, DeviceTensor* dlogits);

// Every batch of `split` through `net` in eval mode. The loader decodes with `threads`; the
// network runs on the calling thread, inside `arena`.
Status EvaluateSplit(const SplitReader* split, int side, int batch, const AugmentSpec& train_spec,
                     int threads, LossKind loss, UNet* net, tbb::task_arena* arena,
                     SegmentationMetrics* m);

// With RUN/calibration.json: the split's NLL and ECE at T = 1 and at the run's T.
struct CalibratedEval {
  double temperature = 1.0;
  double nll_before = 0, nll_after = 0, ece_before = 0, ece_after = 0;
};

struct EvalResult {
  std::optional<CalibratedEval> calibrated;
  std::string split;
  uint64_t records = 0;
  uint64_t step = 0;  // the checkpoint's
  MetricsSummary metrics;
  std::string weights_sha256;
  std::string dataset_fingerprint;
  std::string calibration_note;  // why a calibrated run's T was not applied, or ""
};

// The metrics of a run's weights on a split: the newest step checkpoint unless `checkpoint`
// names one (a path, or "best"). data "" means the dataset in config.json. Writes
// RUN/eval-<split>.json. The network runs on the ops backend `device`. A calibrated run
// (RUN/calibration.json) also gets the split's NLL and ECE before and after its temperature.
Status EvaluateRun(const std::string& run, const std::string& split, const std::string& data,
                   const std::string& checkpoint, int threads, const std::string& device,
                   EvalResult* result);

}  // namespace petprep
