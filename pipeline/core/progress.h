// A progress reporter for long work: a redrawn bar on a terminal, a line every few seconds
// otherwise, nothing under --quiet. Always writes to stderr (stdout carries results only).
//
// Thread-safe: Add() may be called from any thread; drawing is throttled and never blocks
// a caller that finds another thread drawing.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

namespace petprep {

struct ProgressOptions {
  bool quiet = false;
  FILE* stream = stderr;
  int is_tty = -1;                // -1: ask isatty() of the stream
  double redraw_seconds = 0.1;    // terminal redraw period
  double line_seconds = 5.0;      // period of plain lines when not a terminal
  std::function<double()> clock;  // seconds; steady clock when empty
};

// Process-wide defaults that tools/ sets from --quiet before any work starts.
void SetProgressDefaults(const ProgressOptions& options);
ProgressOptions ProgressDefaults();

// "0:07", "2:03", "1:02:03"; "--:--" for a negative or non-finite value.
std::string FormatDuration(double seconds);
// "512 B", "1.5 KiB", "791.9 MiB", "1.2 GiB".
std::string FormatBytes(double bytes);

class Progress {
 public:
  enum class Unit { kItems, kBytes };

  // total 0 means unknown (no bar, no ETA). `noun` names the items ("pets", "files").
  Progress(std::string label, uint64_t total, Unit unit = Unit::kItems, std::string noun = "items",
           ProgressOptions options = ProgressDefaults());
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(uint64_t n = 1);
  void Set(uint64_t done);
  void SetTotal(uint64_t total);
  // Extra text shown after the counters (e.g. "loss 0.41").
  void SetNote(const std::string& note);
  // Draws the final state once ("done in ..."). Idempotent; the destructor calls it.
  void Finish();

  uint64_t done() const { return done_.load(); }

 private:
  double Now() const;
  void MaybeDraw(bool force);
  std::string Render(double now, bool final_line) const;

  std::string label_;
  std::atomic<uint64_t> total_;
  Unit unit_;
  std::string noun_;
  ProgressOptions options_;
  bool tty_;
  std::atomic<uint64_t> done_{0};
  double start_;
  double last_draw_;
  bool finished_ = false;
  bool drew_ = false;
  std::string note_;
  mutable std::mutex mu_;
};

}  // namespace petprep
