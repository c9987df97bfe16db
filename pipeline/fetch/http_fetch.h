// Downloads one URL into a ".part" file with libcurl: resumes with a Range request from the
// part's current size, restarts cleanly when a server ignores Range, retries with backoff on
// timeouts, resets, short bodies and 5xx, and stops within a second on SIGINT / SIGTERM
// keeping what was flushed. Not thread-safe per call; separate calls may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/core/progress.h"
#include "pipeline/core/status.h"

namespace petprep {

struct FetchOptions {
  long connect_timeout_seconds = 15;
  long low_speed_bytes = 1024;  // a transfer slower than this many bytes/s ...
  long low_speed_seconds = 30;  // ... for this long is abandoned (and retried)
  int max_attempts = 5;         // per URL
  std::vector<double> backoff_seconds = {1, 2, 4, 8};  // waits between attempts
  uint64_t max_bytes = 0;  // the file may not grow past this; 0: no limit
  // Receives one line per retry or restart, for people; may be empty.
  std::function<void(const std::string&)> note;
};

struct FetchStats {
  int attempts = 0;
  bool restarted = false;     // a server ignored Range and the part was started over
  uint64_t resumed_from = 0;  // the part's size when the first attempt began
};

// Fetches `url` into `part_path` (appending from its current size). On success the part
// holds the whole body as the server has it; the caller verifies its checksum. Errors:
// kInterrupted (part kept), kNetworkError (retries exhausted or a 4xx: part kept),
// kCorruption (the body grew past max_bytes: the caller should discard the part).
Status FetchUrl(const std::string& url, const std::string& part_path, const FetchOptions& options,
                Progress* progress, FetchStats* stats);

}  // namespace petprep
