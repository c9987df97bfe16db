#include "pipeline/train/trainer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/core/atomic_file.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/checkpoint.h"
#include "pipeline/train/metrics.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using Json = nlohmann::json;

std::string Slurp(const std::string& path) {
  auto r = ReadFile(path);
  return r.ok() ? *r : "";
}

Json JsonFile(const std::string& path) { return Json::parse(Slurp(path)); }

// The first step whose metrics.jsonl line differs between two runs (0: none).
uint64_t FirstDifferingStep(const std::string& a, const std::string& b) {
  std::istringstream ia(Slurp(a)), ib(Slurp(b));
  std::string la, lb;
  while (true) {
    bool ga = static_cast<bool>(std::getline(ia, la)), gb = static_cast<bool>(std::getline(ib, lb));
    if (!ga && !gb) return 0;
    if (ga != gb || la != lb)
      return ga ? Json::parse(la).value("step", uint64_t{1})
                : Json::parse(lb).value("step", uint64_t{1});
  }
}

void ExpectSameRun(const std::string& a, const std::string& b) {
  EXPECT_EQ(JsonFile(a + "/summary.json")["weights_sha256"],
            JsonFile(b + "/summary.json")["weights_sha256"])
      << a << " vs " << b << ": first differing step in metrics.jsonl: "
      << FirstDifferingStep(a + "/metrics.jsonl", b + "/metrics.jsonl");
  EXPECT_EQ(FirstDifferingStep(a + "/metrics.jsonl", b + "/metrics.jsonl"), 0u) << a << " vs " << b;
}

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    data32_ = testing::MakeDataset(dir_->path() + "/a", 60, 5, 32);
    data16_ = testing::MakeDataset(dir_->path() + "/b", 30, 5, 16);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string Run(const std::string& name) { return dir_->path() + "/" + name; }
  static testing::CommandResult Train(const std::string& name, const std::string& extra) {
    return testing::RunPetprep(
        "train --data " + data32_ + " --out " + Run(name) +
        " --widths 4 8 16 --batch 4 --steps-per-epoch 10 --epochs 2 --dropout 0.1 -q " + extra);
  }

  static testing::TempDir* dir_;
  static std::string data32_, data16_;
};

testing::TempDir* TrainerTest::dir_ = nullptr;
std::string TrainerTest::data32_, TrainerTest::data16_;

// metrics.jsonl's lines without the device each step ran on.
std::vector<std::string> LinesWithoutDevice(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(Slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    Json j = Json::parse(line);
    j.erase("device");
    out.push_back(j.dump());
  }
  return out;
}

