#include "pipeline/provenance/provenance.h"

#include <archive.h>
#include <curl/curl.h>
#include <gif_lib.h>
#include <google/protobuf/stubs/common.h>
#include <openssl/crypto.h>
#include <png.h>
#include <tbb/info.h>
#include <tbb/version.h>
#include <tiffio.h>
#include <zlib.h>

#include <fstream>
#include <opencv2/core/utility.hpp>
#include <thread>

#include "petprep/build_info.h"
#include "pipeline/device/cuda_info.h"

namespace petprep {
namespace {

std::string FirstLine(const char* text) {
  std::string s = text ? text : "";
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string TiffVersion() {
  std::string s = FirstLine(TIFFGetVersion());
  const std::string prefix = "LIBTIFF, Version ";
  return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::vector<std::string> SimdFlags() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) out.push_back("sse4.2");
  if (__builtin_cpu_supports("avx")) out.push_back("avx");
  if (__builtin_cpu_supports("avx2")) out.push_back("avx2");
  if (__builtin_cpu_supports("fma")) out.push_back("fma");
  if (__builtin_cpu_supports("avx512f")) out.push_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) out.push_back("avx512bw");
  if (__builtin_cpu_supports("avx512vl")) out.push_back("avx512vl");
#elif defined(__aarch64__)
  out.push_back("neon");
#endif
  return out;
}

}  // namespace

Provenance CollectProvenance() {
  Provenance p;
  p.version = PETPREP_VERSION;
  p.commit = PETPREP_GIT_COMMIT;
  p.compiler = PETPREP_CXX_COMPILER;
  p.build_type = PETPREP_BUILD_TYPE;
  p.cxx_flags = PETPREP_CXX_FLAGS;
  const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
  p.libraries = {
      {"OpenCV", cv::getVersionString()},
      {"libjpeg-turbo", PETPREP_TURBOJPEG_VERSION},
      {"libpng", png_get_libpng_ver(nullptr)},
      {"libtiff", TiffVersion()},
      {"giflib", std::to_string(GIFLIB_MAJOR) + "." + std::to_string(GIFLIB_MINOR) + "." +
                     std::to_string(GIFLIB_RELEASE)},
      {"zlib", zlibVersion()},
      {"OpenSSL", OpenSSL_version(OPENSSL_VERSION)},
      {"oneTBB", TBB_runtime_version()},
      {"protobuf", google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)},
      {"libcurl", std::string(curl->version) +
                      (curl->ssl_version ? std::string(" (") + curl->ssl_version + ")" : "")},
      {"libarchive", archive_version_details()},
      {"nlohmann-json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_PATCH)},
  };
  p.cpu_model = CpuModel();
  p.simd = SimdFlags();
  p.threads = static_cast<int>(std::thread::hardware_concurrency());
  p.tbb_threads = tbb::info::default_concurrency();
  gpu::CudaInfo cuda = gpu::QueryCuda();
  p.cuda = gpu::CudaSummary(cuda);
  p.cuda_runtime = cuda.runtime_version;
  p.cuda_driver = cuda.driver_version;
  for (const gpu::CudaDevice& d : cuda.devices) {
    nlohmann::ordered_json j;
    j["index"] = d.index;
    j["name"] = d.name;
    j["compute_capability"] = std::to_string(d.major) + "." + std::to_string(d.minor);
    j["memory_bytes"] = d.total_memory;
    j["multiprocessors"] = d.multiprocessors;
    p.cuda_devices.push_back(j);
  }
  return p;
}

nlohmann::ordered_json ToolVersionsJson(const Provenance& p) {
  nlohmann::ordered_json j;
  j["petprep"] = p.version;
  j["commit"] = p.commit;
  j["compiler"] = p.compiler;
  j["build_type"] = p.build_type;
  j["cxx_flags"] = p.cxx_flags;
  nlohmann::ordered_json libs;
  for (const auto& [name, version] : p.libraries) libs[name] = version;
  j["libraries"] = libs;
  return j;
}

nlohmann::ordered_json ProvenanceJson(const Provenance& p) {
  nlohmann::ordered_json j = ToolVersionsJson(p);
  j["cpu"] = {{"model", p.cpu_model},
              {"simd", p.simd},
              {"threads", p.threads},
              {"tbb_default_concurrency", p.tbb_threads}};
  j["cuda"] = {{"status", p.cuda},
               {"built", p.cuda != "not built"},
               {"runtime", gpu::CudaVersionString(p.cuda_runtime)},
               {"driver", gpu::CudaVersionString(p.cuda_driver)},
               {"devices", p.cuda_devices}};
  return j;
}

std::string ProvenanceText(const Provenance& p) {
  std::string out;
  out += "petprep " + p.version + " (commit " + p.commit + ")\n";
  out += "compiler: " + p.compiler + "\n";
  out += "build: " + p.build_type + ", flags: " + p.cxx_flags + "\n";
  out += "libraries:\n";
  for (const auto& [name, version] : p.libraries) out += "  " + name + ": " + version + "\n";
  out += "CPU: " + p.cpu_model + "\n";
  out += "SIMD:";
  for (const std::string& s : p.simd) out += " " + s;
  out += "\n";
  out += "threads: " + std::to_string(p.threads) + " hardware, " + std::to_string(p.tbb_threads) +
         " oneTBB default\n";
  out += "CUDA runtime: " + gpu::CudaVersionString(p.cuda_runtime) +
         ", driver: " + gpu::CudaVersionString(p.cuda_driver) + "\n";
  out += "CUDA: " + p.cuda + "\n";
  return out;
}

}  // namespace petprep
