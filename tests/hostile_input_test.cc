// petprep against hostile but fair input, end to end through the CLI: a crafted checkpoint, a
// dataset of another size, a FIFO or /dev/zero where a file belongs, every JSON field of a run
// and a dataset mistyped or missing, a run folder whose name is a shell command. Each asserts
// the clean error (a message naming the file, exit 1 or 2, no crash) and, where petprep prints a
// command to paste, that pasting it runs nothing else.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/folder_lock.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/shell_quote.h"
#include "pipeline/dataset/tar_writer.h"
#include "schemas/checkpoint.pb.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using Json = nlohmann::ordered_json;

// What no user may ever see: a crash, an uncaught exception, nlohmann's text.
void ExpectCleanError(const testing::CommandResult& r, const std::string& what) {
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << what << ": exit " << r.exit_code << "\n"
                                                    << r.err;
  for (const char* never : {"json.exception", "internal error", "terminate called", "bad_alloc",
                            "Segmentation", "Aborted"}) {
    EXPECT_EQ(r.err.find(never), std::string::npos) << what << ": " << r.err;
  }
  EXPECT_NE(r.err.find("error: "), std::string::npos) << what << ": " << r.err;
}

class HostileInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    data_ = testing::MakeDataset(dir_->path() + "/d", 40, 3, 32);
    small_ = testing::MakeDataset(dir_->path() + "/s", 20, 5, 16);
    run_ = dir_->path() + "/run";
    testing::CommandResult r =
        testing::RunPetprep("train -q --data " + data_ + " --out " + run_ +
                            " --widths 4 8 --batch 4 --steps-per-epoch 3 --epochs 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = testing::RunPetprep("calibrate -q " + run_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& e : std::filesystem::directory_iterator(data_ + "/../petset")) {
      if (std::filesystem::exists(e.path() / "image.jpg")) {
        picture_ = (e.path() / "image.jpg").string();
        break;
      }
    }
    ASSERT_FALSE(picture_.empty());
  }
  static void TearDownTestSuite() { delete dir_; }

  // A copy of the trained run in a fresh folder of this test's.
  std::string CopyRun(const std::string& name) {
    const std::string to = dir_->path() + "/" + name;
    EXPECT_EQ(std::system(("rm -rf " + ShellQuote(to) + " && cp -r " + ShellQuote(run_) + " " +
                           ShellQuote(to))
                              .c_str()),
              0);
    return to;
  }
  static std::string Checkpoint(const std::string& run) {
    return run + "/checkpoints/step-00000006.ckpt";
  }

  static testing::TempDir* dir_;
  static std::string data_, small_, run_, picture_;
};

testing::TempDir* HostileInputTest::dir_ = nullptr;
std::string HostileInputTest::data_, HostileInputTest::small_, HostileInputTest::run_,
    HostileInputTest::picture_;

// Rewrites a checkpoint's message with `edit` and frames it again with a valid length and
// SHA-256: the file is intact, only its fields lie.
void EditCheckpoint(const std::string& path, const std::function<void(schema::Checkpoint*)>& edit) {
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  schema::Checkpoint c;
  ASSERT_TRUE(c.ParseFromArray(bytes->data() + 16, static_cast<int>(bytes->size() - 48)));
  edit(&c);
  std::string data;
  ASSERT_TRUE(c.SerializeToString(&data));
  std::string file = bytes->substr(0, 8);
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((data.size() >> (8 * i)) & 0xff));
  file += data;
  const Sha256Digest d = Sha256Of(file);
  file.append(reinterpret_cast<const char*>(d.data()), d.size());
  ASSERT_TRUE(WriteFileAtomic(path, file).ok());
}