// The CUDA backend's code on the simulated device trains the CPU's weights, and a run that
// changes device at a resume, either way, ends with the uninterrupted run's weights.
TEST_F(TrainerTest, CudaSimTrainsTheCpuWeightsAndADeviceSwitchAtAResumeToo) {
  auto cpu = Train("dev_cpu", "");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  auto sim = Train("dev_sim", "--device cuda-sim");
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  EXPECT_EQ(sim.out.rfind("device: cuda-sim", 0), 0u) << "train's first line: " << sim.out;
  EXPECT_EQ(cpu.out.rfind("device: cpu", 0), 0u) << cpu.out;
  const Json want = JsonFile(Run("dev_cpu") + "/summary.json")["weights_sha256"];
  EXPECT_EQ(JsonFile(Run("dev_sim") + "/summary.json")["weights_sha256"], want);
  EXPECT_EQ(LinesWithoutDevice(Run("dev_sim") + "/metrics.jsonl"),
            LinesWithoutDevice(Run("dev_cpu") + "/metrics.jsonl"));
  EXPECT_NE(Slurp(Run("dev_sim") + "/metrics.jsonl").find("\"device\":\"cuda-sim\""),
            std::string::npos);

  for (const auto& [first, second] : {std::pair<std::string, std::string>{"cpu", "cuda-sim"},
                                      std::pair<std::string, std::string>{"cuda-sim", "cpu"}}) {
    const std::string name = "dev_" + first + "_then_" + second;
    auto half = Train(name, "--device " + first + " --max-steps 10");
    ASSERT_EQ(half.exit_code, 0) << half.err;
    auto rest = testing::RunPetprep("train --out " + Run(name) + " --resume -q --device " + second);
    ASSERT_EQ(rest.exit_code, 0) << rest.err;
    EXPECT_NE(rest.err.find("the run continues on " + second + " (it ran on " + first + ")"),
              std::string::npos)
        << rest.err;
    EXPECT_EQ(JsonFile(Run(name) + "/summary.json")["weights_sha256"], want) << name;
    EXPECT_EQ(LinesWithoutDevice(Run(name) + "/metrics.jsonl"),
              LinesWithoutDevice(Run("dev_cpu") + "/metrics.jsonl"))
        << name;
    Json segments = JsonFile(Run(name) + "/config.json")["segments"];
    ASSERT_EQ(segments.size(), 2u) << segments.dump();
    EXPECT_EQ(segments[0]["from_step"], 0);
    EXPECT_EQ(segments[0]["device"], first);
    EXPECT_EQ(segments[1]["from_step"], 10);
    EXPECT_EQ(segments[1]["device"], second);
  }
  // eval and predict on the device give the CPU's metrics and masks.
  auto ev_cpu = testing::RunPetprep("eval " + Run("dev_cpu") + " --split validation");
  ASSERT_EQ(ev_cpu.exit_code, 0) << ev_cpu.err;
  const std::string cpu_eval = Slurp(Run("dev_cpu") + "/eval-validation.json");
  auto ev_sim =
      testing::RunPetprep("eval " + Run("dev_cpu") + " --split validation --device cuda-sim");
  ASSERT_EQ(ev_sim.exit_code, 0) << ev_sim.err;
  EXPECT_EQ(ev_sim.out, ev_cpu.out);
  EXPECT_EQ(Slurp(Run("dev_cpu") + "/eval-validation.json"), cpu_eval);
  const std::string image = data32_ + "/../petset/Abyssinian_1/image.jpg";
  auto pr_cpu = testing::RunPetprep("predict " + Run("dev_cpu") + " --image " + image + " --out " +
                                    Run("pred_cpu"));
  auto pr_sim = testing::RunPetprep("predict " + Run("dev_cpu") + " --image " + image + " --out " +
                                    Run("pred_sim") + " --device cuda-sim");
  ASSERT_EQ(pr_cpu.exit_code, 0) << pr_cpu.err;
  ASSERT_EQ(pr_sim.exit_code, 0) << pr_sim.err;
  EXPECT_EQ(Slurp(Run("pred_sim") + "/Abyssinian_1.mask.png"),
            Slurp(Run("pred_cpu") + "/Abyssinian_1.mask.png"));
  EXPECT_FALSE(Slurp(Run("pred_cpu") + "/Abyssinian_1.mask.png").empty());

  // Without --device a resume keeps the run's own device.
  auto keep = Train("dev_keep", "--device cuda-sim --max-steps 5");
  ASSERT_EQ(keep.exit_code, 0) << keep.err;
  auto resumed = testing::RunPetprep("train --out " + Run("dev_keep") + " --resume -q");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out.rfind("device: cuda-sim", 0), 0u) << resumed.out;
  EXPECT_EQ(JsonFile(Run("dev_keep") + "/summary.json")["weights_sha256"], want);
}

TEST_F(TrainerTest, ADeviceThatIsNotThereIsAClearErrorAndWritesNothing) {
  auto r = Train("dev_none", "--device cuda");
  if (r.exit_code == 0) GTEST_SKIP() << "a CUDA device is here";
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no CUDA device: "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Run("dev_none") + "/config.json"));
  auto bad = Train("dev_bad", "--device tpu");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}

