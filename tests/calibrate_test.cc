#include "pipeline/train/calibrate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "pipeline/core/atomic_file.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/train/trace.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using Json = nlohmann::json;

class CalibrateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    data_ = testing::MakeDataset(dir_->path() + "/d", 60, 4, 32);
    const testing::CommandResult r =
        testing::RunPetprep("train --data " + data_ + " --out " + Run("run") +
                            " --widths 4 8 --batch 4 --steps-per-epoch 12 --epochs 2 -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Run(const std::string& name) { return dir_->path() + "/" + name; }

  static testing::TempDir* dir_;
  static std::string data_;
};

testing::TempDir* CalibrateTest::dir_ = nullptr;
std::string CalibrateTest::data_;

TEST_F(CalibrateTest, FindsATemperatureThatDoesNotRaiseTheNllTheSameForAnyThreadCount) {
  const testing::CommandResult one =
      testing::RunPetprep("calibrate " + Run("run") + " --threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto first = ReadFile(Run("run") + "/calibration.json");
  ASSERT_TRUE(first.ok());
  const testing::CommandResult two =
      testing::RunPetprep("calibrate " + Run("run") + " --threads 2");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto second = ReadFile(Run("run") + "/calibration.json");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second) << "calibration.json differs between 1 and 2 threads";
  EXPECT_EQ(one.out, two.out);

  const Json j = Json::parse(*first);
  const double t = j["temperature"].get<double>();
  EXPECT_GT(t, 0.049);
  EXPECT_LT(t, 20.1);
  EXPECT_NE(t, 1.0) << "an untrained-ish network is not calibrated at T = 1 to the last bit";
  const Json& cal = j["calibration"];
  EXPECT_LE(cal["nll_after"].get<double>(), cal["nll_before"].get<double>());
  EXPECT_GT(cal["pixels"].get<uint64_t>(), 0u);
  for (const char* k : {"nll_before", "nll_after", "ece_before", "ece_after"}) {
    EXPECT_TRUE(j["test"].contains(k)) << k;
    EXPECT_GE(cal[k].get<double>(), 0.0) << k;
  }
  EXPECT_LE(cal["ece_before"].get<double>(), 1.0);
  ASSERT_EQ(j["reliability"]["calibration"]["after"].size(), 15u);
  uint64_t counted = 0;
  for (const Json& bin : j["reliability"]["calibration"]["after"]) {
    counted += bin["count"].get<uint64_t>();
  }
  EXPECT_EQ(counted, cal["pixels"].get<uint64_t>());
  EXPECT_NE(one.out.find("temperature "), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("calibration  nll "), std::string::npos) << one.out;

  // eval reports the calibrated NLL and ECE; predict --probabilities uses T.
  const testing::CommandResult e = testing::RunPetprep("eval " + Run("run") + " --split test");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("calibrated (T "), std::string::npos) << e.out;
  auto eval_json = ReadFile(Run("run") + "/eval-test.json");
  ASSERT_TRUE(eval_json.ok());
  const Json ej = Json::parse(*eval_json);
  EXPECT_EQ(ej["calibration"]["temperature"].get<double>(), t);
  EXPECT_EQ(ej["calibration"]["nll_after"].get<double>(), j["test"]["nll_after"].get<double>());

  std::string image;
  for (const auto& e2 : std::filesystem::directory_iterator(dir_->path() + "/d/data/petset")) {
    image = e2.path().string() + "/image.jpg";
    break;
  }
  const testing::CommandResult p = testing::RunPetprep(
      "predict " + Run("run") + " --image " + image + " --out " + Run("pred") + " --probabilities");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  ASSERT_NE(p.out.find(".probabilities.npy"), std::string::npos) << p.out;
  const std::string npy = p.out.substr(0, p.out.find(".probabilities.npy") + 18);
  auto probs = ReadNpy(npy.substr(npy.find_last_of('\n') + 1));
  ASSERT_TRUE(probs.ok()) << probs.status().message();
  EXPECT_EQ(probs->ShapeString(), "1x3x32x32");
  const size_t px = 32 * 32;
  for (size_t i = 0; i < px; ++i) {
    const double sum =
        static_cast<double>(probs->data()[i]) + probs->data()[px + i] + probs->data()[2 * px + i];
    ASSERT_NEAR(sum, 1.0, 1e-6) << i;
  }
}