TEST_F(HostileInputTest, AReportOnADatasetOfAnotherSizeIsRefusedAsEvalRefusesIt) {
  const std::string run = CopyRun("other-size");
  auto config = ReadFile(run + "/config.json");
  ASSERT_TRUE(config.ok());
  Json j = Json::parse(*config);
  j["data"] = small_;
  ASSERT_TRUE(WriteFileAtomic(run + "/config.json", j.dump(2)).ok());
  const std::string want = small_ + ": images are 16 px, the run was trained at 32 px";
  for (const std::string& cmd :
       {"eval " + run, "report " + run + " --out " + run + "/r.html", "calibrate " + run}) {
    const testing::CommandResult r = testing::RunPetprep(cmd);
    ExpectCleanError(r, cmd);
    EXPECT_NE(r.err.find(want), std::string::npos) << cmd << ": " << r.err;
  }
  EXPECT_FALSE(std::ifstream(run + "/r.html").good());
}

TEST_F(HostileInputTest, ACheckpointWhoseFieldsLieIsRefusedBeforeAnythingIsAllocated) {
  struct Case {
    const char* name;
    std::function<void(schema::Checkpoint*)> edit;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"image size 0", [](schema::Checkpoint* c) { c->set_image_size(0); },
       "image size 0 does not fit a 2-level U-Net"},
      {"image size 2^31-1", [](schema::Checkpoint* c) { c->set_image_size(2147483647); },
       "image size 2147483647 does not fit"},
      {"odd image size", [](schema::Checkpoint* c) { c->set_image_size(33); },
       "image size 33 does not fit"},
      {"another image size", [](schema::Checkpoint* c) { c->set_image_size(64); },
       "holds weights for 64 px images"},
      {"a negative dimension",
       [](schema::Checkpoint* c) { c->mutable_params(0)->set_shape(0, -4); },
       "does not fit the model's"},
      {"a huge dimension",
       [](schema::Checkpoint* c) { c->mutable_params(1)->set_shape(1, 1 << 30); },
       "does not fit the model's"},
      {"a BatchNorm buffer of 2^31-1 elements",
       [](schema::Checkpoint* c) { c->mutable_buffers(0)->set_shape(0, 2147483647); },
       "does not fit the model's"},
      {"a buffer of 3 dimensions",
       [](schema::Checkpoint* c) { c->mutable_buffers(1)->mutable_shape()->RemoveLast(); },
       "does not fit the model's"},
  };
  for (const Case& k : cases) {
    const std::string run = CopyRun("ckpt");
    EditCheckpoint(Checkpoint(run), k.edit);
    for (const std::string& cmd :
         {"predict " + run + " --image " + picture_ + " --out " + run + "/pred",
          "report " + run + " --out " + run + "/r.html", "eval " + run,
          "train -q --out " + run + " --resume"}) {
      const testing::CommandResult r = testing::RunPetprep(cmd);
      ExpectCleanError(r, std::string(k.name) + ": " + cmd);
      EXPECT_NE(r.err.find(Checkpoint(run) + ": "), std::string::npos) << cmd << ": " << r.err;
      // A resume compares the image size with its dataset's first, which refuses it as well.
      if (cmd.rfind("train", 0) == 0 &&
          std::string(k.name).find("image size") != std::string::npos) {
        continue;
      }
      EXPECT_NE(r.err.find(k.says), std::string::npos) << k.name << ": " << cmd << ": " << r.err;
    }
  }
}

TEST_F(HostileInputTest, ADeviceOrAFifoWhereAFileBelongsIsRefusedNamingIt) {
  const std::string run = CopyRun("devices");
  ASSERT_EQ(::mkfifo((run + "/fifo").c_str(), 0644), 0);
  struct Case {
    std::string cmd, path;
  };
  std::vector<Case> cases = {
      {"eval " + run + " --checkpoint /dev/zero", "/dev/zero"},
      {"eval " + run + " --checkpoint " + run + "/fifo", run + "/fifo"},
      {"predict " + run + " --image /dev/zero --out " + run + "/pred", "/dev/zero"},
      {"predict " + run + " --image " + run + "/fifo --out " + run + "/pred", run + "/fifo"},
      {"train -q --data " + data_ + " --out " + run + "-new --augment /dev/zero", "/dev/zero"},
  };
  for (const Case& k : cases) {
    const testing::CommandResult r = testing::RunPetprep(k.cmd);
    ExpectCleanError(r, k.cmd);
    EXPECT_NE(r.err.find(k.path + ": "), std::string::npos) << k.cmd << ": " << r.err;
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << k.cmd << ": " << r.err;
  }
  // A run's own files linked to /dev/zero.
  for (const char* file : {"calibration.json", "metrics.jsonl", "summary.json", "config.json"}) {
    const std::string linked = CopyRun(std::string("linked-") + file);
    ASSERT_EQ(std::remove((linked + "/" + file).c_str()), 0);
    ASSERT_EQ(::symlink("/dev/zero", (linked + "/" + file).c_str()), 0);
    const std::string cmd = "report " + linked + " --out " + linked + "/r.html";
    const testing::CommandResult r = testing::RunPetprep(cmd);
    ExpectCleanError(r, cmd);
    EXPECT_NE(r.err.find(linked + "/" + file + ": a character device, not a regular file"),
              std::string::npos)
        << cmd << ": " << r.err;
  }
}

