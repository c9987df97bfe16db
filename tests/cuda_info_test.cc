#include "pipeline/device/cuda_info.h"

#include <gtest/gtest.h>

namespace petprep::gpu {
namespace {

TEST(DeviceQueryTest, SummaryMatchesWhatWasFound) {
  CudaInfo info = QueryCuda();
  std::string s = CudaSummary(info);
#if defined(PETPREP_HAVE_CUDA)
  EXPECT_TRUE(info.built);
  EXPECT_GE(info.runtime_version, 12000) << "built against CUDA 12 or later";
  if (info.devices.empty()) {
    EXPECT_EQ(s.rfind("no CUDA device", 0), 0u) << s;
    EXPECT_FALSE(info.error.empty());
  } else {
    EXPECT_NE(s.find(info.devices[0].name), std::string::npos) << s;
  }
#else
  EXPECT_FALSE(info.built);
  EXPECT_EQ(s, "not built");
#endif
}

TEST(DeviceQueryTest, RequireCudaDeviceSaysWhatWasFound) {
  CudaInfo info = QueryCuda();
  Status s = RequireCudaDevice();
  if (!info.devices.empty()) {
    EXPECT_TRUE(s.ok()) << s.ToString();
    return;
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.message().rfind("no CUDA device: ", 0), 0u) << s.message();
  if (info.built) {
    EXPECT_NE(s.message().find(info.error), std::string::npos) << s.message();
  } else {
    EXPECT_NE(s.message().find("built without CUDA"), std::string::npos) << s.message();
  }
}

TEST(DeviceQueryTest, VersionStrings) {
  EXPECT_EQ(CudaVersionString(13000), "13.0");
  EXPECT_EQ(CudaVersionString(12040), "12.4");
  EXPECT_EQ(CudaVersionString(0), "none");
}

TEST(DeviceQueryTest, DevicesAreDescribed) {
  CudaInfo info = QueryCuda();
  if (info.devices.empty()) GTEST_SKIP() << "no CUDA device: " << CudaSummary(info);
  for (const CudaDevice& d : info.devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.major, 7) << "petprep is built for sm_80 and sm_90";
    EXPECT_GT(d.total_memory, size_t{1} << 30);
    EXPECT_GT(d.multiprocessors, 0);
  }
  EXPECT_GT(info.driver_version, 0);
}

}  // namespace
}  // namespace petprep::gpu
