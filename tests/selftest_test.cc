#include "pipeline/train/selftest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pipeline/train/backend.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

TEST(SelftestTest, PublishedFingerprintOnEveryPathAndThreadCount) {
  const SimdPath was = ActiveSimdPath();
  for (SimdPath p : SupportedSimdPaths()) {
    SetSimdPath(p);
    for (int t : {1, 2, 8}) {
      SelftestReport r = WithThreads(t, [] { return RunSelftest(); });
      EXPECT_EQ(r.fingerprint, kSelftestFingerprint) << SimdPathName(p) << ", " << t << " threads";
      EXPECT_EQ(r.lines.size(), 25u);
      for (const std::string& f : r.failures) ADD_FAILURE() << f;
    }
  }
  SetSimdPath(was);
}

TEST(SelftestTest, ReadmePublishesTheFingerprint) {
  std::ifstream in(std::string(PETPREP_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find(std::string("selftest fingerprint: ") + kSelftestFingerprint),
            std::string::npos)
      << "README.md must show the published selftest fingerprint";
}

TEST(SelftestTest, CommandLine) {
  auto r = testing::RunPetprep("selftest --threads 2");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(std::string("selftest fingerprint: ") + kSelftestFingerprint + "\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("\nconvt2x2 2x16x16x20->24 "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("CUDA: "), std::string::npos) << r.err;

  auto j = testing::RunPetprep("selftest --json --simd scalar --threads 1");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  nlohmann::json doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["fingerprint"], kSelftestFingerprint);
  EXPECT_EQ(doc["simd"], "scalar");
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["lines"].size(), 25u);

  auto bad = testing::RunPetprep("selftest --simd sse9");
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(SelftestTest, BadSimdEnvironmentIsNamed) {
  setenv("PETPREP_SIMD", "mmx", 1);
  auto bad = testing::RunPetprep("selftest");
  unsetenv("PETPREP_SIMD");
  EXPECT_EQ(bad.exit_code, 2);  // a usage error
  EXPECT_NE(bad.err.find("PETPREP_SIMD"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace petprep

namespace petprep {
namespace {

TEST(SelftestTest, CudaGivesThePublishedFingerprint) {
  auto cuda = NewCudaBackend();
  if (!cuda.ok()) GTEST_SKIP() << cuda.status().message();
  SelftestReport r = RunSelftest(cuda->get());
  EXPECT_EQ(r.fingerprint, kSelftestFingerprint);
  EXPECT_EQ(r.cuda, "the ops ran on the CUDA device");
  for (const std::string& f : r.failures) ADD_FAILURE() << f;
}

TEST(SelftestTest, CudaSimGivesThePublishedFingerprint) {
  std::unique_ptr<Backend> sim = NewCudaSimBackend();
  SelftestReport r = RunSelftest(sim.get());
  EXPECT_EQ(r.fingerprint, kSelftestFingerprint);
  EXPECT_NE(r.backend.find("cuda-sim"), std::string::npos) << r.backend;
  for (const std::string& f : r.failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace petprep
