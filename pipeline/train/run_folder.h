// A training run's folder and the files in it:
//   config.json              the resolved options, the dataset, the provenance
//   metrics.jsonl            a line per step and per validation (no times: reproducible itself)
//   checkpoints/step-NNNNNNNN.ckpt  the newest few, rotated; best.ckpt (lowest validation loss)
//   summary.json, eval-<split>.json
// Every file is written atomically or appended and synced before the checkpoint that depends
// on it, so a crash at any moment leaves a run that --resume continues.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/augment/augment.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/checkpoint.h"
#include "pipeline/train/train_options.h"
#include "pipeline/train/unet.h"

namespace petprep {

// The lock file inside a run folder while a command writes it (folder_lock.h).
inline constexpr char kRunLockName[] = ".petprep.lock";

class RunFolder {
 public:
  explicit RunFolder(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/config.json"; }
  std::string metrics_path() const { return dir_ + "/metrics.jsonl"; }
  std::string checkpoints_dir() const { return dir_ + "/checkpoints"; }
  std::string step_checkpoint(uint64_t step) const;
  std::string best_checkpoint() const { return checkpoints_dir() + "/best.ckpt"; }
  std::string summary_path() const { return dir_ + "/summary.json"; }
  std::string calibration_path() const { return dir_ + "/calibration.json"; }
  std::string eval_path(const std::string& split) const {
    return dir_ + "/eval-" + split + ".json";
  }

  bool HasConfig() const;
  // config.json, checked to be an object with a training section.
  Status ReadConfig(nlohmann::ordered_json* config) const;
  // A new run: refuses a folder that holds one; makes checkpoints/, writes config.json and an
  // empty metrics.jsonl.
  Status Create(const nlohmann::ordered_json& config) const;
  // The step checkpoints, oldest first.
  std::vector<std::pair<uint64_t, std::string>> StepCheckpoints() const;
  // The newest step checkpoint, or the named one ("best" or a path).
  Result<std::string> ChooseCheckpoint(const std::string& which) const;
  // Removes all but the newest `keep` step checkpoints.
  void RotateCheckpoints(int keep) const;
  // metrics.jsonl without the lines after `step` (and a torn last line). The last kept step's
  // loss and validation come back for the summary.
  Status TruncateMetrics(uint64_t step, float* last_loss,
                         nlohmann::ordered_json* last_validation) const;
  // Empties metrics.jsonl (a run that starts again from step 0).
  Status ClearMetrics() const;

 private:
  std::string dir_;
};

// metrics.jsonl, appended a line at a time.
class MetricsLog {
 public:
  MetricsLog() = default;
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();
  Status Open(const std::string& path);
  // Makes every line written so far durable (before a checkpoint that depends on them).
  Status Sync();
  Status Write(const nlohmann::ordered_json& line);

 private:
  std::string path_;
  FILE* f_ = nullptr;
};

// A run's options, network and weights from one of its checkpoints, for eval and predict, on the
// ops backend `device` (MakeBackend's names).
struct LoadedRun {
  TrainOptions options;
  AugmentSpec spec;
  TrainState state;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<UNet> net;
  std::string data;  // config.json's dataset
};

Status LoadRun(const std::string& run, const std::string& checkpoint, const std::string& device,
               LoadedRun* r);

// The dataset `dir` (the run's own when empty) for a loaded run: refused unless its images have
// the size the weights were trained at. Every command that feeds a finished run's network goes
// through here.
Result<std::unique_ptr<DatasetReader>> OpenRunDataset(const LoadedRun& r, const std::string& dir);

}  // namespace petprep
