#include "pipeline/dataset/synth.h"

#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/interrupt.h"
#include "pipeline/dataset/breeds.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using Files = std::map<std::string, std::string>;

SynthSummary Write(const std::string& dir, int count, uint64_t seed, bool defects, int jobs) {
  SynthOptions o;
  o.out_dir = dir;
  o.count = count;
  o.seed = seed;
  o.defects = defects;
  o.jobs = jobs;
  auto r = WriteSynthDataset(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SynthSummary();
}

cv::Mat Decode(const std::string& bytes, int flags) {
  std::vector<uchar> buf(bytes.begin(), bytes.end());
  return cv::imdecode(buf, flags);
}

std::vector<std::vector<std::string>> Rows(const std::string& text, int* comments) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  *comments = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      ++*comments;
      continue;
    }
    std::istringstream words(line);
    std::vector<std::string> row;
    std::string w;
    while (words >> w) row.push_back(w);
    rows.push_back(row);
  }
  return rows;
}

TEST(SynthTest, SameSeedSameArchivesAnyJobs) {
  testing::TempDir a, b, c;
  SynthSummary sa = Write(a.path(), 40, 7, false, 1);
  SynthSummary sb = Write(b.path(), 40, 7, false, 2);
  SynthSummary sc = Write(c.path(), 40, 8, false, 2);
  EXPECT_EQ(sa.images_sha256, sb.images_sha256);
  EXPECT_EQ(sa.annotations_sha256, sb.annotations_sha256);
  EXPECT_EQ(*ReadFile(a / "SHA256SUMS"), *ReadFile(b / "SHA256SUMS"));
  EXPECT_NE(sa.images_sha256, sc.images_sha256);
  EXPECT_NE(sa.annotations_sha256, sc.annotations_sha256);
}

TEST(SynthTest, CleanDatasetIsComplete) {
  testing::TempDir dir;
  SynthSummary s = Write(dir.path(), 80, 11, false, 2);
  EXPECT_EQ(s.pets, 80);
  EXPECT_FALSE(std::filesystem::exists(dir / "defects.json"));

  // SHA256SUMS: exactly two lines, as sha256sum writes them.
  std::string sums = *ReadFile(dir / "SHA256SUMS");
  EXPECT_EQ(sums, ToHex(*Sha256OfFile(dir / "images.tar.gz", kArchiveFileLimit)) +
                      "  images.tar.gz\n" +
                      ToHex(*Sha256OfFile(dir / "annotations.tar.gz", kArchiveFileLimit)) +
                      "  annotations.tar.gz\n");

  Files images = testing::ReadArchive(dir / "images.tar.gz");
  Files ann = testing::ReadArchive(dir / "annotations.tar.gz");
  std::vector<std::string> ids = SynthPetIds(80);
  ASSERT_EQ(images.size(), 80u);
  for (const std::string& id : ids) {
    ASSERT_TRUE(images.count("images/" + id + ".jpg")) << id;
    ASSERT_TRUE(ann.count("annotations/trimaps/" + id + ".png")) << id;
    cv::Mat img = Decode(images["images/" + id + ".jpg"], cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(img.empty()) << id;
    EXPECT_EQ(img.channels(), 3) << id;
    cv::Mat tri = Decode(ann["annotations/trimaps/" + id + ".png"], cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(tri.empty()) << id;
    EXPECT_EQ(tri.channels(), 1);
    EXPECT_EQ(tri.size(), img.size()) << id;
    for (int y = 0; y < tri.rows; ++y) {
      for (int x = 0; x < tri.cols; ++x) {
        uint8_t v = tri.at<uint8_t>(y, x);
        ASSERT_TRUE(v >= 1 && v <= 3) << id;
      }
    }
  }

  int comments = 0;
  auto rows = Rows(ann["annotations/list.txt"], &comments);
  EXPECT_EQ(comments, 6);
  std::set<std::string> listed;
  std::string prev;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 4u);
    const Breed* b = ParsePetId(row[0])->breed;
    EXPECT_EQ(row[1], std::to_string(b->class_id));
    EXPECT_EQ(row[2], std::to_string(b->species));
    EXPECT_EQ(row[3], std::to_string(b->breed_id));
    if (!prev.empty()) {
      EXPECT_TRUE(ListOrderLess(prev, row[0])) << prev << " " << row[0];
    }
    prev = row[0];
    listed.insert(row[0]);
  }
  EXPECT_EQ(listed, std::set<std::string>(ids.begin(), ids.end()));
  int c1, c2;
  auto trainval = Rows(ann["annotations/trainval.txt"], &c1);
  auto test = Rows(ann["annotations/test.txt"], &c2);
  EXPECT_EQ(c1 + c2, 0);
  EXPECT_EQ(trainval.size() + test.size(), 80u);
  EXPECT_GT(trainval.size(), 20u);
  EXPECT_GT(test.size(), 20u);
  size_t xmls = 0;
  for (const auto& [name, bytes] : ann) xmls += name.rfind("annotations/xmls/", 0) == 0;
  EXPECT_EQ(xmls, trainval.size()) << "head boxes for trainval pets, as in the real archive";
}

