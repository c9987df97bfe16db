// Helpers shared by the test programs: temp folders, reading archives, running petprep.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pipeline/core/read_file.h"

namespace petprep {

// A test reads what it made, whole, of any kind (the library names a limit per kind).
inline Result<std::string> ReadFile(const std::string& path) {
  return ReadFile(path, FileLimit{"test file", uint64_t{1} << 34});
}

}  // namespace petprep

namespace petprep::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every regular file of a tar or tar.gz archive: name -> bytes. Fails the test on error.
std::map<std::string, std::string> ReadArchive(const std::string& path);
// Every entry name of an archive, in order (folders included).
std::vector<std::string> ArchiveEntryNames(const std::string& path);

struct CommandResult {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};
// `n` pseudo-random bytes (a linear congruential sequence from `seed`): test payloads.
std::string Payload(size_t n, uint32_t seed = 12345);

// Writes a synthetic dataset of `count` pets under DIR/synth and converts it into
// DIR/data/petset (the download step without a network). Returns DIR/data.
std::string MakePetset(const std::string& dir, int count, uint64_t seed, bool defects);

// MakePetset, then `partition` at size x size into DIR/data/dataset. Returns that folder.
std::string MakeDataset(const std::string& dir, int count, uint64_t seed, int size,
                        int shard_records = 1024, const std::string& codec = "png");

// The petprep binary the tests run: $PETPREP_TEST_BINARY when set, else the build tree's.
const char* PetprepBinary();

// Runs the built petprep binary with `args` (a shell-quoted string).
CommandResult RunPetprep(const std::string& args);

// Starts the built petprep binary with `args` in the background, stdout and stderr to
// /dev/null, and returns its pid (for tests that interrupt or kill it); -1 if fork fails.
pid_t SpawnPetprep(const std::vector<std::string>& args);

}  // namespace petprep::testing
