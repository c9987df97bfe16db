#include "pipeline/core/interrupt.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace petprep {
namespace {

TEST(InterruptTest, RequestAndClear) {
  ClearInterrupt();
  EXPECT_TRUE(CheckInterrupt().ok());
  RequestInterrupt();
  EXPECT_TRUE(InterruptRequested());
  EXPECT_TRUE(CheckInterrupt().IsInterrupted());
  ClearInterrupt();
  EXPECT_FALSE(InterruptRequested());
}

TEST(InterruptTest, SigintSetsTheFlagInsteadOfKilling) {
  ClearInterrupt();
  InstallInterruptHandlers();
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_TRUE(InterruptRequested());
  ClearInterrupt();
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_TRUE(InterruptRequested());
  ClearInterrupt();
}

TEST(InterruptTest, SecondSignalExitsWith130) {
  EXPECT_EXIT(
      {
        ClearInterrupt();
        InstallInterruptHandlers();
        raise(SIGINT);
        raise(SIGINT);
      },
      ::testing::ExitedWithCode(130), "interrupted again");
}

}  // namespace
}  // namespace petprep
