// The options of a training run: what the command line and a hyperparameter file give, how
// they are checked, and how a run records the ones that decide its results (config.json's
// "training" section, also stored in every checkpoint) and reads them back at a resume.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "pipeline/augment/augment.h"
#include "pipeline/core/json_file.h"
#include "pipeline/core/status.h"

namespace petprep {

enum class LossKind {
  kCrossEntropy,  // "ce": softmax cross-entropy over the three classes
  kBceJaccard,    // "bce-jaccard": the reference's per-class sigmoid BCE plus soft Jaccard
};

// "ce" or "bce-jaccard", as config.json and the command line spell them.
const char* LossName(LossKind kind);
// `where` names the source of the name in the error ("--loss", a file).
Result<LossKind> ParseLoss(const std::string& name, const std::string& where);

struct TrainOptions {
  std::string data;         // DATA/dataset
  std::string out;          // RUN
  std::string config_path;  // a hyperparameter JSON file (the blog's keys), optional
  uint64_t seed = 42;
  int epochs = 1;
  uint64_t steps_per_epoch = 0;  // 0: the train split's batches per pass
  int batch = 8;
  double lr = 1e-3;
  LossKind loss = LossKind::kCrossEntropy;
  std::string augment_path;
  std::vector<int> widths = {16, 32, 64, 128};
  float dropout = 0.0f;
  int threads = 0;             // 0: all cores; never changes a result
  std::string device = "cpu";  // the ops backend: cpu, cuda-sim, cuda; never changes a result
  uint64_t hash_every = 10;    // the weights' SHA-256 in metrics.jsonl every K steps
  uint64_t max_steps = 0;      // stop (with a checkpoint) when the global step reaches it
  std::string trace_steps;     // "A:B": every op's result of those steps in RUN/trace.txt
  bool trace_tensors = false;  // and the tensors themselves under RUN/trace/
  int keep_checkpoints = 3;
  bool resume = false;
  bool quiet = false;
  // Options given on the command line: a config file does not override them.
  std::set<std::string> given;
  // Called once, before the first step, with the device in words (Backend::Describe).
  std::function<void(const std::string&)> on_device;
};

// Applies a hyperparameter file: batch_size, epochs, iterations (ignored, with a note),
// learning_rate, model_arch (unet; MobileNetV2 / VGG19 with a note), steps_per_epoch, and
// petprep's seed, loss, widths, dropout. An unknown key is an error naming it.
Status ApplyConfigFile(const std::string& path, TrainOptions* o, std::vector<std::string>* notes);

// A new run's options: the config file applied, the augmentation spec read (the default one
// without --augment), the model checked.
Status ResolveNewRun(TrainOptions* o, AugmentSpec* spec, std::vector<std::string>* notes);

// A resumed run's options: its own from `config` (config.json, read from `config_path`), with a
// note for each command-line option a resume ignores; --data, --hash-every and --trace-steps /
// --trace-tensors may be given (the run's own otherwise), and
// --device switches the device (with a note); without it the run's last device is used.
Status ResolveResumedRun(const nlohmann::ordered_json& config, const std::string& config_path,
                         TrainOptions* o, AugmentSpec* spec, std::vector<std::string>* notes);

// The options that decide the results, as config.json and every checkpoint record them.
nlohmann::ordered_json TrainingJson(const TrainOptions& o, const AugmentSpec& spec,
                                    uint64_t steps_per_epoch, int image_size,
                                    const std::string& fingerprint);

// Reads TrainingJson's section back into *o and *spec (`source` names the file in errors).
Status OptionsFromTraining(const nlohmann::ordered_json& t, const std::string& source,
                           TrainOptions* o, AugmentSpec* spec);

// The device a run's config.json says its last segment ran on ("cpu" for a run that says none).
std::string LastDevice(const nlohmann::ordered_json& config);

// The validation spec: no augmentation, the training spec's normalisation.
AugmentSpec EvalSpec(const AugmentSpec& train);

}  // namespace petprep