TEST_F(TrainerTest, SameWeightsForThreadsRerunAndResume) {
  auto one = Train("t1", "--threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = Train("t2", "--threads 2");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto again = Train("t2b", "--threads 2");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ExpectSameRun(Run("t1"), Run("t2"));
  ExpectSameRun(Run("t2"), Run("t2b"));
  Json s = JsonFile(Run("t1") + "/summary.json");
  EXPECT_EQ(s["steps"], 20);
  EXPECT_TRUE(s["finished"].get<bool>());
  EXPECT_NE(one.out.find("weights sha256: " + s["weights_sha256"].get<std::string>()),
            std::string::npos);

  // --max-steps 10, then --resume (with another thread count): the uninterrupted 20 steps.
  auto half = Train("r", "--threads 2 --max-steps 10");
  ASSERT_EQ(half.exit_code, 0) << half.err;
  EXPECT_FALSE(JsonFile(Run("r") + "/summary.json")["finished"].get<bool>());
  auto rest = testing::RunPetprep("train --out " + Run("r") + " --resume --threads 1 -q");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  ExpectSameRun(Run("t1"), Run("r"));

  // Another seed: other weights from the first step.
  auto other = Train("s", "--seed 43");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(JsonFile(Run("s") + "/summary.json")["weights_sha256"], s["weights_sha256"]);
  EXPECT_EQ(FirstDifferingStep(Run("t1") + "/metrics.jsonl", Run("s") + "/metrics.jsonl"), 1u);
}

TEST_F(TrainerTest, RunFolderContents) {
  auto r = Train("f", "--hash-every 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = Run("f");
  Json config = JsonFile(run + "/config.json");
  EXPECT_EQ(config["training"]["batch"], 4);
  EXPECT_EQ(config["training"]["image_size"], 32);
  EXPECT_EQ(config["training"]["model"]["widths"], Json::array({4, 8, 16}));
  EXPECT_EQ(config["training"]["dataset_fingerprint"].get<std::string>().size(), 64u);
  EXPECT_TRUE(config["provenance"].is_object());
  // metrics.jsonl: a line per step, the weights' hash every 5 steps, a validation line per epoch.
  std::istringstream in(Slurp(run + "/metrics.jsonl"));
  std::string line;
  int steps = 0, epochs = 0, hashes = 0;
  while (std::getline(in, line)) {
    Json j = Json::parse(line);
    if (j.contains("validation")) {
      ++epochs;
      for (const char* k : {"loss", "mean_iou", "f1", "pixel_accuracy"})
        EXPECT_TRUE(j["validation"].contains(k)) << k;
      for (const char* k : {"pet", "background", "border"})
        EXPECT_TRUE(j["validation"]["iou"].contains(k)) << k;
    } else {
      ++steps;
      EXPECT_EQ(j["step"], steps);
      EXPECT_EQ(j["batch_sha256"].get<std::string>().size(), 64u);
      hashes += j.contains("weights_sha256");
    }
  }
  EXPECT_EQ(steps, 20);
  EXPECT_EQ(epochs, 2);
  EXPECT_EQ(hashes, 4);
  auto list = ListCheckpoints(run + "/checkpoints");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list.back().first, 20u);
  EXPECT_TRUE(PeekCheckpoint(run + "/checkpoints/best.ckpt").ok());
  Json summary = JsonFile(run + "/summary.json");
  EXPECT_TRUE(summary["test"].contains("mean_iou"));

  auto e = testing::RunPetprep("eval " + run + " --split validation -q");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  Json ev = JsonFile(run + "/eval-validation.json");
  for (const char* k : {"mean_iou", "iou", "f1", "pixel_accuracy"})
    EXPECT_TRUE(ev.contains(k)) << k;
  EXPECT_EQ(ev["weights_sha256"], summary["weights_sha256"]);
  // The last epoch's validation in metrics.jsonl is what eval computes from the last checkpoint.
  EXPECT_EQ(ev["mean_iou"], summary["validation"]["mean_iou"]);

  // predict: a mask of class ids and an overlay, at the image's own size.
  const std::string pet = dir_->path() + "/a/data/petset/Abyssinian_1/";
  std::string src = pet + "image.jpg";
  if (!ReadFile(src).ok()) src = pet + "image.tiff";
  Json meta = JsonFile(pet + "metadata.json");
  auto p =
      testing::RunPetprep("predict " + run + " --image " + src + " --out " + Run("pred") + " -q");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("/Abyssinian_1.mask.png\n"), std::string::npos) << p.out;
  auto mask = DecodePng(Slurp(Run("pred") + "/Abyssinian_1.mask.png"));
  ASSERT_TRUE(mask.ok()) << mask.status().ToString();
  EXPECT_EQ(mask->width, meta["width"].get<int>());
  EXPECT_EQ(mask->height, meta["height"].get<int>());
  EXPECT_EQ(mask->channels, 1);
  for (uint8_t v : mask->data) ASSERT_LE(v, 2);
  auto overlay = DecodePng(Slurp(Run("pred") + "/Abyssinian_1.overlay.png"));
  ASSERT_TRUE(overlay.ok());
  EXPECT_EQ(overlay->channels, 3);
  EXPECT_EQ(overlay->width, mask->width);
  auto bad = testing::RunPetprep("predict " + run + " --image " + run + "/config.json --out " +
                                 Run("pred") + " -q");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("config.json"), std::string::npos) << bad.err;
}

