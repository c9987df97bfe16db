#include "pipeline/fetch/download.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/dataset/synth.h"
#include "tests/fake_http_server.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using testing::Payload;
using testing::ServeBytes;
namespace fs = std::filesystem;

struct Archives {
  std::string images = Payload(200000, 1), annotations = Payload(30000, 2);
  std::string sums() const {
    return Sha256Hex(images) + "  images.tar.gz\n" + Sha256Hex(annotations) +
           "  annotations.tar.gz\n";
  }
  FakeResponse Serve(const FakeRequest& req) const {
    if (req.path.size() >= 14 && req.path.substr(req.path.size() - 14) == "/images.tar.gz") {
      return ServeBytes(images, req);
    }
    if (req.path.find("/annotations.tar.gz") != std::string::npos)
      return ServeBytes(annotations, req);
    FakeResponse r;
    r.status = 404;
    return r;
  }
};

DownloadOptions Options(const testing::TempDir& dir) {
  DownloadOptions o;
  o.out_dir = dir / "data";
  o.checksums_file = dir / "SUMS";
  o.fetch.backoff_seconds = {0.01};
  return o;
}

TEST(DownloadTest, FromAFolderThenAlreadyVerified) {
  testing::TempDir dir;
  Archives a;
  fs::create_directory(dir / "src");
  ASSERT_TRUE(WriteFileAtomic(dir / "src/images.tar.gz", a.images).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "src/annotations.tar.gz", a.annotations).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "SUMS", a.sums()).ok());
  DownloadOptions o = Options(dir);
  o.from_dir = dir / "src";
  auto r = DownloadArchives(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].sha256, Sha256Hex(a.images));
  EXPECT_EQ(*ReadFile(dir / "data/raw/images.tar.gz"), a.images);
  EXPECT_EQ(*ReadFile(dir / "data/raw/annotations.tar.gz"), a.annotations);
  auto again = DownloadArchives(o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].source, "already verified");
  o.force = true;
  auto forced = DownloadArchives(o);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ((*forced)[0].source, dir / "src/images.tar.gz");
}

TEST(DownloadTest, WithoutChecksumsSynthArchivesAreRejectedBeforeCopying) {
  testing::TempDir dir;
  Archives a;
  fs::create_directory(dir / "src");
  ASSERT_TRUE(WriteFileAtomic(dir / "src/images.tar.gz", a.images).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "src/annotations.tar.gz", a.annotations).ok());
  DownloadOptions o = Options(dir);
  o.checksums_file.clear();
  o.from_dir = dir / "src";
  auto r = DownloadArchives(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("images.tar.gz"), std::string::npos);
  EXPECT_NE(r.status().message().find("791,918,971 bytes"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("--checksums"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir / "data/raw"));
}

TEST(DownloadTest, CorruptedByteDiscardsThePartAndNamesTheArchive) {
  testing::TempDir dir;
  Archives a;
  ASSERT_TRUE(WriteFileAtomic(dir / "SUMS", a.sums()).ok());
  std::string bad = a.images;
  bad[1234] ^= 0x40;
  FakeHttpServer server([&](const FakeRequest& req, int) {
    return req.path.find("images") != std::string::npos ? ServeBytes(bad, req) : a.Serve(req);
  });
  DownloadOptions o = Options(dir);
  o.mirrors = {server.url("/m")};
  auto r = DownloadArchives(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("images.tar.gz: no source gave a verified copy"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(Sha256Hex(bad)), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "data/raw/images.tar.gz.part"));
  EXPECT_FALSE(fs::exists(dir / "data/raw/images.tar.gz"));
}

