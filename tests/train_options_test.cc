#include "pipeline/train/train_options.h"

#include <gtest/gtest.h>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using Json = nlohmann::ordered_json;

TEST(TrainOptionsTest, LossKindsHaveTheirNames) {
  for (LossKind k : {LossKind::kCrossEntropy, LossKind::kBceJaccard}) {
    auto back = ParseLoss(LossName(k), "test");
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, k);
  }
  EXPECT_STREQ(LossName(LossKind::kCrossEntropy), "ce");
  EXPECT_STREQ(LossName(LossKind::kBceJaccard), "bce-jaccard");
  auto bad = ParseLoss("mse", "--loss");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--loss mse: expected ce or bce-jaccard");
}

TEST(TrainOptionsTest, TheTrainingSectionReadsBackAsWritten) {
  TrainOptions o;
  o.seed = 7;
  o.epochs = 3;
  o.batch = 5;
  o.lr = 0.0025;
  o.loss = LossKind::kBceJaccard;
  o.widths = {4, 8};
  o.dropout = 0.25f;
  AugmentSpec spec;
  Json t = TrainingJson(o, spec, 11, 32, "fp");
  EXPECT_EQ(t["loss"], "bce-jaccard");
  EXPECT_EQ(t["steps_per_epoch"], 11);
  TrainOptions back;
  AugmentSpec back_spec = AugmentSpec::None();
  ASSERT_TRUE(OptionsFromTraining(t, "config.json", &back, &back_spec).ok());
  EXPECT_EQ(back.seed, 7u);
  EXPECT_EQ(back.epochs, 3);
  EXPECT_EQ(back.batch, 5);
  EXPECT_EQ(back.lr, 0.0025);
  EXPECT_EQ(back.loss, LossKind::kBceJaccard);
  EXPECT_EQ(back.widths, (std::vector<int>{4, 8}));
  EXPECT_EQ(back.dropout, 0.25f);
  EXPECT_EQ(back_spec.ToJson(), spec.ToJson());
  // A damaged section names the file and what is wrong.
  t["loss"] = "mse";
  Status s = OptionsFromTraining(t, "RUN/config.json", &back, &back_spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("RUN/config.json (loss) mse"), std::string::npos) << s.message();
  t.erase("loss");
  s = OptionsFromTraining(t, "RUN/config.json", &back, &back_spec);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("RUN/config.json: at the top level: key 'loss' not found"),
            std::string::npos)
      << s.message();
}

TEST(TrainOptionsTest, AConfigFileSetsWhatTheCommandLineDidNotGive) {
  testing::TempDir dir;
  const std::string path = dir / "hp.json";
  ASSERT_TRUE(
      WriteFileAtomic(path, R"({"batch_size": 3, "learning_rate": 0.5, "loss": "bce-jaccard",
                                       "iterations": 9})")
          .ok());
  TrainOptions o;
  o.batch = 16;
  o.given.insert("batch");
  std::vector<std::string> notes;
  ASSERT_TRUE(ApplyConfigFile(path, &o, &notes).ok());
  EXPECT_EQ(o.batch, 16) << "given on the command line";
  EXPECT_EQ(o.lr, 0.5);
  EXPECT_EQ(o.loss, LossKind::kBceJaccard);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("'iterations'"), std::string::npos);

  ASSERT_TRUE(WriteFileAtomic(path, R"({"loss": "hinge"})").ok());
  Status s = ApplyConfigFile(path, &o, &notes);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path + ": 'loss' hinge"), std::string::npos) << s.message();
  ASSERT_TRUE(WriteFileAtomic(path, R"({"momentum": 0.9})").ok());
  s = ApplyConfigFile(path, &o, &notes);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown key 'momentum'"), std::string::npos) << s.message();
}

TEST(TrainOptionsTest, ANewRunChecksItsModelAndAResumeKeepsItsOwnOptions) {
  TrainOptions o;
  AugmentSpec spec;
  std::vector<std::string> notes;
  o.widths = {};
  EXPECT_FALSE(ResolveNewRun(&o, &spec, &notes).ok());
  o.widths = {8, 2000};
  Status s = ResolveNewRun(&o, &spec, &notes);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--widths 2000"), std::string::npos);
  o.widths = {8, 16};
  o.augment_path = "/nonexistent/spec.json";
  EXPECT_FALSE(ResolveNewRun(&o, &spec, &notes).ok());

  TrainOptions run;
  run.seed = 5;
  run.lr = 0.01;
  Json config;
  config["training"] = TrainingJson(run, AugmentSpec(), 4, 32, "fp");
  config["data"] = "the/run/data";
  config["hash_every"] = 3;
  TrainOptions cli;
  cli.seed = 99;
  cli.given = {"seed"};
  notes.clear();
  ASSERT_TRUE(ResolveResumedRun(config, "RUN/config.json", &cli, &spec, &notes).ok());
  EXPECT_EQ(cli.seed, 5u);
  EXPECT_EQ(cli.lr, 0.01);
  EXPECT_EQ(cli.data, "the/run/data");
  EXPECT_EQ(cli.hash_every, 3u);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("--seed is ignored with --resume"), std::string::npos) << notes[0];
}

}  // namespace
}  // namespace petprep