// Headers that declare huge pictures in a few bytes: each is refused from its header, before a
// buffer is allocated for it, by predict, and by partition and download with a small limit.
std::string PngHeader(uint32_t w, uint32_t h) {
  std::string ihdr = "IHDR";
  for (uint32_t v : {w, h}) {
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<char>((v >> s) & 0xff));
  }
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(ihdr.data()), ihdr.size());
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string("\0\0\0\x0d", 4) + ihdr;
  for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<char>((crc >> s) & 0xff));
  return png + std::string(280, '\0');
}

// A GIF of a w x h screen whose one frame declares fw x fh.
std::string GifHeader(uint16_t w, uint16_t h, uint16_t fw = 1, uint16_t fh = 1) {
  auto le16 = [](uint16_t v) {
    return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  };
  return "GIF89a" + le16(w) + le16(h) + std::string("\0\0\0", 3) + "," + le16(0) + le16(0) +
         le16(fw) + le16(fh) + std::string("\0\x02\x02\x44\x01\0;", 7);
}

// A real small JPEG whose frame header is rewritten to declare w x h.
std::string JpegHeader(const std::string& jpeg, uint16_t w, uint16_t h) {
  std::string out = jpeg;
  for (size_t i = 2; i + 9 < out.size(); ++i) {
    if (static_cast<uint8_t>(out[i]) == 0xFF &&
        (static_cast<uint8_t>(out[i + 1]) == 0xC0 || static_cast<uint8_t>(out[i + 1]) == 0xC2)) {
      out[i + 5] = static_cast<char>(h >> 8), out[i + 6] = static_cast<char>(h & 0xff);
      out[i + 7] = static_cast<char>(w >> 8), out[i + 8] = static_cast<char>(w & 0xff);
      return out;
    }
  }
  ADD_FAILURE() << "no frame header";
  return out;
}

