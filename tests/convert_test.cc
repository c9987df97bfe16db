#include "pipeline/dataset/convert.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/synth.h"
#include "pipeline/dataset/tar_writer.h"
#include "pipeline/fetch/download.h"
#include "tests/fake_http_server.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// One synthetic dataset with every defect, shared by the tests of this file.
class ConvertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    SynthOptions s;
    s.out_dir = *dir_ / "synth";
    s.count = 60;
    s.seed = 5;
    s.defects = true;
    ASSERT_TRUE(WriteSynthDataset(s).ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string Synth(const std::string& name) { return *dir_ / ("synth/" + name); }

  static ConvertOptions Options(const std::string& data, DefectPolicy policy, int jobs) {
    ConvertOptions o;
    o.data_dir = data;
    o.policy = policy;
    o.jobs = jobs;
    o.images = {"images.tar.gz", Synth("images.tar.gz"), 1, "i"};
    o.annotations = {"annotations.tar.gz", Synth("annotations.tar.gz"), 2, "a"};
    return o;
  }

  static Json Report(const std::string& data) {
    return Json::parse(*ReadFile(data + "/petset/conversion_report.json"));
  }

  static testing::TempDir* dir_;
};

testing::TempDir* ConvertTest::dir_ = nullptr;

std::set<std::string> Folders(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) out.insert(e.path().filename().string());
  }
  return out;
}

