#include "pipeline/core/status.h"

#include <gtest/gtest.h>

namespace petprep {
namespace {

Status FailsWith(Status s) { return s; }

Status Chain(bool first_fails) {
  PETPREP_RETURN_IF_ERROR(FailsWith(first_fails ? Status::NotFound("a") : Status::Ok()));
  return Status::Corruption("b");
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::Corruption("shard-00001.rec: CRC mismatch");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_EQ(s.ToString(), "corruption: shard-00001.rec: CRC mismatch");
  EXPECT_EQ(s.WithContext("verify").message(), "verify: shard-00001.rec: CRC mismatch");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(StatusTest, ReturnIfErrorKeepsTheFirstError) {
  EXPECT_EQ(Chain(true).code(), Status::Code::kNotFound);
  EXPECT_EQ(Chain(false).code(), Status::Code::kCorruption);
}

TEST(StatusTest, ResultHoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Status::IoError("disk");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "disk");
  EXPECT_TRUE(Status::Interrupted().IsInterrupted());
}

}  // namespace
}  // namespace petprep