TEST_F(HostileInputTest, PictureBombsAreRefusedFromTheirHeaders) {
  testing::TempDir dir;
  auto jpeg = ReadFile(picture_);
  ASSERT_TRUE(jpeg.ok());
  const std::vector<std::pair<std::string, std::string>> bombs = {
      {"bomb20000.png", PngHeader(20000, 20000)},
      {"bomb60000.png", PngHeader(60000, 60000)},
      {"bomb20000.gif", GifHeader(20000, 20000)},
      {"bomb65535.gif", GifHeader(65535, 65535)},
      {"frame-bomb.gif", GifHeader(16, 16, 60000, 60000)},
      {"bomb65500.jpg", JpegHeader(*jpeg, 65500, 65500)},
  };
  for (const auto& [name, bytes] : bombs) {
    ASSERT_TRUE(WriteFileAtomic(dir / name, bytes).ok());
    // Under `ulimit -v`, an allocation of the declared size would fail: the refusal comes first.
    const std::string cmd = "predict " + run_ + " --image " + dir / name + " --out " + dir / "out";
    const testing::CommandResult r = testing::RunPetprep(cmd);
    ExpectCleanError(r, cmd);
    EXPECT_NE(r.err.find(dir / name + ": "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is over the limit of 100.0 megapixels (--max-pixels)"), std::string::npos)
        << name << ": " << r.err;
  }
  // The limit is an option: a real pet picture over a limit of 100 pixels.
  const testing::CommandResult small = testing::RunPetprep(
      "predict " + run_ + " --image " + picture_ + " --out " + dir / "out" + " --max-pixels 100");
  ExpectCleanError(small, "predict --max-pixels 100");
  EXPECT_NE(small.err.find("over the limit of 0.0 megapixels"), std::string::npos) << small.err;
  const std::string petset = data_ + "/../petset";
  const testing::CommandResult part = testing::RunPetprep(
      "partition -q --input " + petset + " --output " + dir / "ds" + " --max-pixels 100");
  ExpectCleanError(part, "partition --max-pixels 100");
  EXPECT_NE(part.err.find("over the limit"), std::string::npos) << part.err;
  const std::string synth = data_ + "/../../synth";
  const testing::CommandResult down =
      testing::RunPetprep("download -q --out " + dir / "data" + " --from " + synth +
                          " --checksums " + synth + "/SHA256SUMS --max-pixels 100");
  ExpectCleanError(down, "download --max-pixels 100");
  EXPECT_NE(down.err.find("over the limit"), std::string::npos) << down.err;
}

// Every value of a run's and a dataset's JSON files, in turn removed and given another type:
// each command that reads the file says which file and which key, and never crashes.
std::vector<std::string> Pointers(const Json& j, const std::string& at, int depth) {
  std::vector<std::string> out;
  if (depth > 4) return out;
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string p = at + "/" + it.key();
      out.push_back(p);
      for (const std::string& q : Pointers(it.value(), p, depth + 1)) out.push_back(q);
    }
  } else if (j.is_array() && !j.empty()) {
    out.push_back(at + "/0");
    for (const std::string& q : Pointers(j[0], at + "/0", depth + 1)) out.push_back(q);
  }
  return out;
}

Json OtherType(const Json& v) {
  if (v.is_string()) return 5;
  if (v.is_object()) return "x";
  if (v.is_array()) return Json{{"a", 1}};
  return "x";
}

TEST_F(HostileInputTest, EveryJsonFieldMistypedOrMissingIsAnErrorNamingTheFile) {
  struct File {
    std::string name;  // in the run folder, or the dataset's manifest
    std::vector<std::string> commands;
  };
  const std::vector<File> files = {
      {"config.json", {"eval RUN", "report RUN --out RUN/r.html", "train -q --out RUN --resume"}},
      {"summary.json", {"report RUN --out RUN/r.html", "diff RUN " + run_}},
      {"calibration.json", {"eval RUN", "report RUN --out RUN/r.html"}},
      {"manifest.json", {"verify RUN/ds", "eval RUN"}},
  };
  int cases = 0;
  for (const File& f : files) {
    const bool manifest = f.name == "manifest.json";
    auto text = ReadFile(manifest ? data_ + "/manifest.json" : run_ + "/" + f.name);
    ASSERT_TRUE(text.ok());
    const Json original = Json::parse(*text);
    for (const std::string& p : Pointers(original, "", 0)) {
      // Counts per class repeat one shape many times over: one of them stands for all.
      if (p.find("/per_class/") != std::string::npos && p.size() > 30) continue;
      // Provenance is shown, never interpreted: its top level stands for its leaves.
      if (p.rfind("/provenance/", 0) == 0 || p.rfind("/tools/", 0) == 0 ||
          p.rfind("/sources/", 0) == 0) {
        continue;
      }
      for (int mode = 0; mode < 2; ++mode) {
        Json edited = original;
        const Json::json_pointer ptr(p);
        if (mode == 0) {
          Json& parent = edited[ptr.parent_pointer()];
          if (parent.is_array()) {
            parent.erase(0);
          } else {
            parent.erase(ptr.back());
          }
        } else {
          edited[ptr] = OtherType(original[ptr]);
        }
        const std::string run = CopyRun("json");
        std::string target = run + "/" + f.name;
        if (manifest) {
          ASSERT_EQ(std::system(("cp -r " + data_ + " " + run + "/ds").c_str()), 0);
          target = run + "/ds/manifest.json";
          auto config = ReadFile(run + "/config.json");
          Json c = Json::parse(*config);
          c["data"] = run + "/ds";
          ASSERT_TRUE(WriteFileAtomic(run + "/config.json", c.dump()).ok());
        }
        ASSERT_TRUE(WriteFileAtomic(target, edited.dump()).ok());
        for (std::string cmd : f.commands) {
          for (size_t at; (at = cmd.find("RUN")) != std::string::npos;) cmd.replace(at, 3, run);
          const testing::CommandResult r = testing::RunPetprep(cmd);
          ++cases;
          const std::string what =
              f.name + " " + p + (mode == 0 ? " removed: " : " retyped: ") + cmd;
          if (r.exit_code == 0) continue;  // a field this command does not need
          if (cmd.rfind("diff", 0) == 0 && r.exit_code == 1 && r.err.empty()) continue;
          if (cmd.rfind("verify", 0) == 0 && r.exit_code == 1 &&
              r.err.find("difference") != std::string::npos) {
            continue;  // verify lists the difference it found
          }
          ExpectCleanError(r, what);
        }
      }
    }
  }
  EXPECT_GT(cases, 200);
}

