#include "pipeline/fetch/http_fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "petprep/build_info.h"
#include "pipeline/core/interrupt.h"

namespace petprep {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  int fd = -1;
  uint64_t offset = 0;    // bytes already in the part when this attempt began
  uint64_t received = 0;  // body bytes written by this attempt
  uint64_t max_bytes = 0;
  bool first_write = true;
  bool restarted = false;
  bool too_long = false;
  bool bad_range = false;
  Status write_error;
  std::string error_body;
  std::string content_range;
  CURL* curl = nullptr;
  Progress* progress = nullptr;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) t->content_range.clear();  // a new response (redirects)
  if (line.size() > 14 && strncasecmp(line.c_str(), "content-range:", 14) == 0) {
    t->content_range = line.substr(14);
  }
  return size * n;
}

size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 300) {  // an error page: keep its start for the message, write nothing
    if (t->error_body.size() < 300) t->error_body.append(data, std::min<size_t>(bytes, 300));
    return bytes;
  }
  if (t->first_write) {
    t->first_write = false;
    if (t->offset > 0 && code == 200) {
      // The server ignored Range and sends the whole file: start the part over.
      if (ftruncate(t->fd, 0) != 0 || lseek(t->fd, 0, SEEK_SET) != 0) {
        t->write_error =
            Status::IoError(std::string("cannot truncate the part file: ") + std::strerror(errno));
        return 0;
      }
      t->offset = 0;
      t->restarted = true;
    } else if (t->offset > 0) {
      unsigned long long start = 0;
      if (std::sscanf(t->content_range.c_str(), " bytes %llu-", &start) != 1 ||
          start != t->offset) {
        t->bad_range = true;
        return 0;
      }
    }
  }
  if (t->max_bytes > 0 && t->offset + t->received + bytes > t->max_bytes) {
    t->too_long = true;
    return 0;
  }
  size_t done = 0;
  while (done < bytes) {
    ssize_t w = ::write(t->fd, data + done, bytes - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      t->write_error = Status::IoError(std::string("write failed: ") + std::strerror(errno));
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  t->received += bytes;
  return bytes;
}

int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->progress) {
    if (dltotal > 0) t->progress->SetTotal(t->offset + static_cast<uint64_t>(dltotal));
    t->progress->Set(t->offset + static_cast<uint64_t>(dlnow));
  }
  return InterruptRequested() ? 1 : 0;
}

bool Retryable(CURLcode rc) {
  switch (rc) {
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_COULDNT_CONNECT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

// Sleeps in short steps so that an interrupt is seen within 100 ms.
Status Backoff(double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    PETPREP_RETURN_IF_ERROR(CheckInterrupt());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return CheckInterrupt();
}

enum class Outcome { kDone, kRetry, kFail };

Outcome Attempt(const std::string& url, const std::string& part_path, const FetchOptions& o,
                Progress* progress, FetchStats* stats, Status* status) {
  int fd = ::open(part_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *status = Status::IoError(part_path + ": cannot open: " + std::strerror(errno));
    return Outcome::kFail;
  }
  struct stat st;
  fstat(fd, &st);
  Transfer t;
  t.fd = fd;
  t.offset = static_cast<uint64_t>(st.st_size);
  lseek(fd, 0, SEEK_END);
  t.max_bytes = o.max_bytes;
  t.progress = progress;
  if (stats->attempts == 0) stats->resumed_from = t.offset;
  ++stats->attempts;

  CURL* curl = curl_easy_init();
  t.curl = curl;
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::string range = std::to_string(t.offset) + "-";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, o.connect_timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, o.low_speed_bytes);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, o.low_speed_seconds);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "petprep/" PETPREP_VERSION);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  if (t.offset > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  int sync_rc = ::fsync(fd);
  ::close(fd);
  if (t.restarted) {
    stats->restarted = true;
    if (o.note) o.note(url + ": the server ignored the Range request; started the file over");
  }

  std::string what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_ABORTED_BY_CALLBACK && InterruptRequested()) {
    *status =
        Status::Interrupted("interrupted; " + part_path + " keeps " +
                            std::to_string(t.offset + t.received) + " bytes for the next run");
    return Outcome::kFail;
  }
  if (!t.write_error.ok()) {
    *status = t.write_error.WithContext(part_path);
    return Outcome::kFail;
  }
  if (sync_rc != 0) {
    *status = Status::IoError(part_path + ": fsync failed: " + std::strerror(errno));
    return Outcome::kFail;
  }
  if (t.too_long) {
    *status = Status::Corruption(url + ": the body is longer than any expected version (" +
                                 std::to_string(o.max_bytes) + " bytes)");
    return Outcome::kFail;
  }
  if (t.bad_range) {
    *status = Status::NetworkError(url + ": the server answered the Range request from byte " +
                                   std::to_string(t.offset) + " with '" + t.content_range + "'");
    return Outcome::kRetry;
  }
  if (code == 416 && t.offset > 0) return Outcome::kDone;  // the part already holds it all
  if (code >= 400 && code < 500) {
    *status = Status::NetworkError(url + ": HTTP " + std::to_string(code) +
                                   (code == 404 ? " (not found)" : ""));
    return Outcome::kFail;
  }
  if (code >= 500) {
    *status = Status::NetworkError(url + ": HTTP " + std::to_string(code) + " (server error)");
    return Outcome::kRetry;
  }
  if (rc == CURLE_OK && (code == 200 || code == 206)) return Outcome::kDone;
  if (rc == CURLE_OK) {
    *status = Status::NetworkError(url + ": unexpected HTTP " + std::to_string(code));
    return Outcome::kFail;
  }
  *status = Status::NetworkError(
      url + ": " + what +
      (rc == CURLE_PARTIAL_FILE ? " (the body is shorter than announced)" : ""));
  return Retryable(rc) ? Outcome::kRetry : Outcome::kFail;
}

}  // namespace

Status FetchUrl(const std::string& url, const std::string& part_path, const FetchOptions& options,
                Progress* progress, FetchStats* stats) {
  GlobalInit();
  FetchStats local;
  if (stats == nullptr) stats = &local;
  Status status;
  for (int attempt = 1; attempt <= options.max_attempts; ++attempt) {
    status = Status::Ok();
    Outcome out = Attempt(url, part_path, options, progress, stats, &status);
    if (out == Outcome::kDone) return Status::Ok();
    if (out == Outcome::kFail) return status;
    if (attempt == options.max_attempts) break;
    double wait = options.backoff_seconds.empty()
                      ? 0.0
                      : options.backoff_seconds[std::min<size_t>(
                            attempt - 1, options.backoff_seconds.size() - 1)];
    if (options.note) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "; retrying in %g s (attempt %d of %d)", wait, attempt + 1,
                    options.max_attempts);
      options.note(status.message() + buf);
    }
    PETPREP_RETURN_IF_ERROR(Backoff(wait));
  }
  return Status::NetworkError(status.message() + " (gave up after " +
                              std::to_string(options.max_attempts) + " attempts)");
}

}  // namespace petprep