TEST_F(TrainerTest, CtrlCWritesACheckpointAndResumeCompletesTheRun) {
  const std::string run = Run("int");
  const std::string metrics = run + "/metrics.jsonl";
  pid_t pid = testing::SpawnPetprep({"train", "--data", data32_, "--out", run, "--widths", "4", "8",
                                     "16", "--batch", "4", "--steps-per-epoch", "10", "--epochs",
                                     "40", "--dropout", "0.1", "--threads", "2"});
  ASSERT_GE(pid, 0);
  // Interrupt once a few steps are logged.
  auto lines = [&] {
    std::string t = Slurp(metrics);
    return std::count(t.begin(), t.end(), '\n');
  };
  for (int i = 0; i < 3000 && lines() < 15; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130);
  auto list = ListCheckpoints(run + "/checkpoints");
  ASSERT_FALSE(list.empty());
  auto state = PeekCheckpoint(list.back().second);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_GT(state->step, 0u);
  EXPECT_LT(state->step, 400u) << "the run was meant to stop early";
  std::printf("interrupted at step %llu\n", static_cast<unsigned long long>(state->step));

  // Resumed to 60 steps it equals an uninterrupted 60-step run of the same configuration.
  auto rest = testing::RunPetprep("train --out " + run + " --resume --max-steps 60 -q");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  auto whole = testing::RunPetprep("train --data " + data32_ + " --out " + Run("int-whole") +
                                   " --widths 4 8 16 --batch 4 --steps-per-epoch 10 --epochs 40 "
                                   "--dropout 0.1 --max-steps 60 -q");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  ExpectSameRun(run, Run("int-whole"));
}