TEST(SynthTest, EveryDefectIsReallyThere) {
  testing::TempDir dir;
  SynthSummary s = Write(dir.path(), 40, 3, true, 2);
  auto json = nlohmann::json::parse(*ReadFile(dir / "defects.json"));
  Files images = testing::ReadArchive(dir / "images.tar.gz");
  Files ann = testing::ReadArchive(dir / "annotations.tar.gz");
  std::set<std::string> kinds;
  tjhandle tj = tjInitDecompress();
  for (const auto& d : json["defects"]) {
    std::string file = d["file"], kind = d["defect"];
    std::string id = d["pet_id"].is_null() ? "" : d["pet_id"].get<std::string>();
    kinds.insert(kind);
    SCOPED_TRACE(file + " " + kind);
    Files& arch = file.rfind("images/", 0) == 0 ? images : ann;
    const std::string img =
        images.count("images/" + id + ".jpg") ? images["images/" + id + ".jpg"] : "";
    const std::string tri = ann.count("annotations/trimaps/" + id + ".png")
                                ? ann["annotations/trimaps/" + id + ".png"]
                                : "";
    int w, h, sub, cs;
    if (kind == "png_as_jpg") {
      ASSERT_EQ(arch[file].substr(0, 8), "\x89PNG\r\n\x1a\n");
      EXPECT_EQ(Decode(arch[file], cv::IMREAD_UNCHANGED).channels(), 4);
    } else if (kind == "gif_as_jpg") {
      EXPECT_EQ(arch[file].substr(0, 4), "GIF8");
    } else if (kind == "grayscale_jpeg" || kind == "cmyk_jpeg") {
      ASSERT_EQ(tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(img.data()),
                                    img.size(), &w, &h, &sub, &cs),
                0);
      if (kind == "grayscale_jpeg") {
        EXPECT_EQ(cs, TJCS_GRAY);
      }
      if (kind == "cmyk_jpeg") {
        EXPECT_TRUE(cs == TJCS_CMYK || cs == TJCS_YCCK);
      }
    } else if (kind == "truncated_jpeg" || kind == "extraneous_bytes_jpeg") {
      EXPECT_EQ(img.substr(0, 2), "\xff\xd8");
      ASSERT_EQ(tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(img.data()),
                                    img.size(), &w, &h, &sub, &cs),
                0);
      std::vector<unsigned char> px(static_cast<size_t>(w) * h * 3);
      int rc = tjDecompress2(tj, reinterpret_cast<const unsigned char*>(img.data()), img.size(),
                             px.data(), w, 0, h, TJPF_RGB, 0);
      EXPECT_NE(rc, 0) << "libjpeg must complain";
      EXPECT_EQ(tjGetErrorCode(tj), TJERR_WARNING) << tjGetErrorStr2(tj);
      if (kind == "truncated_jpeg") {
        EXPECT_NE(img.substr(img.size() - 2), "\xff\xd9");
      }
      if (kind == "extraneous_bytes_jpeg") {
        EXPECT_NE(std::string(tjGetErrorStr2(tj)).find("extraneous bytes"), std::string::npos);
      }
    } else if (kind == "mat_file") {
      EXPECT_EQ(arch[file].substr(0, 10), "MATLAB 5.0");
    } else if (kind == "appledouble") {
      EXPECT_EQ(arch[file].substr(0, 4), std::string("\x00\x05\x16\x07", 4));
    } else if (kind == "image_without_trimap") {
      EXPECT_FALSE(img.empty());
      EXPECT_TRUE(tri.empty());
    } else if (kind == "trimap_without_image") {
      EXPECT_TRUE(img.empty());
      EXPECT_FALSE(tri.empty());
    } else if (kind == "trimap_size_mismatch") {
      EXPECT_NE(Decode(img, cv::IMREAD_COLOR).size(), Decode(tri, cv::IMREAD_UNCHANGED).size());
    } else if (kind == "rgba_trimap") {
      EXPECT_EQ(Decode(tri, cv::IMREAD_UNCHANGED).channels(), 4);
    } else if (kind == "trimap_bad_values") {
      cv::Mat t = Decode(tri, cv::IMREAD_UNCHANGED);
      std::set<int> values(t.datastart, t.dataend);
      EXPECT_TRUE(values.count(0) && values.count(7));
    } else if (kind == "missing_from_list" || kind == "malformed_list_line") {
      int comments;
      bool found = false;
      for (const auto& row : Rows(ann["annotations/list.txt"], &comments)) {
        if (row[0] != id) continue;
        found = true;
        EXPECT_EQ(row.size(), 3u);
      }
      EXPECT_EQ(found, kind == "malformed_list_line");
      EXPECT_FALSE(img.empty());
      EXPECT_FALSE(tri.empty());
    } else {
      ADD_FAILURE() << "a defect kind the test does not know";
    }
    ASSERT_TRUE(arch.count(file)) << "the defect's file is in the archive";
  }
  tjDestroy(tj);
  std::set<std::string> want = {"png_as_jpg",
                                "gif_as_jpg",
                                "grayscale_jpeg",
                                "truncated_jpeg",
                                "extraneous_bytes_jpeg",
                                "cmyk_jpeg",
                                "mat_file",
                                "appledouble",
                                "image_without_trimap",
                                "trimap_without_image",
                                "trimap_size_mismatch",
                                "rgba_trimap",
                                "trimap_bad_values",
                                "missing_from_list",
                                "malformed_list_line"};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(s.defects.size(), json["defects"].size());
  for (const char* name : {"Abyssinian_5", "Egyptian_Mau_14", "Egyptian_Mau_186", "Abyssinian_34",
                           "Egyptian_Mau_139", "Egyptian_Mau_191", "beagle_116", "chihuahua_121"}) {
    EXPECT_TRUE(images.count(std::string("images/") + name + ".jpg")) << name;
  }
  EXPECT_TRUE(ann.count("annotations/._trimaps"));

  // A clean run into the same folder removes the stale defect list.
  Write(dir.path(), 10, 3, false, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "defects.json"));
}

TEST(SynthTest, InterruptedRunLeavesNoArchive) {
  testing::TempDir dir;
  RequestInterrupt();
  SynthOptions o;
  o.out_dir = dir.path();
  o.count = 30;
  auto r = WriteSynthDataset(o);
  ClearInterrupt();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInterrupted());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "no archive and no temp file";
}

TEST(SynthTest, BadOptions) {
  testing::TempDir dir;
  SynthOptions o;
  o.out_dir = dir / "x";
  o.count = 0;
  EXPECT_FALSE(WriteSynthDataset(o).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "file", "x").ok());
  o.out_dir = dir / "file";
  o.count = 3;
  auto r = WriteSynthDataset(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir / "file"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace petprep
