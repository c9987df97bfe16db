#include "pipeline/train/float_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "pipeline/train/selftest.h"
#include "pipeline/train/threads.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

// Restores IEEE mode even when an assertion fails halfway.
struct ClearOnExit {
  ~ClearOnExit() { ClearFlushToZero(); }
};

TEST(FloatEnvTest, IeeeByDefaultAndTheKnownAnswersPass) {
  EXPECT_TRUE(ReadFloatEnv().ok()) << ReadFloatEnv().Describe();
  EXPECT_EQ(SubnormalKnownAnswers(), "");
}

TEST(FloatEnvTest, FlushToZeroIsSeenByTheKnownAnswersAndCleared) {
#if !defined(__x86_64__) && !defined(__i386__) && !defined(__aarch64__)
  GTEST_SKIP() << "no flush-to-zero control on this processor";
#endif
  ClearOnExit restore;
  FloatEnv both;
  both.flush_to_zero = true;
#if defined(__x86_64__) || defined(__i386__)
  both.denormals_are_zero = true;
#endif
  SetFloatEnv(both);
  ASSERT_FALSE(ReadFloatEnv().ok());
  const std::string found = SubnormalKnownAnswers();
  EXPECT_NE(found.find("Adam's second moment"), std::string::npos) << found;

  const FloatEnv before = ClearFlushToZero();
  EXPECT_TRUE(before.flush_to_zero);
  EXPECT_EQ(before.denormals_are_zero, both.denormals_are_zero);
  EXPECT_TRUE(ReadFloatEnv().ok());
  EXPECT_EQ(SubnormalKnownAnswers(), "");
}

#if defined(__x86_64__) || defined(__i386__)
TEST(FloatEnvTest, DenormalsAreZeroAloneIsSeen) {
  ClearOnExit restore;
  FloatEnv daz;
  daz.denormals_are_zero = true;
  SetFloatEnv(daz);
  const std::string found = SubnormalKnownAnswers();
  EXPECT_NE(found.find("1e-40 * 4"), std::string::npos) << found;
}
#endif

TEST(FloatEnvTest, SelftestFailsWhenSubnormalsAreFlushed) {
  ClearOnExit restore;
  FloatEnv ftz;
  ftz.flush_to_zero = true;
  SetFloatEnv(ftz);
  // The arena is created now, so its worker threads take the flushing mode too.
  SelftestReport r = WithThreads(2, [] { return RunSelftest(); });
  ClearFlushToZero();
  bool named = false;
  for (const std::string& f : r.failures) named |= f.find("subnormal known answer") == 0;
  EXPECT_TRUE(named) << "the selftest must name the flushed subnormals";
}

TEST(FloatEnvTest, PetprepClearsWhatAPreloadedLibrarySet) {
  setenv("LD_PRELOAD", PETPREP_FTZ_PRELOAD, 1);
  auto r = testing::RunPetprep("selftest --threads 2");
  unsetenv("LD_PRELOAD");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("flush-to-zero"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cleared"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(std::string("selftest fingerprint: ") + kSelftestFingerprint),
            std::string::npos);
}

}  // namespace
}  // namespace petprep
