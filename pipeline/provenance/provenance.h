// Where a result came from: petprep's version and build, every library's version, the CPU
// and CUDA. `petprep env` prints it; manifests, run configs and reports embed it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace petprep {

struct Provenance {
  std::string version;  // "0.1.0"
  std::string commit;   // git commit at configure time, or "unknown"
  std::string compiler, build_type, cxx_flags;
  std::vector<std::pair<std::string, std::string>> libraries;  // (name, version), fixed order
  std::string cpu_model;
  std::vector<std::string> simd;  // the SIMD extensions this CPU has, e.g. "avx2"
  int threads = 0;                // hardware threads
  int tbb_threads = 0;            // oneTBB's default concurrency
  std::string cuda;               // the CUDA line: "not built", "no CUDA device: ...", devices
  int cuda_runtime = 0, cuda_driver = 0;
  nlohmann::ordered_json cuda_devices = nlohmann::ordered_json::array();
};

Provenance CollectProvenance();

// The tool-version part only: what is the same on every machine running this build. For
// outputs that must be byte-identical across machines (manifest.json).
nlohmann::ordered_json ToolVersionsJson(const Provenance& p);
nlohmann::ordered_json ProvenanceJson(const Provenance& p);
std::string ProvenanceText(const Provenance& p);

}  // namespace petprep
