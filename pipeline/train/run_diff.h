// Where two training runs part (`petprep diff`): their options, datasets and provenance, then
// metrics.jsonl walked in step order to the first step whose batch (the data: order or
// augmentation), loss or weights hash differs, and, where both runs kept traces
// (train --trace-steps), the first op whose result differs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep {

struct RunComparison {
  std::string a, b;  // the run folders
  // Each differing option of config.json's "training" section: "lr: 0.001 vs 0.002".
  std::vector<std::string> options;
  std::string dataset_a, dataset_b;  // fingerprints
  // Where and how each ran, which changes no result: provenance ("compiler: ... vs ..."), the
  // devices and thread counts of its segments, the dataset folder, --hash-every.
  std::vector<std::string> provenance;
  std::vector<std::string> context;

  uint64_t steps_a = 0, steps_b = 0, compared = 0;
  struct StepDifference {
    uint64_t step = 0;
    std::string what;    // "batches", "loss" or "weights"
    std::string detail;  // e.g. "sample 2: pet boxer_3 vs beagle_7 (the order)"
  };
  std::optional<StepDifference> first;
  std::optional<uint64_t> agree_again;  // every compared step from this one on agrees

  // The first traced op whose result differs, when both runs traced that step.
  struct OpDifference {
    uint64_t step = 0;
    std::string op, kind;
    std::string detail;  // the tensors' largest differences, when both kept them
  };
  std::optional<OpDifference> first_op;
  std::string trace_note;  // what the traces could not say, when they were looked at

  std::string weights_a, weights_b;  // summary.json's weights_sha256 ("" when missing)

  // The same options, dataset, steps, metrics and final weights.
  bool Same() const;
  nlohmann::ordered_json ToJson() const;
};

// Reads both run folders (config.json, metrics.jsonl, summary.json and trace.txt / trace/ when
// there). A missing or unreadable run is an error naming the file.
Result<RunComparison> DiffRuns(const std::string& a, const std::string& b);

// The largest absolute and relative differences of two traced tensors and where they are.
std::string DescribeTensorDifference(const std::string& path_a, const std::string& path_b);

}  // namespace petprep
