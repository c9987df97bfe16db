// The CUDA augmentation backend: augment_kernels.h over the CUDA runtime.
#include <memory>
#include <string>

#include "gpu/augment_kernels.h"
#include "gpu/runtime_cuda.h"
#include "pipeline/augment/augment_backend.h"
#include "pipeline/device/cuda_info.h"

namespace petprep {
namespace {

class CudaAugmentBackend final : public AugmentBackend {
 public:
  std::string name() const override { return "cuda"; }
  bool per_sample() const override { return false; }
  Status AugmentBatch(const std::vector<AugmentParams>& params, const uint8_t* images,
                      const uint8_t* masks, int side, float* out_images,
                      uint8_t* out_masks) override {
    return gpu::AugmentBatchOn(&rt_, params, images, masks, side, out_images, out_masks);
  }

 private:
  gpu::CudaRuntime rt_;
};

}  // namespace

Result<std::unique_ptr<AugmentBackend>> NewCudaAugmentBackend() {
  PETPREP_RETURN_IF_ERROR(gpu::RequireCudaDevice());
  return std::unique_ptr<AugmentBackend>(std::make_unique<CudaAugmentBackend>());
}

}  // namespace petprep