TEST_F(ConvertTest, RepairListsEveryDefectAndKeepsCleanJpegsByteForByte) {
  testing::TempDir data;
  auto r = ConvertArchives(Options(data.path(), DefectPolicy::kRepair, 2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Json report = Report(data.path());
  Json defects = Json::parse(*ReadFile(Synth("defects.json")))["defects"];
  std::map<std::pair<std::string, std::string>, std::string> actions;
  for (const auto& d : report["defects"]) actions[{d["file"], d["kind"]}] = d["action"];
  for (const auto& d : defects) {
    std::string kind = d["defect"], file = d["file"];
    auto it = actions.find({file, kind});
    ASSERT_NE(it, actions.end()) << file << " " << kind << " missing from the report";
    std::string want = kind == "appledouble" || kind == "mat_file" ? "ignored"
                       : kind == "image_without_trimap" || kind == "trimap_without_image"
                           ? "left out"
                           : "repaired";
    EXPECT_EQ(it->second, want) << file << " " << kind;
  }
  EXPECT_EQ(report["defects"].size(), defects.size()) << "nothing reported that was not injected";

  // Exactly the pets with both files.
  auto images = testing::ReadArchive(Synth("images.tar.gz"));
  auto ann = testing::ReadArchive(Synth("annotations.tar.gz"));
  std::set<std::string> want;
  for (const auto& [name, bytes] : images) {
    if (name.size() < 4 || name.substr(name.size() - 4) != ".jpg") continue;
    std::string id = name.substr(7, name.size() - 11);
    if (ann.count("annotations/trimaps/" + id + ".png")) want.insert(id);
  }
  EXPECT_EQ(Folders(data / "petset"), want);
  EXPECT_EQ(r->pets, static_cast<int>(want.size()));

  int clean = 0;
  for (const std::string& id : want) {
    std::string dir = data / ("petset/" + id);
    Json meta = Json::parse(*ReadFile(dir + "/metadata.json"));
    EXPECT_FALSE(meta.contains("split"));
    EXPECT_FALSE(meta.contains("fold"));
    EXPECT_EQ(meta["pet_id"], id);
    const std::string& src = images["images/" + id + ".jpg"];
    EXPECT_EQ(meta["source_image_sha256"], Sha256Hex(src));
    auto mask = DecodeTiff(*ReadFile(dir + "/mask.tiff"));
    ASSERT_TRUE(mask.ok()) << id;
    EXPECT_EQ(mask->width, meta["width"].get<int>());
    EXPECT_EQ(mask->height, meta["height"].get<int>());
    for (uint8_t v : mask->data) ASSERT_LE(v, 2) << id;
    bool image_defect = false;
    for (const auto& d : meta["defects"])
      image_defect |= d["file"].get<std::string>().rfind("images/", 0) == 0;
    EXPECT_EQ(fs::exists(dir + "/image.jpg"), !image_defect) << id;
    if (!image_defect) {
      EXPECT_EQ(*ReadFile(dir + "/image.jpg"), src) << id << ": a clean JPEG is kept byte for byte";
    } else {
      auto img = DecodeTiff(*ReadFile(dir + "/image.tiff"));
      ASSERT_TRUE(img.ok()) << id;
      EXPECT_EQ(img->channels, 3);
    }
    if (meta["defects"].empty()) {
      ++clean;
      const std::string& png = ann["annotations/trimaps/" + id + ".png"];
      cv::Mat tri = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_UNCHANGED);
      for (int y = 0; y < tri.rows; y += 7) {
        for (int x = 0; x < tri.cols; x += 7) {
          ASSERT_EQ(mask->at(x, y)[0], tri.at<uint8_t>(y, x) - 1) << id;
        }
      }
    }
  }
  EXPECT_EQ(clean, r->clean);
  EXPECT_EQ(r->clean + r->repaired, r->pets);
  EXPECT_GT(r->repaired, 15);

  // A PNG named .jpg becomes a TIFF holding exactly its RGB pixels.
  auto tiff = DecodeTiff(*ReadFile(data / "petset/Abyssinian_5/image.tiff"));
  ASSERT_TRUE(tiff.ok());
  const std::string& png = images["images/Abyssinian_5.jpg"];
  cv::Mat m = cv::imdecode(std::vector<uchar>(png.begin(), png.end()), cv::IMREAD_COLOR);
  ASSERT_EQ(m.cols, tiff->width);
  for (int y = 0; y < m.rows; y += 5) {
    for (int x = 0; x < m.cols; x += 5) {
      ASSERT_EQ(tiff->at(x, y)[0], m.at<cv::Vec3b>(y, x)[2]);
      ASSERT_EQ(tiff->at(x, y)[2], m.at<cv::Vec3b>(y, x)[0]);
    }
  }
}

TEST_F(ConvertTest, SkipLeavesDefectivePetsOut) {
  testing::TempDir data;
  auto r = ConvertArchives(Options(data.path(), DefectPolicy::kSkip, 2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const auto& d : Report(data.path())["defects"]) {
    std::string kind = d["kind"];
    if (kind == "appledouble" || kind == "mat_file" || kind == "image_without_trimap" ||
        kind == "trimap_without_image") {
      continue;
    }
    EXPECT_EQ(d["action"], "skipped") << kind;
    EXPECT_FALSE(fs::exists(data / ("petset/" + d["pet_id"].get<std::string>()))) << kind;
  }
  EXPECT_EQ(r->repaired, 0);
  EXPECT_EQ(r->pets, r->clean);
  EXPECT_GT(r->skipped, 10);
}

TEST_F(ConvertTest, FailStopsAtTheFirstDefectAndKeepsTheOldPetset) {
  testing::TempDir data;
  ASSERT_TRUE(ConvertArchives(Options(data.path(), DefectPolicy::kRepair, 2)).ok());
  std::string before = *PetsetTreeSha256(data / "petset");
  auto r = ConvertArchives(Options(data.path(), DefectPolicy::kFail, 2));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--on-defect fail"), std::string::npos);
  EXPECT_NE(r.status().message().find(".jpg"), std::string::npos) << r.status().message();
  EXPECT_EQ(*PetsetTreeSha256(data / "petset"), before);
  EXPECT_FALSE(fs::exists(data / ".petset.partial"));
}

TEST_F(ConvertTest, SameBytesForAnyJobsAndAnySource) {
  testing::TempDir one, two, mirror_data;
  auto a = ConvertArchives(Options(one.path(), DefectPolicy::kRepair, 1));
  auto b = ConvertArchives(Options(two.path(), DefectPolicy::kRepair, 2));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tree_sha256, b->tree_sha256);
  EXPECT_EQ(*ReadFile(one / "petset/conversion_report.json"),
            *ReadFile(two / "petset/conversion_report.json"));

  // Through a mirror on 127.0.0.1 and through --from: the same petset.
  std::string img = *ReadFile(Synth("images.tar.gz")),
              annb = *ReadFile(Synth("annotations.tar.gz"));
  testing::FakeHttpServer server([&](const testing::FakeRequest& req, int) {
    return testing::ServeBytes(req.path.find("images") != std::string::npos ? img : annb, req);
  });
  for (bool use_mirror : {true, false}) {
    testing::TempDir data;
    DownloadOptions d;
    d.out_dir = data.path();
    d.checksums_file = Synth("SHA256SUMS");
    if (use_mirror) {
      d.mirrors = {server.url("/pets")};
    } else {
      d.from_dir = *dir_ / "synth";
    }
    auto got = DownloadArchives(d);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ConvertOptions c = Options(data.path(), DefectPolicy::kRepair, 2);
    c.images = {"images.tar.gz", (*got)[0].path, (*got)[0].size, (*got)[0].sha256};
    c.annotations = {"annotations.tar.gz", (*got)[1].path, (*got)[1].size, (*got)[1].sha256};
    auto r = ConvertArchives(c);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->tree_sha256, a->tree_sha256) << (use_mirror ? "mirror" : "--from");
    std::string report = *ReadFile(data / "petset/conversion_report.json");
    EXPECT_EQ(report.find(data.path()), std::string::npos) << "no local path in the report";
    EXPECT_EQ(report.find("127.0.0.1"), std::string::npos) << "no URL in the report";
  }
}