TEST_F(TrainerTest, BadInput) {
  auto missing =
      testing::RunPetprep("train --data " + Run("nowhere") + " --out " + Run("x") + " -q");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nowhere"), std::string::npos) << missing.err;

  const std::string cfg = Run("bad.json");
  ASSERT_TRUE(WriteFileAtomic(cfg, "{\"batch_size\": 4, \"warmup\": 3}").ok());
  auto unknown = testing::RunPetprep("train --data " + data32_ + " --out " + Run("y") +
                                     " --config " + cfg + " -q");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("unknown key 'warmup'"), std::string::npos) << unknown.err;

  // The blog's file is accepted, with notes; options given here win.
  auto blog =
      testing::RunPetprep("train --data " + data32_ + " --out " + Run("blog") + " --config " +
                          std::string(PETPREP_SOURCE_DIR) + "/examples/blog_hyperparameters.json" +
                          " --batch 4 --widths 4 8 --max-steps 2 -q");
  ASSERT_EQ(blog.exit_code, 0) << blog.err;
  EXPECT_NE(blog.err.find("'iterations'"), std::string::npos) << blog.err;
  EXPECT_NE(blog.err.find("MobileNetV2"), std::string::npos) << blog.err;
  Json bc = JsonFile(Run("blog") + "/config.json");
  EXPECT_EQ(bc["training"]["batch"], 4);
  EXPECT_EQ(bc["training"]["epochs"], 12);
  EXPECT_EQ(bc["training"]["steps_per_epoch"], 84);
  EXPECT_EQ(bc["training"]["lr"], 0.0018464290366223407);

  // A run folder is not overwritten.
  auto again = testing::RunPetprep("train --data " + data32_ + " --out " + Run("blog") + " -q");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;

  // A damaged checkpoint is named; no silent fallback to an older one.
  auto half = Train("c", "--max-steps 10 --keep 5");
  ASSERT_EQ(half.exit_code, 0) << half.err;
  auto list = ListCheckpoints(Run("c") + "/checkpoints");
  ASSERT_FALSE(list.empty());
  std::string bytes = Slurp(list.back().second);
  bytes[bytes.size() / 2] ^= 0x20;
  ASSERT_TRUE(WriteFileAtomic(list.back().second, bytes).ok());
  auto corrupt = testing::RunPetprep("train --out " + Run("c") + " --resume -q");
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.err.find(list.back().second), std::string::npos) << corrupt.err;
  EXPECT_NE(corrupt.err.find("SHA-256"), std::string::npos) << corrupt.err;

  // --resume against a dataset of another image size.
  auto half2 = Train("z", "--max-steps 5");
  ASSERT_EQ(half2.exit_code, 0) << half2.err;
  auto size =
      testing::RunPetprep("train --out " + Run("z") + " --resume --data " + data16_ + " -q");
  EXPECT_EQ(size.exit_code, 2);
  EXPECT_NE(size.err.find("32 px"), std::string::npos) << size.err;
  EXPECT_NE(size.err.find("16 px"), std::string::npos) << size.err;
  auto eval_size = testing::RunPetprep("eval " + Run("z") + " --data " + data16_ + " -q");
  EXPECT_EQ(eval_size.exit_code, 2);

  // Out-of-range values, in the file and on the command line.
  ASSERT_TRUE(WriteFileAtomic(cfg, "{\"batch_size\": 4294967296}").ok());
  auto huge = testing::RunPetprep("train --data " + data32_ + " --out " + Run("h") + " --config " +
                                  cfg + " -q");
  EXPECT_NE(huge.exit_code, 0);
  EXPECT_NE(huge.err.find("batch_size"), std::string::npos) << huge.err;
  auto zero =
      testing::RunPetprep("train --data " + data32_ + " --out " + Run("w0") + " --widths 0 8 -q");
  EXPECT_EQ(zero.exit_code, 2) << zero.err;

  // A damaged config.json is named, not a crash.
  auto half3 = Train("j", "--max-steps 2");
  ASSERT_EQ(half3.exit_code, 0) << half3.err;
  ASSERT_TRUE(WriteFileAtomic(Run("j") + "/config.json", "{\"training\": {\"seed\": \"x\"}}").ok());
  auto damaged = testing::RunPetprep("train --out " + Run("j") + " --resume -q");
  EXPECT_EQ(damaged.exit_code, 1);
  EXPECT_NE(damaged.err.find(Run("j") + "/config.json"), std::string::npos) << damaged.err;
  EXPECT_EQ(testing::RunPetprep("eval " + Run("j") + " -q").exit_code, 1);

  // Killed before its first checkpoint: --resume starts it again and ends as a fresh run would.
  auto k = Train("k", "--max-steps 3");
  ASSERT_EQ(k.exit_code, 0) << k.err;
  for (const auto& c : ListCheckpoints(Run("k") + "/checkpoints")) std::remove(c.second.c_str());
  std::remove((Run("k") + "/checkpoints/best.ckpt").c_str());
  auto again_k = testing::RunPetprep("train --out " + Run("k") + " --resume --max-steps 3 -q");
  ASSERT_EQ(again_k.exit_code, 0) << again_k.err;
  EXPECT_NE(again_k.err.find("starts again from step 0"), std::string::npos) << again_k.err;
  auto fresh_k = Train("k2", "--max-steps 3");
  ASSERT_EQ(fresh_k.exit_code, 0) << fresh_k.err;
  ExpectSameRun(Run("k"), Run("k2"));

  // predict: two inputs that would write the same outputs are refused before anything is written.
  const std::string pet = dir_->path() + "/a/data/petset/Abyssinian_1/";
  std::string src = pet + "image.jpg";
  if (!ReadFile(src).ok()) src = pet + "image.tiff";
  auto clash = testing::RunPetprep("predict " + Run("k") + " --image " + src + " " + src +
                                   " --out " + Run("clash") + " -q");
  EXPECT_EQ(clash.exit_code, 2);
  EXPECT_NE(clash.err.find("Abyssinian_1.mask.png"), std::string::npos) << clash.err;
  EXPECT_FALSE(ReadFile(Run("clash") + "/Abyssinian_1.mask.png").ok());

  auto nothing = testing::RunPetprep("train --out " + Run("never") + " --resume -q");
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("nothing to resume"), std::string::npos) << nothing.err;
  auto not_run = testing::RunPetprep("eval " + Run("never") + " -q");
  EXPECT_EQ(not_run.exit_code, 1);
  EXPECT_NE(not_run.err.find("not a training run"), std::string::npos) << not_run.err;
}

