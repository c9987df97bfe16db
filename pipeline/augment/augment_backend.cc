#include "pipeline/augment/augment_backend.h"

namespace petprep {
namespace {

class CpuAugmentBackend final : public AugmentBackend {
 public:
  std::string name() const override { return "cpu"; }
  bool per_sample() const override { return true; }
  Status AugmentBatch(const std::vector<AugmentParams>& params, const uint8_t* images,
                      const uint8_t* masks, int side, float* out_images,
                      uint8_t* out_masks) override {
    const size_t in = static_cast<size_t>(side) * side;
    size_t offset = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      const size_t out = static_cast<size_t>(params[i].dst) * params[i].dst;
      AugmentSample(params[i], images + i * in * 3, masks + i * in, out_images + offset * 3,
                    out_masks + offset);
      offset += out;
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<AugmentBackend> NewCpuAugmentBackend() {
  return std::make_unique<CpuAugmentBackend>();
}

std::vector<std::string> AugmentBackendNames() { return {"cpu", "cuda-sim", "cuda"}; }

Result<std::unique_ptr<AugmentBackend>> MakeAugmentBackend(const std::string& name) {
  if (name == "cpu") return NewCpuAugmentBackend();
  if (name == "cuda-sim") return NewCudaSimAugmentBackend();
  if (name == "cuda") return NewCudaAugmentBackend();
  return Status::InvalidArgument("unknown augmentation device '" + name +
                                 "' (choices: cpu, cuda-sim, cuda)");
}

}  // namespace petprep
