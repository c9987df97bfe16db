// The simulated augmentation backend: the CUDA augmentation backend's kernels and buffer
// handling (augment_kernels.h) on the simulated device.
#include <memory>
#include <string>

#include "gpu/augment_kernels.h"
#include "gpu/runtime_sim.h"
#include "pipeline/augment/augment_backend.h"

namespace petprep {
namespace {

class SimAugmentBackend final : public AugmentBackend {
 public:
  std::string name() const override { return "cuda-sim"; }
  bool per_sample() const override { return false; }
  Status AugmentBatch(const std::vector<AugmentParams>& params, const uint8_t* images,
                      const uint8_t* masks, int side, float* out_images,
                      uint8_t* out_masks) override {
    return gpu::AugmentBatchOn(&rt_, params, images, masks, side, out_images, out_masks);
  }

 private:
  gpu::SimRuntime rt_;
};

}  // namespace

std::unique_ptr<AugmentBackend> NewCudaSimAugmentBackend() {
  return std::make_unique<SimAugmentBackend>();
}

}  // namespace petprep
