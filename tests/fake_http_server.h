// A small HTTP/1.1 server on 127.0.0.1 (ephemeral port) for tests, with fault modes: close
// halfway, announce more bytes than it sends, trickle slowly, ignore Range, redirect, fail.
// One thread accepts; each connection is answered once and closed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace petprep::testing {

struct FakeRequest {
  std::string method, path;
  int64_t range_start = -1;  // from "Range: bytes=N-", else -1
};

struct FakeResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t content_length = -1;  // announced length; -1: body.size()
  int64_t close_after = -1;     // send only this many body bytes, then close; -1: all
  int chunk_delay_ms = 0;       // pause before each chunk
  size_t chunk = 16384;
};

// Serves `data` at `req`, honouring "Range: bytes=N-" (206, or 416 past the end) when asked.
FakeResponse ServeBytes(const std::string& data, const FakeRequest& req, bool honor_range = true);

class FakeHttpServer {
 public:
  // `handler` gets each request and its 0-based index among all requests so far.
  using Handler = std::function<FakeResponse(const FakeRequest&, int index)>;
  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();

  std::string url(const std::string& path = "") const;
  std::vector<FakeRequest> requests() const;
  uint64_t body_bytes_sent() const { return sent_.load(); }
  void Stop();

 private:
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<FakeRequest> requests_;
  std::vector<std::thread> workers_;
};

}  // namespace petprep::testing
