#include "pipeline/core/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace petprep {
namespace {

std::string Contents(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

TEST(ProgressTest, Formatting) {
  EXPECT_EQ(FormatDuration(7), "0:07");
  EXPECT_EQ(FormatDuration(123), "2:03");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-1), "--:--");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(791918971), "755.2 MiB");
}

struct FakeClock {
  double now = 0;
};

TEST(ProgressTest, PlainLinesEveryFewSecondsWhenNotATerminal) {
  FILE* f = std::tmpfile();
  FakeClock clock;
  ProgressOptions o;
  o.stream = f;
  o.is_tty = 0;
  o.line_seconds = 5;
  o.clock = [&] { return clock.now; };
  {
    Progress p("convert", 10, Progress::Unit::kItems, "pets", o);
    clock.now = 1;
    p.Add(3);
    EXPECT_EQ(Contents(f), "") << "no line before 5 s";
    clock.now = 6;
    p.Add(1);
    std::string text = Contents(f);
    EXPECT_NE(text.find("convert 4/10 (40.0%) pets"), std::string::npos) << text;
    EXPECT_NE(text.find("ETA 0:09"), std::string::npos) << text;
    EXPECT_EQ(text.find('\r'), std::string::npos);
    clock.now = 10;
    p.Add(6);
    p.Finish();
  }
  std::string text = Contents(f);
  EXPECT_NE(text.find("convert 10/10 (100.0%) pets, 1.0 pets/s, 0:10 elapsed"), std::string::npos)
      << text;
  std::fclose(f);
}

TEST(ProgressTest, RedrawnBarOnATerminal) {
  FILE* f = std::tmpfile();
  FakeClock clock;
  ProgressOptions o;
  o.stream = f;
  o.is_tty = 1;
  o.clock = [&] { return clock.now; };
  {
    Progress p("download", 1000, Progress::Unit::kBytes, "", o);
    clock.now = 1;
    p.Add(500);
    std::string text = Contents(f);
    EXPECT_NE(text.find("\rdownload [############............] 500 B/1000 B (50.0%)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("500 B/s, ETA 0:01"), std::string::npos) << text;
  }
  std::fclose(f);
}

TEST(ProgressTest, QuietWritesNothing) {
  FILE* f = std::tmpfile();
  ProgressOptions o;
  o.stream = f;
  o.quiet = true;
  o.is_tty = 0;
  o.line_seconds = 0;
  {
    Progress p("x", 5, Progress::Unit::kItems, "items", o);
    p.Add(5);
  }
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace petprep
