// Where the loader augments: the seam between the loader and a device.
//
// A backend either augments each sample on the loader's decode threads (the CPU: the work
// spreads over the same threads as decoding), or takes a whole batch of decoded samples once
// they are together in order (a device: one copy in, one launch, one copy out). Both compute
// augment.h's PETPREP_HD bodies, so every backend gives the same bytes.
//
// The CPU backend is defined here; a device backend's factory is declared here and defined in
// gpu/ (with a `*_none.cc` build that says why there is none).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/augment/augment.h"
#include "pipeline/core/status.h"

namespace petprep {

class AugmentBackend {
 public:
  virtual ~AugmentBackend() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda"

  // True: the loader calls AugmentSample on its decode threads, concurrently. False: the
  // loader calls AugmentBatch, one batch at a time, in step order.
  virtual bool per_sample() const = 0;

  // One sample (image side x side x 3, HWC, and its mask) into out_image (3 x dst x dst) and
  // out_mask (dst x dst). Thread-safe.
  virtual void AugmentSample(const AugmentParams& p, const uint8_t* image, const uint8_t* mask,
                             float* out_image, uint8_t* out_mask) const {
    AugmentSampleCpu(p, image, mask, out_image, out_mask);
  }

  // A batch: images B x side x side x 3 (HWC) and masks B x side x side, params one per
  // sample, into out_images (B x 3 x dst x dst) and out_masks (B x dst x dst) in host memory.
  virtual Status AugmentBatch(const std::vector<AugmentParams>& params, const uint8_t* images,
                              const uint8_t* masks, int side, float* out_images,
                              uint8_t* out_masks) = 0;
};

// Per sample, on the loader's threads.
std::unique_ptr<AugmentBackend> NewCpuAugmentBackend();

// A batch at a time on the CUDA device (gpu/augment_cuda.cu). kUnavailable, saying what was
// found, without a usable device or in a build without CUDA (gpu/augment_none.cc).
Result<std::unique_ptr<AugmentBackend>> NewCudaAugmentBackend();

// The CUDA augmentation backend's kernels and buffer handling on the simulated device
// (gpu/augment_sim.cc, in every build): slow, it proves that code where no GPU is.
std::unique_ptr<AugmentBackend> NewCudaSimAugmentBackend();

// The names --device accepts for augmentation: "cpu", "cuda-sim", "cuda".
std::vector<std::string> AugmentBackendNames();

// The backend of that name; an unknown name is kInvalidArgument naming the choices.
Result<std::unique_ptr<AugmentBackend>> MakeAugmentBackend(const std::string& name);

}  // namespace petprep
