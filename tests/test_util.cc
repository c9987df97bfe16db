#include "tests/test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/dataset/convert.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/dataset/synth.h"

namespace petprep::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/petprep-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* p = mkdtemp(buf.data());
  EXPECT_NE(p, nullptr);
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

namespace {

template <typename F>
void ForEachEntry(const std::string& path, F f) {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  if (archive_read_open_filename(a, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    ADD_FAILURE() << path << ": " << archive_error_string(a);
    archive_read_free(a);
    return;
  }
  archive_entry* e;
  int rc;
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) f(a, e);
  EXPECT_EQ(rc, ARCHIVE_EOF) << path << ": " << archive_error_string(a);
  archive_read_free(a);
}

}  // namespace

std::map<std::string, std::string> ReadArchive(const std::string& path) {
  std::map<std::string, std::string> out;
  ForEachEntry(path, [&](archive* a, archive_entry* e) {
    if (archive_entry_filetype(e) != AE_IFREG) return;
    std::string data;
    char buf[1 << 16];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, n);
    EXPECT_GE(n, 0) << archive_entry_pathname(e);
    out[archive_entry_pathname(e)] = std::move(data);
  });
  return out;
}

std::vector<std::string> ArchiveEntryNames(const std::string& path) {
  std::vector<std::string> out;
  ForEachEntry(path, [&](archive*, archive_entry* e) { out.push_back(archive_entry_pathname(e)); });
  return out;
}

std::string Payload(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (char& c : s) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return s;
}

std::string MakePetset(const std::string& dir, int count, uint64_t seed, bool defects) {
  SynthOptions s;
  s.out_dir = dir + "/synth";
  s.count = count;
  s.seed = seed;
  s.defects = defects;
  auto synth = WriteSynthDataset(s);
  EXPECT_TRUE(synth.ok()) << synth.status().ToString();
  ConvertOptions c;
  c.data_dir = dir + "/data";
  EXPECT_TRUE(MakeDirs(c.data_dir).ok());
  c.images = {"images.tar.gz", s.out_dir + "/images.tar.gz", synth->images_bytes,
              synth->images_sha256};
  c.annotations = {"annotations.tar.gz", s.out_dir + "/annotations.tar.gz",
                   synth->annotations_bytes, synth->annotations_sha256};
  auto converted = ConvertArchives(c);
  EXPECT_TRUE(converted.ok()) << converted.status().ToString();
  return c.data_dir;
}

std::string MakeDataset(const std::string& dir, int count, uint64_t seed, int size,
                        int shard_records, const std::string& codec) {
  std::string data = MakePetset(dir, count, seed, false);
  PartitionOptions o;
  o.input = data + "/petset";
  o.output = data + "/dataset";
  o.size = size;
  o.shard_records = shard_records;
  o.codec = codec;
  auto r = Partition(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return o.output;
}

// The petprep binary the tests run: PETPREP_TEST_BINARY when set (a packed copy, as
// scripts/gpu-check.sh --run uses), else the build tree's.
const char* PetprepBinary() {
  const char* packed = std::getenv("PETPREP_TEST_BINARY");
  return packed != nullptr && *packed != '\0' ? packed : PETPREP_BINARY;
}

CommandResult RunPetprep(const std::string& args) {
  TempDir dir;
  std::string cmd = std::string(PetprepBinary()) + " " + args + " >" + dir.path() + "/out 2>" +
                    dir.path() + "/err";
  int rc = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  auto out = ReadFile(dir.path() + "/out");
  auto err = ReadFile(dir.path() + "/err");
  r.out = out.ok() ? *out : "";
  r.err = err.ok() ? *err : "";
  return r;
}

pid_t SpawnPetprep(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(PetprepBinary()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execv(PetprepBinary(), argv.data());
    _exit(98);
  }
  return pid;
}

}  // namespace petprep::testing
