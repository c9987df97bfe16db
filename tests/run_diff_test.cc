#include "pipeline/train/run_diff.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/core/atomic_file.h"
#include "pipeline/train/trace.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

// Short runs on one small dataset; each test diffs two of them with `petprep diff`.
class RunDiffTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    data_ = testing::MakeDataset(dir_->path() + "/d", 40, 3, 32);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string Run(const std::string& name) { return dir_->path() + "/" + name; }
  static std::string TrainArgs(const std::string& name, const std::string& extra) {
    return "train --data " + data_ + " --out " + Run(name) +
           " --widths 4 8 --batch 4 --steps-per-epoch 3 --epochs 2 -q " + extra;
  }
  // A run of 6 steps (widths 4 8) in RUN/name.
  static std::string Train(const std::string& name, const std::string& extra) {
    const testing::CommandResult r = testing::RunPetprep(TrainArgs(name, extra));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Run(name);
  }
  // The same with the test-only fault switch set; returns the exit code.
  static int TrainWithFault(const std::string& fault, const std::string& name,
                            const std::string& extra) {
    const std::string cmd = "PETPREP_FAULT='" + fault + "' " + std::string(PETPREP_BINARY) + " " +
                            TrainArgs(name, extra) + " >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  static testing::CommandResult Diff(const std::string& a, const std::string& b,
                                     const std::string& extra = "") {
    return testing::RunPetprep("diff " + a + " " + b + " " + extra);
  }

  static testing::TempDir* dir_;
  static std::string data_;
};

testing::TempDir* RunDiffTest::dir_ = nullptr;
std::string RunDiffTest::data_;

