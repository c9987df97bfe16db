#include "pipeline/report/report.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "pipeline/core/atomic_file.h"
#include "pipeline/dataset/codec.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string data = testing::MakeDataset(dir_->path() + "/d", 50, 6, 32);
    run_ = dir_->path() + "/run";
    testing::CommandResult r =
        testing::RunPetprep("train -q --data " + data + " --out " + run_ +
                            " --widths 4 8 --batch 4 --steps-per-epoch 6 --epochs 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = testing::RunPetprep("calibrate -q " + run_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = testing::RunPetprep("report " + run_ + " --out " + dir_->path() + "/out/page.html");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    out_ = r.out;
    auto summary = ReadFile(run_ + "/summary.json");
    ASSERT_TRUE(summary.ok());
    weights_ = nlohmann::json::parse(*summary)["weights_sha256"].get<std::string>();
  }
  static void TearDownTestSuite() { delete dir_; }

  static testing::TempDir* dir_;
  static std::string run_, out_, weights_;
};

testing::TempDir* ReportTest::dir_ = nullptr;
std::string ReportTest::run_, ReportTest::out_, ReportTest::weights_;

TEST_F(ReportTest, OnePageThatLoadsNothingFromOutsideWithItsPlotsBeside) {
  auto html = ReadFile(dir_->path() + "/out/page.html");
  ASSERT_TRUE(html.ok());
  ASSERT_EQ(weights_.size(), 64u);
  EXPECT_NE(html->find(weights_), std::string::npos) << "the full weights SHA-256";
  for (const char* part :
       {"<svg", "Training loss per step", "Validation mean IoU per epoch",
        "Reliability on the test split", "Worst test cases by IoU", "data:image/png;base64,",
        "petprep train --data", "petprep calibrate", "IoU border", "compiler"}) {
    EXPECT_NE(html->find(part), std::string::npos) << part;
  }
  for (const char* outside : {"src=\"http", "href=\"http", "@import", "url(http", "<script"}) {
    EXPECT_EQ(html->find(outside), std::string::npos) << outside;
  }
  for (const char* name : {"page-loss.png", "page-validation-iou.png", "page-reliability.png"}) {
    auto png = ReadFile(dir_->path() + "/out/" + name);
    ASSERT_TRUE(png.ok()) << name;
    auto image = DecodePng(*png);
    ASSERT_TRUE(image.ok()) << name;
    std::set<uint32_t> colours;
    for (size_t i = 0; i + 2 < image->data.size(); i += 3) {
      colours.insert(image->data[i] << 16 | image->data[i + 1] << 8 | image->data[i + 2]);
    }
    EXPECT_GT(colours.size(), 10u) << name << " is blank";
  }
  EXPECT_NE(out_.find("report: "), std::string::npos) << out_;
  // Without calibration the page says how to get it, and a missing run is a clear error.
  std::filesystem::remove(run_ + "/calibration.json");
  ASSERT_EQ(testing::RunPetprep("report -q " + run_).exit_code, 0);
  auto plain = ReadFile(run_ + "/report.html");
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->find("Not calibrated"), std::string::npos);
  const testing::CommandResult missing = testing::RunPetprep("report " + dir_->path() + "/nope");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("not a training run"), std::string::npos) << missing.err;
}

// The page in a real browser: Debian's headless chromium renders it to a PNG that is not blank,
// and the rendered page's text holds the weights SHA-256.
TEST_F(ReportTest, RendersInHeadlessChromium) {
  const char* candidates[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
  std::string chromium;
  for (const char* c : candidates) {
    if (std::filesystem::exists(c)) chromium = c;
  }
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (scripts/setup.sh --tests installs it where Debian "
                    "offers it)";
  }
  const std::string page = "file://" + dir_->path() + "/out/page.html";
  const std::string shot = dir_->path() + "/shot.png", dom = dir_->path() + "/dom.html";
  const std::string flags =
      " --headless --disable-gpu --no-sandbox --user-data-dir=" + dir_->path() + "/profile ";
  ASSERT_EQ(std::system((chromium + flags + "--window-size=1200,1600 --screenshot=" + shot + " " +
                         page + " >/dev/null 2>&1")
                            .c_str()),
            0);
  ASSERT_EQ(
      std::system((chromium + flags + "--dump-dom " + page + " >" + dom + " 2>/dev/null").c_str()),
      0);
  auto png = ReadFile(shot);
  ASSERT_TRUE(png.ok()) << "no screenshot";
  auto image = DecodePng(*png);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->width, 1200);
  size_t inked = 0;
  for (size_t i = 0; i + 2 < image->data.size(); i += static_cast<size_t>(image->channels)) {
    if (image->data[i] < 200 || image->data[i + 1] < 200 || image->data[i + 2] < 200) ++inked;
  }
  EXPECT_GT(inked, image->data.size() / image->channels / 50) << "the screenshot is blank";
  auto text = ReadFile(dom);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find(weights_), std::string::npos) << "the rendered page lacks the weights hash";
}

}  // namespace
}  // namespace petprep