// The report's Reproduce block, pasted into bash with petprep, printf and cat stubbed, runs
// nothing but petprep, each path arriving as one argument.
TEST_F(HostileInputTest, PastingTheReportsCommandsRunsOnlyThem) {
  for (const std::string name : {"r;id>PWNED", "r && touch PWNED", "r|touch PWNED",
                                 "r`touch PWNED`", "r$(touch PWNED)", "r\ntouch PWNED", "r'q'"}) {
    const std::string run = dir_->path() + "/" + name;
    ASSERT_EQ(std::system(("rm -rf " + ShellQuote(run) + " && cp -r " + ShellQuote(run_) + " " +
                           ShellQuote(run))
                              .c_str()),
              0);
    const testing::CommandResult r = testing::RunPetprep(
        "report -q " + ShellQuote(run) + " --out " + ShellQuote(dir_->path() + "/page.html"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto page = ReadFile(dir_->path() + "/page.html");
    ASSERT_TRUE(page.ok());
    const size_t start = page->find("<h2>Reproduce</h2>\n<pre>");
    ASSERT_NE(start, std::string::npos);
    const size_t from = start + 24, end = page->find("</pre>", from);
    std::string commands = page->substr(from, end - from);
    for (const auto& [entity, c] : std::vector<std::pair<std::string, std::string>>{
             {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}) {
      for (size_t at; (at = commands.find(entity)) != std::string::npos;)
        commands.replace(at, entity.size(), c);
    }
    testing::TempDir sandbox;
    const std::string stub = sandbox / "bin";
    ASSERT_EQ(::mkdir(stub.c_str(), 0755), 0);
    ASSERT_TRUE(WriteFileAtomic(stub + "/petprep",
                                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done >> " +
                                    ShellQuote(sandbox / "args") + "\n")
                    .ok());
    ASSERT_EQ(::chmod((stub + "/petprep").c_str(), 0755), 0);
    ASSERT_TRUE(WriteFileAtomic(sandbox / "commands.sh", commands).ok());
    const std::string bash = "cd " + ShellQuote(sandbox.path()) + " && PATH=" + ShellQuote(stub) +
                             ":/usr/bin:/bin bash commands.sh >/dev/null 2>&1";
    ASSERT_EQ(std::system(bash.c_str()), 0) << commands;
    EXPECT_FALSE(std::ifstream(sandbox / "PWNED").good()) << name << ":\n" << commands;
    auto args = ReadFile(sandbox / "args");
    ASSERT_TRUE(args.ok());
    EXPECT_NE(args->find(std::string("\0", 1) + run + std::string("\0", 1)), std::string::npos)
        << name << ": the run folder did not arrive as one argument";
  }
}

// Every regular file under `dir` with its bytes' SHA-256: what "unchanged" means.
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::end(it); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    auto bytes = ReadFile(it->path().string());
    out[std::filesystem::relative(it->path(), dir).string()] = bytes.ok() ? Sha256Hex(*bytes) : "?";
  }
  return out;
}

TEST_F(HostileInputTest, ForceReplacesOnlyADatasetPetprepWroteAndNeverAnInput) {
  testing::TempDir dir;
  const std::string petset = data_ + "/../petset";
  const auto petset_before = Tree(petset);
  ASSERT_GT(petset_before.size(), 40u);
  ASSERT_EQ(::mkdir((dir / "mine").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(dir / "mine/notes.txt", "a user's own").ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "plain", "a plain file").ok());
  ASSERT_EQ(::mkdir((dir / "out.partial").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(dir / "out.partial/keep.txt", "a user's own partial").ok());
  struct Case {
    std::string output, says;
  };
  const std::vector<Case> cases = {
      {petset, "is inside --input"},
      {data_ + "/..", "holds --input"},
      {petset + "/sub", "is inside --input"},
      {dir / "mine", "not a dataset petprep wrote"},
      {dir / "plain", "not a dataset petprep wrote"},
      {dir / "out", "out.partial: exists and petprep did not make it"},
      {data_ + "/train/inner", "is inside the dataset"},
  };
  const auto dataset_before = Tree(data_);
  for (const Case& k : cases) {
    const std::string cmd =
        "partition -q --input " + petset + " --output " + k.output + " --size 32 --force";
    const testing::CommandResult r = testing::RunPetprep(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.err;
    ExpectCleanError(r, cmd);
    EXPECT_NE(r.err.find(k.says), std::string::npos) << cmd << ": " << r.err;
  }
  EXPECT_EQ(Tree(petset), petset_before);
  EXPECT_EQ(Tree(data_), dataset_before);
  EXPECT_EQ(*ReadFile(dir / "mine/notes.txt"), "a user's own");
  EXPECT_EQ(*ReadFile(dir / "plain"), "a plain file");
  EXPECT_EQ(*ReadFile(dir / "out.partial/keep.txt"), "a user's own partial");
  // A dataset petprep wrote is replaced, byte for byte the same, and no mark is left in it.
  const std::string again = dir / "again";
  ASSERT_EQ(
      testing::RunPetprep("partition -q --input " + petset + " --output " + again + " --size 32")
          .exit_code,
      0);
  const testing::CommandResult forced = testing::RunPetprep(
      "partition -q --input " + petset + " --output " + again + " --size 32 --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(Tree(again), dataset_before);
}

TEST_F(HostileInputTest, ANewRunNeedsAnEmptyFolderAndNoOutputLandsInsideADataset) {
  testing::TempDir dir;
  ASSERT_EQ(::mkdir((dir / "mine").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(dir / "mine/summary.json", "{\"mine\": 1}").ok());
  const std::string args = " --widths 4 8 --batch 4 --steps-per-epoch 1 --epochs 1";
  testing::CommandResult r =
      testing::RunPetprep("train -q --data " + data_ + " --out " + dir / "mine" + args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("not empty and not a petprep run (it holds summary.json)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Tree(dir / "mine").size(), 1u) << "petprep left a file in a folder not its own";
  // A refused command leaves no folder it made: a resume of nothing, a new run on no dataset.
  r = testing::RunPetprep("train -q --out " + dir / "typo" + " --resume");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("nothing to resume"), std::string::npos) << r.err;
  r = testing::RunPetprep("train -q --data " + dir / "no-dataset" + " --out " + dir / "new" + args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "typo"));
  EXPECT_FALSE(std::filesystem::exists(dir / "new"));
  const auto dataset_before = Tree(data_);
  for (const std::string& cmd :
       {"train -q --data " + data_ + " --out " + data_ + "/run" + args,
        "predict " + run_ + " --image " + picture_ + " --out " + data_ + "/train/pred"}) {
    r = testing::RunPetprep(cmd);
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("is inside the dataset"), std::string::npos) << cmd << ": " << r.err;
  }
  EXPECT_EQ(Tree(data_), dataset_before);
  EXPECT_EQ(testing::RunPetprep("verify " + data_).exit_code, 0);
}

TEST_F(HostileInputTest, ASecondWriterIsRefusedWhileTheFirstHoldsTheFolder) {
  const std::string run = CopyRun("locked");
  {
    auto held = FolderLock::Acquire(run, run + "/.petprep.lock");
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    const testing::CommandResult r = testing::RunPetprep("train -q --out " + run + " --resume");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(run + " is in use by another petprep (pid " + std::to_string(getpid())),
              std::string::npos)
        << r.err;
  }
  testing::TempDir dir;
  const std::string out = dir / "ds";
  {
    auto held = FolderLock::Acquire(out, out + ".lock");
    ASSERT_TRUE(held.ok());
    const testing::CommandResult r =
        testing::RunPetprep("partition -q --input " + data_ + "/../petset --output " + out);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(out + " is in use by another petprep (pid "), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  EXPECT_EQ(testing::RunPetprep("partition -q --input " + data_ + "/../petset --output " + out +
                                " --size 32")
                .exit_code,
            0);
}

// Two trainings into one new folder, started together: one trains, the other is refused (in
// use, or the folder already holds a run), and metrics.jsonl holds one run's lines.
TEST_F(HostileInputTest, TwoTrainingsStartedTogetherDoNotShareAFolder) {
  testing::TempDir dir;
  const std::string out = dir / "run";
  std::vector<pid_t> pids;
  for (const char* seed : {"1", "2"}) {
    pids.push_back(testing::SpawnPetprep({"train", "-q", "--data", data_, "--out", out, "--widths",
                                          "4", "8", "--batch", "4", "--steps-per-epoch", "10",
                                          "--epochs", "2", "--seed", seed}));
  }
  int ok = 0, refused = 0;
  for (pid_t pid : pids) {
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) ++ok;
    if (WEXITSTATUS(status) == 1) ++refused;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(refused, 1);
  auto metrics = ReadFile(out + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok());
  std::set<std::string> seen;
  size_t lines = 0;
  for (size_t at = 0; (at = metrics->find("\"step\":", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 20u + 2u) << *metrics;  // 20 steps, 2 validations
}

TEST_F(HostileInputTest, AResumeRemovesTheTemporaryFilesOfAProcessThatIsGone) {
  const std::string run = CopyRun("stale");
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);  // `child` is a pid whose process is gone
  const std::string dead = std::to_string(child);
  const std::string stale = run + "/checkpoints/.step-00000007.ckpt.tmp-" + dead + "-0";
  const std::string live = run + "/checkpoints/.step-00000008.ckpt.tmp-1-0";  // init: running
  ASSERT_TRUE(WriteFileAtomic(stale, "half a checkpoint").ok());
  ASSERT_TRUE(WriteFileAtomic(live, "another's").ok());
  const testing::CommandResult r = testing::RunPetprep("train --out " + run + " --resume");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(live));
}

TEST_F(HostileInputTest, APetIdThatWouldBreakItsFilesIsRefusedAtConvertNamingTheEntry) {
  const std::string synth = data_ + "/../../synth";
  const auto images = testing::ReadArchive(synth + "/images.tar.gz");
  for (const std::string bad : {"bad\nid_1", "bad,id_1", "bad\"id_1", "bad\\id_1", "bad\x7fid_1"}) {
    testing::TempDir dir;
    ASSERT_EQ(std::system(("cp " + synth + "/annotations.tar.gz " + dir.path()).c_str()), 0);
    auto w = TarWriter::Create(dir / "images.tar.gz", TarWriter::Compression::kGzip);
    ASSERT_TRUE(w.ok());
    for (const auto& [name, bytes] : images) ASSERT_TRUE((*w)->AddFile(name, bytes).ok());
    ASSERT_TRUE((*w)->AddFile("images/" + bad + ".jpg", images.begin()->second).ok());
    ASSERT_TRUE((*w)->Finish().ok());
    const std::string sums = "SHA256SUMS";
    ASSERT_EQ(std::system(
                  ("cd " + dir.path() + " && sha256sum images.tar.gz annotations.tar.gz > " + sums)
                      .c_str()),
              0);
    const testing::CommandResult r =
        testing::RunPetprep("download -q --out " + dir / "data" + " --from " + dir.path() +
                            " --checksums " + dir / sums);
    ExpectCleanError(r, bad);
    EXPECT_NE(r.err.find("refused entry 'images/bad"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("the pet id holds U+00"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "data/petset"));
  }
}

}  // namespace
}  // namespace petprep
