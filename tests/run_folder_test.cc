#include "pipeline/train/run_folder.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using Json = nlohmann::ordered_json;

Json AConfig() {
  Json c;
  c["training"] = TrainingJson(TrainOptions(), AugmentSpec(), 4, 32, "fp");
  c["data"] = "d";
  return c;
}

TEST(RunFolderTest, CreateWritesTheFilesAndRefusesARunThatExists) {
  testing::TempDir dir;
  RunFolder run(dir / "run");
  EXPECT_FALSE(run.HasConfig());
  ASSERT_TRUE(run.Create(AConfig()).ok());
  EXPECT_TRUE(run.HasConfig());
  EXPECT_EQ(*ReadFile(run.metrics_path()), "");
  Json back;
  ASSERT_TRUE(run.ReadConfig(&back).ok());
  EXPECT_EQ(back["data"], "d");
  Status again = run.Create(AConfig());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), Status::Code::kAlreadyExists);
  EXPECT_NE(again.message().find("--resume"), std::string::npos) << again.message();
}

TEST(RunFolderTest, AConfigWithoutATrainingSectionIsNamed) {
  testing::TempDir dir;
  RunFolder run(dir.path());
  ASSERT_TRUE(WriteFileAtomic(run.config_path(), "{\"data\": \"x\"}").ok());
  Json c;
  Status s = run.ReadConfig(&c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(run.config_path() + ": not a run configuration"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(run.config_path(), "{not json").ok());
  s = run.ReadConfig(&c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not valid JSON"), std::string::npos) << s.message();
}

TEST(RunFolderTest, CheckpointsAreChosenAndRotatedNewestKept) {
  testing::TempDir dir;
  RunFolder run(dir.path());
  auto none = run.ChooseCheckpoint("");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no step checkpoint"), std::string::npos);
  EXPECT_FALSE(run.ChooseCheckpoint("best").ok());
  ASSERT_TRUE(MakeDirs(run.checkpoints_dir()).ok());
  for (uint64_t step : {5u, 10u, 15u, 20u}) {
    ASSERT_TRUE(WriteFileAtomic(run.step_checkpoint(step), "x").ok());
  }
  EXPECT_EQ(*run.ChooseCheckpoint(""), run.step_checkpoint(20));
  EXPECT_EQ(*run.ChooseCheckpoint("/some/file.ckpt"), "/some/file.ckpt");
  run.RotateCheckpoints(2);
  auto left = run.StepCheckpoints();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].first, 15u);
  EXPECT_EQ(left[1].first, 20u);
  ASSERT_TRUE(WriteFileAtomic(run.best_checkpoint(), "x").ok());
  EXPECT_EQ(*run.ChooseCheckpoint("best"), run.best_checkpoint());
}

TEST(RunFolderTest, TruncateMetricsKeepsTheLinesUpToTheCheckpoint) {
  testing::TempDir dir;
  RunFolder run(dir.path());
  ASSERT_TRUE(WriteFileAtomic(run.metrics_path(),
                              "{\"step\":1,\"loss\":0.9}\n"
                              "{\"step\":2,\"loss\":0.8}\n"
                              "{\"epoch\":0,\"step\":2,\"validation\":{\"loss\":0.7}}\n"
                              "{\"step\":3,\"loss\":0.6}\n"
                              "{\"step\":4,\"lo")
                  .ok());
  float last_loss = 0;
  Json validation;
  ASSERT_TRUE(run.TruncateMetrics(2, &last_loss, &validation).ok());
  EXPECT_EQ(last_loss, 0.8f);
  EXPECT_EQ(validation["loss"], 0.7);
  EXPECT_EQ(*ReadFile(run.metrics_path()),
            "{\"step\":1,\"loss\":0.9}\n{\"step\":2,\"loss\":0.8}\n"
            "{\"epoch\":0,\"step\":2,\"validation\":{\"loss\":0.7}}\n");
  // Lines missing before the checkpoint's step: the run cannot resume from this log.
  Status s = run.TruncateMetrics(3, &last_loss, &validation);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("holds steps up to 2, the checkpoint is at step 3"), std::string::npos)
      << s.message();
}

TEST(RunFolderTest, MetricsLogAppendsLines) {
  testing::TempDir dir;
  const std::string path = dir / "m.jsonl";
  {
    MetricsLog log;
    ASSERT_TRUE(log.Open(path).ok());
    ASSERT_TRUE(log.Write(Json{{"step", 1}}).ok());
    ASSERT_TRUE(log.Sync().ok());
  }
  {
    MetricsLog log;
    ASSERT_TRUE(log.Open(path).ok());
    ASSERT_TRUE(log.Write(Json{{"step", 2}}).ok());
  }
  EXPECT_EQ(*ReadFile(path), "{\"step\":1}\n{\"step\":2}\n");
  MetricsLog nowhere;
  Status s = nowhere.Open(dir / "no/such/folder/m.jsonl");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace petprep