TEST(DownloadTest, SecondMirrorAfterABrokenFirst) {
  testing::TempDir dir;
  Archives a;
  ASSERT_TRUE(WriteFileAtomic(dir / "SUMS", a.sums()).ok());
  FakeHttpServer broken([&](const FakeRequest&, int) {
    FakeResponse r;
    r.status = 503;
    return r;
  });
  FakeHttpServer good([&](const FakeRequest& req, int) { return a.Serve(req); });
  DownloadOptions o = Options(dir);
  o.fetch.max_attempts = 2;
  o.mirrors = {broken.url("/pets/"), good.url("/pets")};
  std::vector<std::string> notes;
  o.fetch.note = [&](const std::string& n) { notes.push_back(n); };
  auto r = DownloadArchives(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].source, good.url("/pets/images.tar.gz"));
  EXPECT_EQ(*ReadFile(dir / "data/raw/images.tar.gz"), a.images);
  EXPECT_EQ(broken.requests().size(), 4u) << "two attempts per archive";
  EXPECT_EQ(broken.requests()[0].path, "/pets/images.tar.gz");
  bool noted = false;
  for (const auto& n : notes) noted |= n.find("trying the next source") != std::string::npos;
  EXPECT_TRUE(noted);
}

// The CLI killed mid-transfer keeps its part; a rerun resumes it with a Range request.
TEST(DownloadTest, InterruptedProcessResumesOnRerun) {
  testing::TempDir dir;
  // Real (synthetic) archives: the rerun goes on to convert them.
  SynthOptions synth;
  synth.out_dir = dir / "synth";
  synth.count = 30;
  ASSERT_TRUE(WriteSynthDataset(synth).ok());
  Archives a;
  a.images = *ReadFile(dir / "synth/images.tar.gz");
  a.annotations = *ReadFile(dir / "synth/annotations.tar.gz");
  ASSERT_GT(a.images.size(), 300000u);
  ASSERT_TRUE(WriteFileAtomic(dir / "SUMS", a.sums()).ok());
  std::atomic<bool> slow{true};
  FakeHttpServer server([&](const FakeRequest& req, int) {
    FakeResponse r = a.Serve(req);
    if (slow.load()) {
      r.chunk = 8192;
      r.chunk_delay_ms = 30;
    }
    return r;
  });
  fs::create_directories(dir / "home");
  fs::create_directories(dir / "tmp");
  fs::create_directories(dir / "cwd");
  std::string out = dir / "data";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("HOME", (dir / "home").c_str(), 1);
    setenv("TMPDIR", (dir / "tmp").c_str(), 1);
    if (chdir((dir / "cwd").c_str()) != 0) _exit(99);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    execl(PETPREP_BINARY, PETPREP_BINARY, "download", "--mirror", server.url("/m").c_str(),
          "--checksums", (dir / "SUMS").c_str(), "--out", out.c_str(), nullptr);
    _exit(98);
  }
  while (server.body_bytes_sent() < 100000)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto start = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_LT(took, 1.5) << "SIGINT must stop the transfer within a second";
  uint64_t kept = fs::file_size(out + "/raw/images.tar.gz.part");
  EXPECT_GT(kept, 0u);
  EXPECT_FALSE(fs::exists(out + "/raw/images.tar.gz"));
  EXPECT_TRUE(fs::is_empty(dir / "home"));
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
  EXPECT_TRUE(fs::is_empty(dir / "cwd"));

  slow.store(false);
  auto r = testing::RunPetprep("-q download --mirror " + server.url("/m") + " --checksums " +
                               (dir / "SUMS") + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*ReadFile(out + "/raw/images.tar.gz"), a.images);
  EXPECT_FALSE(fs::exists(out + "/raw/images.tar.gz.part"));
  bool resumed = false;
  for (const FakeRequest& req : server.requests()) resumed |= req.range_start > 0;
  EXPECT_TRUE(resumed) << "the rerun asked for a Range past byte 0";
  EXPECT_NE(r.out.find(Sha256Hex(a.images)), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out + "/petset/conversion_report.json"));
}

TEST(DownloadTest, BadInputIsNamed) {
  testing::TempDir dir;
  DownloadOptions o = Options(dir);
  o.from_dir = dir / "nowhere";
  ASSERT_TRUE(WriteFileAtomic(dir / "SUMS", Archives().sums()).ok());
  auto r = DownloadArchives(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir / "nowhere"), std::string::npos);
  o.from_dir.clear();
  o.checksums_file = dir / "missing-sums";
  auto s = DownloadArchives(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("missing-sums"), std::string::npos);
  EXPECT_EQ(JoinUrl("http://h/a/", "x"), "http://h/a/x");
  EXPECT_EQ(JoinUrl("http://h/a", "x"), "http://h/a/x");
}

}  // namespace
}  // namespace petprep