TEST_F(CalibrateTest, ATemperatureFittedForOtherWeightsIsNotAppliedToThese) {
  const std::string older = Run("run") + "/checkpoints/step-00000012.ckpt";
  ASSERT_TRUE(std::filesystem::exists(older));
  const testing::CommandResult c =
      testing::RunPetprep("calibrate -q " + Run("run") + " --checkpoint " + older);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const Json j = Json::parse(*ReadFile(Run("run") + "/calibration.json"));
  const Json summary = Json::parse(*ReadFile(Run("run") + "/summary.json"));
  EXPECT_EQ(j["step"].get<int>(), 12);
  ASSERT_EQ(j["weights_sha256"].get<std::string>().size(), 64u);
  EXPECT_NE(j["weights_sha256"], summary["weights_sha256"]);

  // The newest weights (step 24) are not the ones T was fitted for: eval says so, applies no T.
  testing::CommandResult e = testing::RunPetprep("eval " + Run("run") + " --split test");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out.find("calibrated (T "), std::string::npos) << e.out;
  EXPECT_NE(e.err.find("was fitted for other weights (step 12"), std::string::npos) << e.err;
  EXPECT_FALSE(Json::parse(*ReadFile(Run("run") + "/eval-test.json")).contains("calibration"));
  // Step 12's weights are: T applies, and the test NLL after is calibrate's.
  e = testing::RunPetprep("eval " + Run("run") + " --split test --checkpoint " + older);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("calibrated (T "), std::string::npos) << e.out;
  EXPECT_EQ(e.err.find("other weights"), std::string::npos) << e.err;
  EXPECT_EQ(Json::parse(*ReadFile(Run("run") + "/eval-test.json"))["calibration"]["nll_after"],
            j["test"]["nll_after"]);

  // The report shows the calibration with a warning that it belongs to other weights.
  const testing::CommandResult r = testing::RunPetprep("report -q " + Run("run"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = *ReadFile(Run("run") + "/report.html");
  EXPECT_NE(html.find("fitted for other weights (step 12"), std::string::npos);

  // Calibrating the newest weights makes them calibrated again.
  ASSERT_EQ(testing::RunPetprep("calibrate -q " + Run("run")).exit_code, 0);
  EXPECT_EQ(Json::parse(*ReadFile(Run("run") + "/calibration.json"))["weights_sha256"],
            summary["weights_sha256"]);
  e = testing::RunPetprep("eval " + Run("run") + " --split test");
  EXPECT_NE(e.out.find("calibrated (T "), std::string::npos) << e.out;
}

TEST(CalibrationStatsTest, KnownAnswers) {
  // One record of two pixels: logits (2, 0, 0) true class 0, and (0, 0, 0) true class 1.
  SplitLogits s;
  s.side = 1;
  s.logits = {{2.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f}};
  s.labels = {{0}, {1}};
  tbb::task_arena arena(2);
  const CalibrationStats st = StatsAt(s, 1.0, &arena);
  const double p0 = std::exp(2.0) / (std::exp(2.0) + 2.0);
  EXPECT_NEAR(st.nll, (-std::log(p0) + std::log(3.0)) / 2, 1e-15);
  EXPECT_EQ(st.pixels, 2u);
  // Pixel 1: confidence 1/3 (bin 5), predicted class 0 (the first of equals), wrong.
  EXPECT_EQ(st.bins[5].count, 1u);
  EXPECT_EQ(st.bins[5].accuracy, 0.0);
  const int b0 = static_cast<int>(p0 * 15);
  EXPECT_EQ(st.bins[b0].count, 1u);
  EXPECT_EQ(st.bins[b0].accuracy, 1.0);
  EXPECT_NEAR(st.ece, 0.5 * (1 - p0) + 0.5 * (1.0 / 3.0), 1e-15);
  // Overconfident logits: the fitted temperature is above 1 and lowers the NLL.
  SplitLogits over;
  over.side = 2;
  over.logits = {{9, 9, 0, 0, 0, 0, 9, 9, 0, 0, 0, 0}};
  over.labels = {{0, 1, 1, 2}};
  const double t = FitTemperature(over, &arena);
  EXPECT_GT(t, 1.0);
  EXPECT_LT(StatsAt(over, t, &arena).nll, StatsAt(over, 1.0, &arena).nll);
}

TEST(CalibrationSplitTest, AMissingOrEmptyCalibrationSplitIsAClearError) {
  testing::TempDir dir;
  const std::string data = testing::MakePetset(dir.path(), 12, 2, false);
  // A fold no pet falls in, for an empty calibration split.
  std::set<int> folds;
  for (const auto& e : std::filesystem::directory_iterator(data + "/petset")) {
    if (e.is_directory()) folds.insert(FoldOf(e.path().filename().string()));
  }
  int empty = -1;
  for (int f = 0; f < 10 && empty < 0; ++f) {
    if (folds.count(f) == 0) empty = f;
  }
  ASSERT_GE(empty, 0) << "12 pets cover every fold";
  std::string train;
  for (int f = 0; f < 10; ++f) {
    if (f != empty) train += (train.empty() ? "" : "+") + std::to_string(f);
  }
  struct Case {
    std::string name, map, message;
  };
  for (const Case& c : {Case{"none", "train=0-8,test=9", "no calibration split"},
                        Case{"empty", "train=" + train + ",calibration=" + std::to_string(empty),
                             "the calibration split is empty"}}) {
    const std::string ds = dir / ("ds-" + c.name), run = dir / ("run-" + c.name);
    testing::CommandResult r =
        testing::RunPetprep("partition -q --input " + data + "/petset --output " + ds +
                            " --size 16 --split-map " + c.map);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = testing::RunPetprep("train -q --data " + ds + " --out " + run +
                            " --widths 4 8 --batch 4 --steps-per-epoch 2 --epochs 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = testing::RunPetprep("calibrate " + run);
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(run + "/calibration.json"));
  }
}

}  // namespace
}  // namespace petprep
