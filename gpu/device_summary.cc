// Formatting and the device check, shared by the CUDA and the no-CUDA builds of the device
// query.
#include <cstdio>
#include <string>

#include "pipeline/device/cuda_info.h"

namespace petprep::gpu {

std::string CudaVersionString(int version) {
  if (version <= 0) return "none";
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

std::string CudaSummary(const CudaInfo& info) {
  if (!info.built) return "not built";
  if (info.devices.empty()) {
    return "no CUDA device" + (info.error.empty() ? std::string() : ": " + info.error);
  }
  std::string out =
      std::to_string(info.devices.size()) + (info.devices.size() == 1 ? " device: " : " devices: ");
  for (size_t i = 0; i < info.devices.size(); ++i) {
    const CudaDevice& d = info.devices[i];
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s%s (sm_%d%d, %.1f GiB)", i ? "; " : "", d.name.c_str(),
                  d.major, d.minor, static_cast<double>(d.total_memory) / (1 << 30));
    out += buf;
  }
  return out;
}

double Fp32PeakGflops(const CudaDevice& d) {
  const int cc = d.major * 10 + d.minor;
  const int lanes = cc >= 86 ? 128 : 64;
  return static_cast<double>(d.multiprocessors) * lanes * 2.0 * d.clock_khz / 1e6;
}

Status RequireCudaDevice() {
  static const CudaInfo info = QueryCuda();  // the driver's answer does not change in a process
  if (!info.devices.empty()) return Status::Ok();
  if (!info.built) return Status::Unavailable("no CUDA device: petprep was built without CUDA");
  return Status::Unavailable("no CUDA device: " + info.error);
}

}  // namespace petprep::gpu
