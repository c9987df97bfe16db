// scripts/demo.sh --real end to end against a mirror on 127.0.0.1: download, partition at
// 128x128, train, eval, calibrate and report, on 20 synthetic pets chosen so that every split
// has some; then a rerun that finds the dataset and an interrupted run and resumes it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/dataset/tar_writer.h"
#include "tests/fake_http_server.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using testing::TempDir;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Slurp(const std::string& path) {
  auto r = ReadFile(path);
  EXPECT_TRUE(r.ok()) << path << ": " << r.status().ToString();
  return r.ok() ? *r : "";
}

// The pet id an archive entry belongs to ("images/Bengal_2.jpg" -> "Bengal_2"), or "".
std::string PetOf(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t dot = name.rfind('.');
  if (slash == std::string::npos || dot == std::string::npos || dot < slash) return "";
  const std::string dir = name.substr(0, slash);
  if (dir != "images" && dir != "annotations/trimaps" && dir != "annotations/xmls") return "";
  return name.substr(slash + 1, dot - slash - 1);
}

// Keeps the comment lines of an annotation list and the lines of the pets in `keep`.
std::string FilterList(const std::string& text, const std::set<std::string>& keep) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    const std::string id = line.substr(0, line.find(' '));
    if (line.empty() || line[0] == '#' || keep.count(id) > 0) out += line + "\n";
  }
  return out;
}

// Writes DIR/images.tar.gz and DIR/annotations.tar.gz of the pets in `keep` (taken from the
// synthetic archives in SRC) and returns SHA256SUMS's text for them.
std::string WriteSubset(const std::string& src, const std::string& dir,
                        const std::set<std::string>& keep) {
  std::string sums;
  for (const char* archive : {"images.tar.gz", "annotations.tar.gz"}) {
    auto writer = TarWriter::Create(dir + "/" + archive, TarWriter::Compression::kGzip);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    if (!writer.ok()) return "";
    const std::string top = std::string(archive).substr(0, std::string(archive).find('.'));
    EXPECT_TRUE((*writer)->AddDirectory(top).ok());
    for (const auto& [name, bytes] : testing::ReadArchive(src + "/" + archive)) {
      const std::string pet = PetOf(name);
      if (!pet.empty()) {
        if (keep.count(pet) > 0) {
          EXPECT_TRUE((*writer)->AddFile(name, bytes).ok()) << name;
        }
      } else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".txt") == 0) {
        EXPECT_TRUE((*writer)->AddFile(name, FilterList(bytes, keep)).ok()) << name;
      } else {
        EXPECT_TRUE((*writer)->AddFile(name, bytes).ok()) << name;
      }
    }
    auto sha = (*writer)->Finish();
    EXPECT_TRUE(sha.ok()) << sha.status().ToString();
    sums += (sha.ok() ? *sha : "") + "  " + archive + "\n";
  }
  return sums;
}

struct Script {
  int exit_code;
  std::string output;  // stdout and stderr together
};

Script RunDemo(const std::string& demo_dir, const std::string& args) {
  std::string binary = testing::PetprepBinary();
  const std::string build = binary.substr(0, binary.rfind('/'));
  const std::string log = demo_dir + ".log";
  const std::string cmd =
      "PETPREP_NO_BUILD=1 PETPREP_BUILD_DIR='" + build + "' PETPREP_DEMO_DIR='" + demo_dir +
      "' bash '" PETPREP_SOURCE_DIR "/scripts/demo.sh' " + args + " >'" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  Script s{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, Slurp(log)};
  return s;
}

