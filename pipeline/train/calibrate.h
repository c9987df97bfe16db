// Temperature scaling (`petprep calibrate`): one temperature T divides the logits so that the
// calibration split's per-pixel negative log-likelihood is smallest; NLL and expected
// calibration error (ECE, 15 equal-width confidence bins over pixels) before and after, on the
// calibration and the test splits.
//
// Every statistic is kept in double with petprep's own exp and log (PetExpD, PetLogD) and
// summed per record in pixel order, the records then in stored order, so T and every number
// are the same bits for any thread count, machine or device. T comes from a golden-section
// search on u = ln T over [-3, 3] (T from 0.0498 to 20.1, T = 1 inside) with a fixed number of
// iterations; if the best T found did not lower the NLL, T = 1.
#pragma once

#include <tbb/task_arena.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/augment/augment.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/train/unet.h"

namespace petprep {

constexpr int kCalibrationBins = 15;
constexpr int kTemperatureIterations = 64;
constexpr double kLogTemperatureRange = 3.0;  // u = ln T in [-3, 3]

// A split's logits in eval mode (no augmentation, the run's normalisation, stored order): per
// record 3 x side x side floats (class-major) and side x side class ids.
struct SplitLogits {
  int side = 0;
  std::vector<std::vector<float>> logits;
  std::vector<std::vector<uint8_t>> labels;
  uint64_t pixels() const;
};

Status CollectLogits(const SplitReader* split, int side, int batch, const AugmentSpec& train_spec,
                     int threads, UNet* net, tbb::task_arena* arena, SplitLogits* out);

struct ReliabilityBin {
  uint64_t count = 0;       // pixels whose confidence falls in the bin
  double confidence = 0.0;  // their mean confidence (0 when empty)
  double accuracy = 0.0;    // the fraction of them predicted right
};

struct CalibrationStats {
  double nll = 0.0;  // mean over pixels of -log p(true class)
  double ece = 0.0;  // sum over bins of count / pixels * |accuracy - confidence|
  uint64_t pixels = 0;
  std::array<ReliabilityBin, kCalibrationBins> bins{};
  nlohmann::ordered_json BinsJson() const;
};

// The statistics of softmax(logits / temperature); records run in parallel in `arena`.
CalibrationStats StatsAt(const SplitLogits& s, double temperature, tbb::task_arena* arena);
// The golden-section search described above.
double FitTemperature(const SplitLogits& s, tbb::task_arena* arena);

struct CalibrationReport {
  double temperature = 1.0;
  uint64_t step = 0;
  std::string checkpoint;      // "newest", "best" or the file
  std::string weights_sha256;  // of the weights T was fitted for
  CalibrationStats calibration_before, calibration_after;
  std::optional<CalibrationStats> test_before, test_after;  // when the run's data has a test split
  nlohmann::ordered_json ToJson() const;
};

// Fits T on the run's calibration split with its weights (the newest step checkpoint, or
// "best", or a file) and writes RUN/calibration.json. A dataset without a calibration split, or
// with an empty one, is kInvalidArgument saying so.
Status CalibrateRun(const std::string& run, const std::string& checkpoint, int threads,
                    const std::string& device, CalibrationReport* report);

// softmax(logits / temperature) per pixel, in double with PetExpD, stored as float:
// logits and out are 3 x px, class-major.
void CalibratedProbabilities(const float* logits, size_t px, double temperature, float* out);

// RUN/calibration.json's temperature for the weights whose SHA-256 is `weights_sha256`;
// nullopt when the run is not calibrated, or was calibrated for other weights (a later step,
// another checkpoint): then `*note` says so and how to calibrate these.
Result<std::optional<double>> ReadTemperature(const std::string& run,
                                              const std::string& weights_sha256, std::string* note);

}  // namespace petprep