TEST_F(RunDiffTest, TwoIdenticalRunsAreTheSame) {
  const std::string a = Train("same-a", ""), b = Train("same-b", "");
  const testing::CommandResult r = Diff(a, b);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("options: the same"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first difference: none (6 steps compared)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nthe same\n"), std::string::npos) << r.out;
  const testing::CommandResult j = Diff(a, b, "--json");
  EXPECT_EQ(j.exit_code, 0);
  const auto parsed = nlohmann::json::parse(j.out);
  EXPECT_TRUE(parsed["same"].get<bool>());
  EXPECT_TRUE(parsed["first_difference"].is_null());
}

TEST_F(RunDiffTest, AnotherSeedPartsAtTheFirstStepInTheBatches) {
  const testing::CommandResult r = Diff(Train("seed-a", ""), Train("seed-b", "--seed 7"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("  seed: 42 vs 7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first difference: step 1: batches differ (sample 0: pet "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\ndifferent\n"), std::string::npos) << r.out;
}

TEST_F(RunDiffTest, OtherAugmentationNamesTheSampleWhoseBytesDiffer) {
  ASSERT_TRUE(WriteFileAtomic(Run("bright.json"), R"({"flip_p": 0.5, "brightness": 0.3})").ok());
  const testing::CommandResult r =
      Diff(Train("aug-a", ""), Train("aug-b", "--augment " + Run("bright.json")));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("  augment.brightness: 0.0 vs 0.3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first difference: step 1: batches differ (sample 0 (pet "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("the same pet, other bytes, the augmentation)"), std::string::npos) << r.out;
}

TEST_F(RunDiffTest, AnotherLearningRateIsNamedAndTheLossPartsAtStepTwo) {
  const testing::CommandResult r = Diff(Train("lr-a", ""), Train("lr-b", "--lr 0.002"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("options: 1 differs\n  lr: 0.001 vs 0.002\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first difference: step 2: loss differs ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("with the same batches)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("they do not agree again"), std::string::npos) << r.out;
}

TEST_F(RunDiffTest, AnInjectedArithmeticDifferenceIsLocatedToItsOpAndStep) {
  const std::string traced = "--trace-steps 2:4 --trace-tensors";
  const std::string a = Train("fault-a", traced);
  Train("fault-b", traced);
  ASSERT_EQ(TrainWithFault("enc2.conv2 forward 3", "fault-c", traced), 0);
  // Untouched, the traced runs agree op for op.
  EXPECT_EQ(Diff(a, Run("fault-b")).exit_code, 0);
  const testing::CommandResult r = Diff(a, Run("fault-c"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("first differing op: step 3 enc2.conv2 forward: largest absolute "
                       "difference "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("at [0, 0, 0, 0]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first difference: step "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": the arithmetic"), std::string::npos) << r.out;
  auto config = ReadFile(Run("fault-c") + "/config.json");
  ASSERT_TRUE(config.ok());
  EXPECT_NE(config->find("a test-only fault"), std::string::npos);
  // A fault naming an op that does not exist is an error, not a silent no-op.
  EXPECT_EQ(TrainWithFault("enc9.conv1 forward 1", "fault-d", ""), 2);
  EXPECT_EQ(TrainWithFault("enc1.conv1 sideways 1", "fault-e", ""), 2);
}

TEST_F(RunDiffTest, OneAndTwoThreadsAreTheSameResults) {
  const testing::CommandResult r =
      Diff(Train("threads-1", "--threads 1"), Train("threads-2", "--threads 2"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ran on: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 thread vs "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 threads"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the same results"), std::string::npos) << r.out;
}

TEST_F(RunDiffTest, AResumedTracedRunKeepsTheUninterruptedTrace) {
  const std::string whole = Train("trace-whole", "--trace-steps 2:5");
  const std::string part = Train("trace-part", "--trace-steps 2:5 --max-steps 4");
  const testing::CommandResult resumed =
      testing::RunPetprep("train --out " + part + " --resume -q");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto a = ReadFile(whole + "/trace.txt");
  auto b = ReadFile(part + "/trace.txt");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto lines = ReadTrace(whole + "/trace.txt");
  ASSERT_TRUE(lines.ok());
  ASSERT_FALSE(lines->empty());
  EXPECT_EQ(lines->front().step, 2u);
  EXPECT_EQ(lines->front().op, "input");
  EXPECT_EQ(lines->back().step, 5u);
  EXPECT_EQ(lines->back().kind, "update");
  EXPECT_EQ(Diff(whole, part).exit_code, 0);
}

TEST_F(RunDiffTest, BadInputIsAClearError) {
  // 1 is the answer "different": an error is 2.
  const testing::CommandResult missing = Diff(Run("nope"), Run("nope2"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("no such run folder"), std::string::npos) << missing.err;
  EXPECT_EQ(testing::RunPetprep("diff " + Run("nope")).exit_code, 2);
  const testing::CommandResult steps = testing::RunPetprep(
      "train --data " + data_ + " --out " + Run("bad-trace") + " --trace-steps 5:2 -q");
  EXPECT_EQ(steps.exit_code, 2) << steps.err;
  EXPECT_NE(steps.err.find("--trace-steps 5:2"), std::string::npos) << steps.err;
}

// A step line whose step is no step number must not be dropped (the runs would read "the same").
TEST_F(RunDiffTest, AStepThatIsNotAStepNumberIsAnError) {
  const std::string a = Train("steps-a", "");
  const std::string b = Run("steps-b");
  ASSERT_EQ(std::system(("cp -r " + a + " " + b).c_str()), 0);
  auto text = ReadFile(b + "/metrics.jsonl");
  ASSERT_TRUE(text.ok());
  const size_t at = text->find("\"step\":3,");
  ASSERT_NE(at, std::string::npos) << *text;
  std::string edited = *text;
  edited.replace(at, 9, "\"step\":1e30,");
  ASSERT_TRUE(WriteFileAtomic(b + "/metrics.jsonl", edited).ok());
  const testing::CommandResult r = Diff(a, b);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(b + "/metrics.jsonl: line "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at /step: 1e+30 is not a step number"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("the same"), std::string::npos) << r.out;
}

TEST(TraceTest, SpecsParseAndNpyRoundTrips) {
  auto s = TraceSpec::Parse("3:7");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Covers(3) && s->Covers(7) && !s->Covers(2) && !s->Covers(8));
  auto one = TraceSpec::Parse("4");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->ToString(), "4:4");
  for (const char* bad : {"", "0:3", "4:2", "a:b", "1:", ":3"}) {
    EXPECT_FALSE(TraceSpec::Parse(bad).ok()) << bad;
  }
  testing::TempDir dir;
  Tensor t(2, 3, 4, 5);
  for (size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(i) * 0.25f - 3.0f;
  ASSERT_TRUE(WriteNpy(dir / "t.npy", t).ok());
  auto back = ReadNpy(dir / "t.npy");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ShapeString(), t.ShapeString());
  for (size_t i = 0; i < t.size(); ++i) ASSERT_EQ(back->data()[i], t.data()[i]);
  Tensor u = t;
  u.data()[2 * 20 + 3 * 5 + 4] += 1.0f;  // n 0, c 2, h 3, w 4
  ASSERT_TRUE(WriteNpy(dir / "u.npy", u).ok());
  const std::string d = DescribeTensorDifference(dir / "t.npy", dir / "u.npy");
  EXPECT_NE(d.find("largest absolute difference 1 at [0, 2, 3, 4]"), std::string::npos) << d;
  ASSERT_TRUE(WriteFileAtomic(dir / "bad.npy", "not numpy").ok());
  EXPECT_FALSE(ReadNpy(dir / "bad.npy").ok());
}

}  // namespace
}  // namespace petprep