TEST(DemoReal, RunsTheWholeMissionAgainstALocalMirror) {
  if (!Exists(PETPREP_SOURCE_DIR "/scripts/demo.sh")) {
    GTEST_SKIP() << "scripts/demo.sh is not here (a packed test binary without the sources)";
  }
  TempDir dir;
  // Two pets of each of the 37 breeds; keep 20 with validation, calibration and test pets.
  auto synth = testing::RunPetprep("-q synth --out " + dir / "synth" + " --count 74 --seed 3");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  SplitMap map = *SplitMap::Parse("blog");
  std::map<std::string, int> taken;
  std::set<std::string> keep;
  std::istringstream list(
      testing::ReadArchive(dir / "synth/annotations.tar.gz")["annotations/list.txt"]);
  std::string line;
  while (std::getline(list, line) && keep.size() < 20) {
    if (line.empty() || line[0] == '#') continue;
    const std::string id = line.substr(0, line.find(' '));
    const std::string split = map.SplitOf(FoldOf(id));
    const int limit = split == "train" ? 11 : 3;
    if (taken[split] < limit) {
      ++taken[split];
      keep.insert(id);
    }
  }
  ASSERT_EQ(keep.size(), 20u);
  for (const char* split : {"train", "validation", "calibration", "test"}) {
    ASSERT_GT(taken[split], 0) << split;
  }
  ASSERT_EQ(mkdir((dir / "mirror").c_str(), 0755), 0);
  const std::string sums = WriteSubset(dir / "synth", dir / "mirror", keep);
  ASSERT_TRUE(WriteFileAtomic(dir / "mirror/SHA256SUMS", sums).ok());
  const std::map<std::string, std::string> files = {
      {"/pets/images.tar.gz", Slurp(dir / "mirror/images.tar.gz")},
      {"/pets/annotations.tar.gz", Slurp(dir / "mirror/annotations.tar.gz")}};
  FakeHttpServer server([&](const FakeRequest& req, int) {
    auto it = files.find(req.path);
    if (it == files.end()) {
      FakeResponse missing;
      missing.status = 404;
      missing.body = "not found";
      return missing;
    }
    return testing::ServeBytes(it->second, req);
  });

  const std::string out = dir / "demo";
  Script first = RunDemo(out, "--real --mirror " + server.url("/pets") + " --checksums " +
                                  dir / "mirror/SHA256SUMS" + " --epochs 2 --max-steps 3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string run = out + "/real/runs/unet128";
  for (const char* f : {"/real/raw/images.tar.gz", "/real/raw/annotations.tar.gz",
                        "/real/dataset/manifest.json", "/real/runs/unet128/summary.json",
                        "/real/runs/unet128/eval-test.json", "/real/runs/unet128/calibration.json",
                        "/real/report.html", "/real/report-reliability.png"}) {
    EXPECT_TRUE(Exists(out + f)) << f << "\n" << first.output;
  }
  EXPECT_NE(first.output.find("device: cpu"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("steps 3 of"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("The report (open it in a browser"), std::string::npos);
  EXPECT_NE(first.output.find("calibrated (T "), std::string::npos) << first.output;
  std::set<std::string> asked;
  for (const FakeRequest& r : server.requests()) asked.insert(r.path);
  EXPECT_EQ(asked, (std::set<std::string>{"/pets/images.tar.gz", "/pets/annotations.tar.gz"}));

  auto manifest = nlohmann::json::parse(Slurp(out + "/real/dataset/manifest.json"));
  EXPECT_EQ(manifest["options"]["size"].get<int>(), 128);
  for (const char* split : {"train", "validation", "calibration", "test"}) {
    EXPECT_TRUE(Exists(out + "/real/dataset/" + split)) << split;
  }
  auto summary = nlohmann::json::parse(Slurp(run + "/summary.json"));
  const std::string weights = summary["weights_sha256"].get<std::string>();
  ASSERT_EQ(weights.size(), 64u);
  EXPECT_NE(Slurp(out + "/real/report.html").find(weights), std::string::npos);
  auto calibration = nlohmann::json::parse(Slurp(run + "/calibration.json"));
  EXPECT_GT(calibration["temperature"].get<double>(), 0.0);
  EXPECT_LE(calibration["calibration"]["nll_after"].get<double>(),
            calibration["calibration"]["nll_before"].get<double>());

  // An interrupted run (checkpoints, no summary yet): the rerun reuses the verified dataset,
  // downloads nothing new, resumes the run and reaches the weights of a run never stopped.
  ASSERT_EQ(std::remove((run + "/summary.json").c_str()), 0);
  const size_t requests = server.requests().size();
  Script second = RunDemo(out, "--real --mirror " + server.url("/pets") + " --checksums " +
                                   dir / "mirror/SHA256SUMS" + " --epochs 2 --max-steps 4");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(server.requests().size(), requests) << second.output;
  EXPECT_NE(second.output.find("reusing"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("resuming it"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("steps 4 of"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("calibrated (T "), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("other weights"), std::string::npos) << second.output;
  const std::string resumed =
      nlohmann::json::parse(Slurp(run + "/summary.json"))["weights_sha256"].get<std::string>();
  auto straight =
      testing::RunPetprep("-q train --data " + out + "/real/dataset --out " + dir / "straight" +
                          " --epochs 2 --batch 8 --lr 0.002 --hash-every 50 "
                          "--max-steps 4");
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  EXPECT_NE(straight.out.find("weights sha256: " + resumed), std::string::npos)
      << straight.out << "\nresumed: " << resumed;
}

TEST(DemoReal, RejectsOptionsWithoutReal) {
  if (!Exists(PETPREP_SOURCE_DIR "/scripts/demo.sh")) {
    GTEST_SKIP() << "scripts/demo.sh is not here (a packed test binary without the sources)";
  }
  TempDir dir;
  Script s = RunDemo(dir / "demo", "--max-steps 3");
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.output.find("go with --real"), std::string::npos) << s.output;
  s = RunDemo(dir / "demo", "--real --epochs zero");
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.output.find("--epochs takes a positive whole number"), std::string::npos) << s.output;
  s = RunDemo(dir / "demo", "--real --checksums " + dir / "missing");
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.output.find("no such file"), std::string::npos) << s.output;
}

}  // namespace
}  // namespace petprep
