#include "pipeline/core/shell_quote.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

TEST(ShellQuoteTest, PlainWordsStayAsTheyAreEverythingElseIsSingleQuoted) {
  EXPECT_EQ(ShellQuote("runs/a-1_b.c:d=e@f%g+h"), "runs/a-1_b.c:d=e@f%g+h");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("r;id>PWNED"), "'r;id>PWNED'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("Café_1"), "'Café_1'");  // bytes outside ASCII are quoted too
  EXPECT_EQ(ShellCommand({"petprep", "verify", "my data"}), "petprep verify 'my data'");
}

// Each word, pasted into bash, arrives as exactly that one argument and runs nothing.
TEST(ShellQuoteTest, BashGetsBackEveryWordAndRunsNothingElse) {
  testing::TempDir dir;
  const std::vector<std::string> words = {"r;touch PWNED",
                                          "a && touch PWNED",
                                          "a|touch PWNED",
                                          "`touch PWNED`",
                                          "$(touch PWNED)",
                                          "a\ntouch PWNED",
                                          "'",
                                          "''",
                                          "\\",
                                          "$HOME",
                                          "*",
                                          "~",
                                          "-n",
                                          "!!",
                                          "{a,b}",
                                          "a\tb",
                                          ""};
  std::vector<std::string> cmd = {"printf", "%s\\0"};
  cmd.insert(cmd.end(), words.begin(), words.end());
  ASSERT_TRUE(WriteFileAtomic(dir / "cmd.sh", ShellCommand(cmd) + " > out\n").ok());
  ASSERT_EQ(std::system(("cd " + dir.path() + " && bash cmd.sh").c_str()), 0);
  auto out = ReadFile(dir / "out");
  ASSERT_TRUE(out.ok());
  std::string want;
  for (const std::string& w : words) want += w + std::string(1, '\0');
  EXPECT_EQ(*out, want);
  EXPECT_FALSE(std::ifstream(dir / "PWNED").good());
}

}  // namespace
}  // namespace petprep
