#include "pipeline/core/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace petprep {
namespace {

std::mutex g_defaults_mu;
ProgressOptions g_defaults;

double SteadySeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void SetProgressDefaults(const ProgressOptions& options) {
  std::lock_guard<std::mutex> lock(g_defaults_mu);
  g_defaults = options;
}

ProgressOptions ProgressDefaults() {
  std::lock_guard<std::mutex> lock(g_defaults_mu);
  return g_defaults;
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

std::string FormatBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", bytes, kUnits[u]);
  }
  return buf;
}

Progress::Progress(std::string label, uint64_t total, Unit unit, std::string noun,
                   ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      unit_(unit),
      noun_(std::move(noun)),
      options_(std::move(options)) {
  tty_ = options_.is_tty >= 0 ? options_.is_tty != 0
                              : (options_.stream && isatty(fileno(options_.stream)));
  start_ = Now();
  last_draw_ = start_;
}

Progress::~Progress() { Finish(); }

double Progress::Now() const { return options_.clock ? options_.clock() : SteadySeconds(); }

void Progress::Add(uint64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  MaybeDraw(false);
}

void Progress::Set(uint64_t done) {
  done_.store(done, std::memory_order_relaxed);
  MaybeDraw(false);
}

void Progress::SetTotal(uint64_t total) { total_.store(total); }

void Progress::SetNote(const std::string& note) {
  std::lock_guard<std::mutex> lock(mu_);
  note_ = note;
}

void Progress::MaybeDraw(bool force) {
  if (options_.quiet || !options_.stream) return;
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  if (force) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return;
  }
  if (finished_) return;
  double now = Now();
  double period = tty_ ? options_.redraw_seconds : options_.line_seconds;
  if (!force && now - last_draw_ < period) return;
  last_draw_ = now;
  std::string text = Render(now, force);
  if (tty_) {
    std::fprintf(options_.stream, "\r%s\x1b[K%s", text.c_str(), force ? "\n" : "");
  } else {
    std::fprintf(options_.stream, "%s\n", text.c_str());
  }
  std::fflush(options_.stream);
  drew_ = true;
}

void Progress::Finish() {
  MaybeDraw(true);
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
}

std::string Progress::Render(double now, bool final_line) const {
  uint64_t done = done_.load();
  uint64_t total = total_.load();
  double elapsed = now - start_;
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  auto amount = [&](uint64_t v) {
    return unit_ == Unit::kBytes ? FormatBytes(static_cast<double>(v)) : std::to_string(v);
  };
  std::string out = label_ + " ";
  if (tty_ && total > 0 && !final_line) {
    const int kWidth = 24;
    int filled = static_cast<int>(kWidth * std::min<double>(1.0, double(done) / double(total)));
    out += "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
  }
  out += amount(done);
  if (total > 0) {
    char pct[32];
    std::snprintf(pct, sizeof pct, " (%.1f%%)", 100.0 * double(done) / double(total));
    out += "/" + amount(total) + pct;
  }
  if (unit_ == Unit::kItems) out += " " + noun_;
  char rbuf[64];
  if (unit_ == Unit::kBytes) {
    std::snprintf(rbuf, sizeof rbuf, ", %s/s", FormatBytes(rate).c_str());
  } else {
    std::snprintf(rbuf, sizeof rbuf, ", %.1f %s/s", rate, noun_.c_str());
  }
  out += rbuf;
  if (final_line) {
    out += ", " + FormatDuration(elapsed) + " elapsed";
  } else if (total > 0 && rate > 0 && done <= total) {
    out += ", ETA " + FormatDuration(double(total - done) / rate);
  }
  if (!note_.empty()) out += ", " + note_;
  return out;
}

}  // namespace petprep
