// The CLI as a user meets it: the binary run with arguments, exit codes and messages.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

using testing::RunPetprep;

const char* const kCommands[] = {"download", "partition", "verify", "batches",
                                 "env",      "synth",     "help"};

TEST(PetprepCliTest, HelpListsEveryCommand) {
  auto r = RunPetprep("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* c : kCommands)
    EXPECT_NE(r.out.find(std::string("  ") + c + " "), std::string::npos) << c;
  auto none = RunPetprep("");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("usage: petprep"), std::string::npos);
}

TEST(PetprepCliTest, UnknownCommandSuggests) {
  auto r = RunPetprep("synt --out x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'synt'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'synth'?"), std::string::npos) << r.err;
  auto far = RunPetprep("frobnicate");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
  EXPECT_NE(far.err.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST(PetprepCliTest, EachCommandExplainsItself) {
  for (const char* c : {"download", "partition", "verify", "batches", "preview", "env", "synth"}) {
    auto a = RunPetprep(std::string(c) + " --help");
    EXPECT_EQ(a.exit_code, 0) << c;
    EXPECT_NE(a.out.find("Example:"), std::string::npos) << c << ": " << a.out;
    EXPECT_NE(a.out.find("--quiet"), std::string::npos) << c;
    auto b = RunPetprep(std::string("help ") + c);
    EXPECT_EQ(b.exit_code, 0);
    EXPECT_EQ(a.out, b.out) << "petprep help " << c << " is petprep " << c << " --help";
    auto d = RunPetprep(std::string("--help ") + c);
    EXPECT_EQ(d.exit_code, 0);
    EXPECT_EQ(a.out, d.out);
  }
  EXPECT_EQ(RunPetprep("help nosuch").exit_code, 2);
}

TEST(PetprepCliTest, UsageErrorsExitTwo) {
  auto r = RunPetprep("synth --count 5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--out"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("petprep synth --help"), std::string::npos) << r.err;
  EXPECT_EQ(RunPetprep("synth --out /tmp/x --count -3").exit_code, 2);
  EXPECT_EQ(RunPetprep("env --bogus").exit_code, 2);
  EXPECT_EQ(RunPetprep("--bogus env").exit_code, 2);
}

TEST(PetprepCliTest, EnvPrintsTheCudaLineAndJson) {
  auto r = RunPetprep("env");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\nCUDA: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("libarchive"), std::string::npos);
  auto j = RunPetprep("--quiet env --json");
  ASSERT_EQ(j.exit_code, 0);
  auto parsed = nlohmann::json::parse(j.out);
  EXPECT_TRUE(parsed["cuda"].contains("status"));
  EXPECT_TRUE(parsed["libraries"].contains("OpenCV"));
}

TEST(PetprepCliTest, SynthWritesAndReportsOnStdout) {
  testing::TempDir dir;
  auto r = RunPetprep("synth --out " + dir.path() + "/s --count 12 --seed 4 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "--quiet after the command silences progress";
  EXPECT_NE(r.out.find("  images.tar.gz"), std::string::npos) << r.out;
  auto sums = ReadFile(dir.path() + "/s/SHA256SUMS");
  ASSERT_TRUE(sums.ok());
  EXPECT_EQ(r.out.substr(0, 64), sums->substr(0, 64));
  auto loud = RunPetprep("synth --out " + dir.path() + "/t --count 12 --seed 4");
  ASSERT_EQ(loud.exit_code, 0);
  EXPECT_NE(loud.err.find("synth 12/12"), std::string::npos) << loud.err;
  EXPECT_EQ(*ReadFile(dir.path() + "/t/SHA256SUMS"), *sums);
}

TEST(PetprepCliTest, UnwritableOutputIsAClearError) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "plainfile", "x").ok());
  auto r = RunPetprep("-q synth --out " + dir.path() + "/plainfile/sub --count 3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("plainfile/sub"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("petprep synth: error:"), std::string::npos) << r.err;
}

TEST(PetprepCliTest, BatchesAreTheSameForAnyThreadsAndResume) {
  testing::TempDir dir;
  std::string data = testing::MakePetset(dir.path(), 30, 3, false);
  auto part = RunPetprep("-q partition --input " + data + "/petset --output " + data +
                         "/dataset --size 32");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  std::string base = "-q batches --data " + data + "/dataset --batch 4 --epochs 2 --seed 5";
  auto one = RunPetprep(base + " --threads 1");
  auto two = RunPetprep(base + " --threads 2");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, two.out);
  EXPECT_NE(one.out.rfind("batches fingerprint: "), std::string::npos);
  // --start-step 3: exactly the lines with step >= 3.
  auto resumed = RunPetprep(base + " --start-step 3");
  ASSERT_EQ(resumed.exit_code, 0);
  std::string lines = one.out.substr(0, one.out.rfind("batches fingerprint"));
  size_t third = 0;
  for (int i = 0; i < 3; ++i) third = lines.find('\n', third) + 1;
  EXPECT_EQ(resumed.out.substr(0, resumed.out.rfind("batches fingerprint")), lines.substr(third));
  EXPECT_EQ(resumed.out.substr(0, 2), "0 ");
  auto cuda = RunPetprep(base + " --device cuda");
  if (cuda.exit_code != 0) {
    EXPECT_EQ(cuda.exit_code, 1);
    EXPECT_NE(cuda.err.find("no CUDA device"), std::string::npos) << cuda.err;
  } else {
    EXPECT_EQ(cuda.out, one.out) << "the GPU augments to the same bytes";
  }
  ASSERT_TRUE(WriteFileAtomic(dir / "spec.json", R"({"flip_p": 2})").ok());
  auto bad = RunPetprep(base + " --augment " + (dir / "spec.json"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("flip_p"), std::string::npos) << bad.err;
  auto drop = RunPetprep("-q batches --data " + data + "/dataset --batch 500 --drop-last");
  EXPECT_NE(drop.exit_code, 0);
  EXPECT_NE(drop.err.find("no batch would be produced"), std::string::npos) << drop.err;
}

}  // namespace
}  // namespace petprep