// A per-pixel colour classifier: the majority class of each RGB bin (8 levels per channel)
// over the train split's pixels, applied to the validation split.
double ColourClassifierMeanIou(const std::string& data) {
  auto d = DatasetReader::Open(data);
  EXPECT_TRUE(d.ok());
  auto bin = [](const uint8_t* px) { return (px[0] >> 5) * 64 + (px[1] >> 5) * 8 + (px[2] >> 5); };
  std::vector<std::array<uint64_t, 3>> counts(512, {0, 0, 0});
  auto train = (*d)->Split("train");
  for (size_t i = 0; i < (*train)->size(); ++i) {
    auto r = (*train)->Read(i);
    auto img = DecodeRecordImage(r->image());
    auto mask = DecodeRecordImage(r->mask());
    for (size_t p = 0; p < mask->data.size(); ++p) ++counts[bin(&img->data[p * 3])][mask->data[p]];
  }
  SegmentationMetrics m;
  auto val = (*d)->Split("validation");
  for (size_t i = 0; i < (*val)->size(); ++i) {
    auto r = (*val)->Read(i);
    auto img = DecodeRecordImage(r->image());
    auto mask = DecodeRecordImage(r->mask());
    std::vector<uint8_t> pred(mask->data.size());
    for (size_t p = 0; p < pred.size(); ++p) {
      const auto& c = counts[bin(&img->data[p * 3])];
      pred[p] = c[0] > c[1] && c[0] >= c[2] ? 0 : (c[2] > c[1] ? 2 : 1);
    }
    m.Add(mask->data, pred);
  }
  return m.MeanIou();
}

TEST_F(TrainerTest, ABackendErrorStopsTrainingNamingTheOpAndKeepsTheCheckpoint) {
  TrainOptions o;
  o.data = data32_;
  o.out = Run("fault");
  o.widths = {4, 8, 16};
  o.batch = 4;
  o.steps_per_epoch = 10;
  o.epochs = 2;
  o.threads = 1;
  o.quiet = true;
  // Three levels: two transposed convolutions per step, so call 25 is in step 13 (epoch 2).
  CpuBackendFault fault;
  fault.op = Op::kConvT2x2Backward;
  fault.fail_at_call = 25;
  std::unique_ptr<Backend> faulty = NewFaultyCpuBackend(fault);
  TrainResult failed;
  Status s = petprep::Train(o, &failed, faulty.get());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("convt2x2_backward"), std::string::npos) << s.ToString();
  auto list = ListCheckpoints(Run("fault") + "/checkpoints");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list.back().first, 10u);
  auto kept = PeekCheckpoint(list.back().second);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();

  // Resumed on a sound backend, the run ends as an uninterrupted one does.
  TrainOptions resume = o;
  resume.resume = true;
  TrainResult resumed, whole;
  ASSERT_TRUE(petprep::Train(resume, &resumed).ok());
  TrainOptions ref = o;
  ref.out = Run("fault_ref");
  ASSERT_TRUE(petprep::Train(ref, &whole).ok());
  ExpectSameRun(Run("fault"), Run("fault_ref"));
}

