// Training checkpoints: the weights, the optimiser's moments, the BatchNorm statistics and
// the loader's and random state after a step, in one file that carries its own SHA-256
// (schemas/README.md gives the bytes). Written atomically; a file that fails its checks is
// an error naming it.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/train/optim.h"
#include "pipeline/train/unet.h"

namespace petprep {

struct TrainState {
  uint64_t step = 0;
  std::string config_json;
  std::string dataset_fingerprint;
  int image_size = 0;
  uint64_t seed = 0;
  uint32_t loader_epoch = 0;
  uint64_t loader_position = 0;
  double best_val_loss = std::numeric_limits<double>::infinity();
  uint64_t best_step = 0;
  bool pending_validation = false;  // the epoch ending at `step` still needs its validation
};

// Writes the state, the network and Adam's slots to `path` atomically (the tensors are copied
// from their backend once; the file is the same whatever the backend).
Status SaveCheckpoint(const std::string& path, const TrainState& state, UNet* net,
                      const std::vector<DeviceAdamSlot>& slots);

// Reads `path` into the state, the network (whose configuration must match: names and shapes
// are checked) and Adam's slots, on the network's backend. kCorruption names the file on any
// failed check.
Status LoadCheckpoint(const std::string& path, TrainState* state, UNet* net,
                      std::vector<DeviceAdamSlot>* slots);

// Only the state (the configuration, size and step) of a checkpoint, fully verified.
Result<TrainState> PeekCheckpoint(const std::string& path);

// "step-00000123.ckpt"
std::string CheckpointName(uint64_t step);
// The step checkpoints in DIR, oldest first (by step).
std::vector<std::pair<uint64_t, std::string>> ListCheckpoints(const std::string& dir);

}  // namespace petprep