TEST_F(ConvertTest, AFailureMidwayKeepsTheOldPetsetAndARerunCompletes) {
  testing::TempDir data;
  ConvertOptions o = Options(data.path(), DefectPolicy::kRepair, 2);
  auto first = ConvertArchives(o);
  ASSERT_TRUE(first.ok());
  o.force = true;
  o.fail_after_pets = 20;
  auto broken = ConvertArchives(o);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(*PetsetTreeSha256(data / "petset"), first->tree_sha256);
  EXPECT_FALSE(fs::exists(data / ".petset.partial"));
  o.fail_after_pets = 0;
  auto again = ConvertArchives(o);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->up_to_date);
  EXPECT_EQ(again->tree_sha256, first->tree_sha256);
}

TEST_F(ConvertTest, ARerunVerifiesAndDoesNothingUnlessChanged) {
  testing::TempDir data;
  ConvertOptions o = Options(data.path(), DefectPolicy::kRepair, 2);
  auto first = ConvertArchives(o);
  ASSERT_TRUE(first.ok());
  auto second = ConvertArchives(o);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->up_to_date);
  EXPECT_EQ(second->pets, first->pets);
  ASSERT_TRUE(WriteFileAtomic(data / "petset/Bengal_1/metadata.json", "{}").ok());
  auto third = ConvertArchives(o);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->up_to_date) << "a changed file is noticed";
  EXPECT_EQ(third->tree_sha256, first->tree_sha256);
}

TEST_F(ConvertTest, HostileImagesArchiveLeavesNoPetset) {
  testing::TempDir data;
  ConvertOptions o = Options(data.path(), DefectPolicy::kRepair, 2);
  // A valid archive whose last entry climbs out: pets were already converted by then.
  auto w = TarWriter::Create(data / "evil.tar.gz", TarWriter::Compression::kGzip);
  ASSERT_TRUE(w.ok());
  for (const auto& [name, bytes] : testing::ReadArchive(Synth("images.tar.gz"))) {
    ASSERT_TRUE((*w)->AddFile(name, bytes).ok());
  }
  ASSERT_TRUE((*w)->AddFile("images/../../escaped.jpg", "x").ok());
  ASSERT_TRUE((*w)->Finish().ok());
  o.images.path = data / "evil.tar.gz";
  auto r = ConvertArchives(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("images/../../escaped.jpg"), std::string::npos);
  EXPECT_FALSE(fs::exists(data / "petset"));
  EXPECT_FALSE(fs::exists(data / ".petset.partial"));
  std::set<std::string> left;
  for (const auto& e : fs::directory_iterator(data.path())) left.insert(e.path().filename());
  // Only the lock beside the petset, which one writer at a time holds.
  EXPECT_EQ(left, (std::set<std::string>{"evil.tar.gz", "petset.lock"}));
}

TEST_F(ConvertTest, AnnotationsWithoutListAreRefused) {
  testing::TempDir data;
  auto w = TarWriter::Create(data / "ann.tar.gz", TarWriter::Compression::kGzip);
  ASSERT_TRUE((*w)->AddFile("annotations/trimaps/x.png", "x").ok());
  ASSERT_TRUE((*w)->Finish().ok());
  ConvertOptions o = Options(data.path(), DefectPolicy::kRepair, 1);
  o.annotations.path = data / "ann.tar.gz";
  auto r = ConvertArchives(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("list.txt"), std::string::npos);
  EXPECT_FALSE(fs::exists(data / "petset"));
}

// kill -9 at a random moment of the conversion, then rerun: the same petset as an
// uninterrupted run, and an earlier petset is never half-replaced.
TEST(ConvertKillTest, KilledProcessThenRerunEqualsUninterrupted) {
  testing::TempDir dir;
  SynthOptions s;
  s.out_dir = dir / "synth";
  s.count = 400;
  s.seed = 9;
  ASSERT_TRUE(WriteSynthDataset(s).ok());
  const std::string args = "-q download --from " + (dir / "synth") + " --checksums " +
                           (dir / "synth/SHA256SUMS") + " --out ";
  auto clean = testing::RunPetprep(args + (dir / "clean"));
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  std::string want = *PetsetTreeSha256(dir / "clean/petset");

  std::string data = dir / "killed";
  pid_t pid = testing::SpawnPetprep({"-q", "download", "--from", dir / "synth", "--checksums",
                                     dir / "synth/SHA256SUMS", "--out", data});
  ASSERT_GE(pid, 0);
  // Wait until the conversion is under way, then kill without warning.
  bool midway = false;
  for (int i = 0; i < 20000 && !midway; ++i) {
    std::error_code ec;
    size_t n = 0;
    for (auto it = fs::directory_iterator(data + "/.petset.partial", ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      ++n;
    }
    midway = n >= 20;
    if (!midway) usleep(500);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(midway) << "the conversion finished before it could be killed";
  EXPECT_FALSE(fs::exists(data + "/petset")) << "no petset appears before it is complete";
  auto rerun = testing::RunPetprep(args + data);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(*PetsetTreeSha256(data + "/petset"), want);
  EXPECT_FALSE(fs::exists(data + "/.petset.partial"));
}

}  // namespace
}  // namespace petprep