// A full device: the error says how much was needed, and the run's checkpoint stays as it was.
TEST_F(TrainerTest, OutOfDeviceMemoryIsClearAndKeepsTheCheckpoint) {
  TrainOptions o;
  o.data = data32_;
  o.out = Run("oom");
  o.widths = {4, 8, 16};
  o.batch = 4;
  o.steps_per_epoch = 10;
  o.epochs = 2;
  o.quiet = true;
  o.max_steps = 10;
  TrainResult first;
  ASSERT_TRUE(petprep::Train(o, &first).ok());
  const std::string ckpt = Run("oom") + "/checkpoints/" + CheckpointName(10);
  const std::string before = Slurp(ckpt);
  ASSERT_FALSE(before.empty());
  TrainOptions resume = o;
  resume.resume = true;
  resume.max_steps = 0;
  std::unique_ptr<Backend> small = NewCudaSimBackend(64 * 1024);
  TrainResult failed;
  Status s = petprep::Train(resume, &failed, small.get());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("out of device memory: "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(" bytes needed, "), std::string::npos) << s.message();
  EXPECT_EQ(Slurp(ckpt), before) << "the checkpoint is untouched";
  auto list = ListCheckpoints(Run("oom") + "/checkpoints");
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list.back().first, 10u);
  // On a device with room the run resumes from it and ends as the uninterrupted one.
  TrainResult resumed;
  ASSERT_TRUE(petprep::Train(resume, &resumed, NewCudaSimBackend().get()).ok());
  TrainOptions whole = o;
  whole.out = Run("oom_ref");
  whole.max_steps = 0;
  TrainResult ref;
  ASSERT_TRUE(petprep::Train(whole, &ref).ok());
  EXPECT_EQ(resumed.weights_sha256, ref.weights_sha256);
}

TEST(TrainerLearningTest, BeatsAPerPixelColourClassifier) {
  testing::TempDir dir;
  const std::string data = testing::MakeDataset(dir.path(), 400, 11, 64);
  const double colour = ColourClassifierMeanIou(data);
  auto r = testing::RunPetprep("train --data " + data + " --out " + dir.path() +
                               "/run --epochs 8 --batch 8 --lr 0.002 --threads 2 -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json s = JsonFile(dir.path() + "/run/summary.json");
  const double unet = s["validation"]["mean_iou"].get<double>();
  std::printf(
      "validation mean IoU: U-Net %.4f (pet %.4f, background %.4f), colour classifier %.4f\n", unet,
      s["validation"]["iou"]["pet"].get<double>(),
      s["validation"]["iou"]["background"].get<double>(), colour);
  EXPECT_GT(unet, colour + 0.1);
  EXPECT_GT(s["validation"]["iou"]["pet"].get<double>(), 0.6);
}

TEST(MetricsTest, ConfusionCounts) {
  SegmentationMetrics m;
  // truth:     0 0 1 1 2 1
  // predicted: 0 1 1 1 2 0
  m.Add({0, 0, 1, 1, 2, 1}, {0, 1, 1, 1, 2, 0});
  std::vector<double> iou = m.Iou();
  EXPECT_DOUBLE_EQ(iou[0], 1.0 / 3);  // tp 1, fp 1, fn 1
  EXPECT_DOUBLE_EQ(iou[1], 2.0 / 4);  // tp 2, fp 1, fn 1
  EXPECT_DOUBLE_EQ(iou[2], 1.0);
  EXPECT_DOUBLE_EQ(m.MeanIou(), (1.0 / 3 + 0.5 + 1.0) / 3);
  EXPECT_DOUBLE_EQ(m.PixelAccuracy(), 4.0 / 6);
  EXPECT_DOUBLE_EQ(m.F1(), (2.0 / 4 + 4.0 / 6 + 1.0) / 3);
  Tensor logits(1, 3, 1, 2);
  logits[0] = 1, logits[1] = 5;  // class 0
  logits[2] = 1, logits[3] = 5;  // class 1 ties class 0 at pixel 1: the first wins
  logits[4] = 2, logits[5] = 0;
  EXPECT_EQ(ArgmaxClasses(logits), (std::vector<uint8_t>{2, 0}));
}

}  // namespace
}  // namespace petprep
