// What CUDA can see here: runtime and driver versions and each device, for `petprep env`, the
// provenance of every result, and for deciding whether a device path can run.
//
// Declared here, defined in gpu/ (device_query.cu in a CUDA build, device_query_none.cc
// without): the pipeline asks, gpu/ answers, and nothing under pipeline/ includes gpu/.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep::gpu {

struct CudaDevice {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0;   // bytes
  int multiprocessors = 0;
  int clock_khz = 0;  // the SMs' peak clock
};

// The device's FP32 peak in GFLOP/s without tensor cores (they would change the bits): SMs x
// FP32 lanes per SM (64 on sm_70, sm_75 and sm_80; 128 on sm_86 and later) x 2 x the clock.
// 0 when the clock is unknown.
double Fp32PeakGflops(const CudaDevice& d);

struct CudaInfo {
  bool built = false;       // petprep was compiled with the CUDA backend
  int runtime_version = 0;  // e.g. 13000 for 13.0
  int driver_version = 0;   // 0 when no driver is installed
  std::vector<CudaDevice> devices;
  std::string error;  // why no device is usable, when devices is empty
};

// Never fails: without a driver cudaGetDeviceCount returns an error, reported as no device.
CudaInfo QueryCuda();

// "not built", "no CUDA device: <why>", or "1 device: NVIDIA H100 (sm_90, 79.1 GiB)".
std::string CudaSummary(const CudaInfo& info);

// "13.0" from 13000; "none" from 0.
std::string CudaVersionString(int version);

// The one answer to "can a CUDA path run here": OK with a usable device; otherwise
// kUnavailable saying what was found: "no CUDA device: petprep was built without CUDA", no
// driver, a driver older than the runtime, or no device. Every device path asks this first.
Status RequireCudaDevice();

}  // namespace petprep::gpu
