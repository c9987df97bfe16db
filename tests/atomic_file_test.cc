#include "pipeline/core/atomic_file.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/test_util.h"

namespace petprep {
namespace {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  return out;
}

TEST(AtomicFileTest, CommitWritesTheWholeFile) {
  testing::TempDir dir;
  std::string big(3 << 20, 'b');  // larger than the internal buffer
  auto f = AtomicFile::Create(dir / "out.bin");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("head").ok());
  ASSERT_TRUE((*f)->Append(big).ok());
  ASSERT_TRUE((*f)->Append("tail").ok());
  EXPECT_FALSE(ReadFile(dir / "out.bin").ok()) << "nothing under the final name before Commit";
  ASSERT_TRUE((*f)->Commit().ok());
  EXPECT_EQ(*ReadFile(dir / "out.bin"), "head" + big + "tail");
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, AbandonKeepsTheOldFile) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "t", "old").ok());
  {
    auto f = AtomicFile::Create(dir / "t");
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("new and partial").ok());
    // Destroyed without Commit(): an error path.
  }
  EXPECT_EQ(*ReadFile(dir / "t"), "old");
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"t"});
}

// A process that dies before the rename: the old target is intact and no partial data
// is visible under the final name.
TEST(AtomicFileTest, CrashBeforeRenameLeavesOldTarget) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "t", "old").ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto f = AtomicFile::Create(dir / "t");
    if (!f.ok()) _exit(3);
    std::string big(5 << 20, 'n');
    if (!(*f)->Append(big).ok()) _exit(4);
    _exit(9);  // no destructor, no Commit: a crash
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 9);
  EXPECT_EQ(*ReadFile(dir / "t"), "old");
  std::vector<std::string> names = ListDir(dir.path());
  ASSERT_EQ(names.size(), 2u);
  for (const std::string& n : names) {
    if (n != "t") {
      EXPECT_EQ(n.rfind(".t.tmp-", 0), 0u) << n;
    }
  }
}

TEST(AtomicFileTest, ErrorsNameThePath) {
  testing::TempDir dir;
  auto f = AtomicFile::Create(dir / "no/such/folder/x");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("no/such/folder/x"), std::string::npos);
  auto r = ReadFile(dir / "missing");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

TEST(AtomicFileTest, CommitTwiceIsAnError) {
  testing::TempDir dir;
  auto f = AtomicFile::Create(dir / "x");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Commit().ok());
  EXPECT_FALSE((*f)->Commit().ok());
  EXPECT_FALSE((*f)->Append("y").ok());
  EXPECT_EQ(*ReadFile(dir / "x"), "");
}

}  // namespace
}  // namespace petprep

namespace petprep {
namespace {

TEST(AtomicFileTest, MakeDirsCreatesParentsAndRefusesFiles) {
  testing::TempDir dir;
  ASSERT_TRUE(MakeDirs(dir / "a/b/c").ok());
  EXPECT_TRUE(MakeDirs(dir / "a/b/c").ok()) << "an existing folder is fine";
  ASSERT_TRUE(WriteFileAtomic(dir / "a/file", "x").ok());
  Status s = MakeDirs(dir / "a/file");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("a/file"), std::string::npos);
  EXPECT_FALSE(MakeDirs(dir / "a/file/sub").ok());
}

}  // namespace
}  // namespace petprep
