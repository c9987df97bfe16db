#include "tests/fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <sstream>

namespace petprep::testing {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 302:
      return "Found";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool SendAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

FakeResponse ServeBytes(const std::string& data, const FakeRequest& req, bool honor_range) {
  FakeResponse r;
  if (!honor_range || req.range_start < 0) {
    r.body = data;
    return r;
  }
  if (static_cast<size_t>(req.range_start) >= data.size()) {
    r.status = 416;
    r.headers.push_back({"Content-Range", "bytes */" + std::to_string(data.size())});
    return r;
  }
  r.status = 206;
  r.body = data.substr(static_cast<size_t>(req.range_start));
  r.headers.push_back({"Content-Range", "bytes " + std::to_string(req.range_start) + "-" +
                                            std::to_string(data.size() - 1) + "/" +
                                            std::to_string(data.size())});
  return r;
}

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listen_fd_, 16);
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      pollfd p = {listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  });
}

FakeHttpServer::~FakeHttpServer() { Stop(); }

void FakeHttpServer::Stop() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
  ::close(listen_fd_);
}

std::string FakeHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void FakeHttpServer::Serve(int fd) {
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536 && !stop_.load()) {
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  if (head.find("\r\n\r\n") == std::string::npos) {
    ::close(fd);
    return;
  }
  FakeRequest req;
  std::istringstream in(head);
  std::string line;
  std::getline(in, line);
  std::istringstream first(line);
  first >> req.method >> req.path;
  while (std::getline(in, line)) {
    if (strncasecmp(line.c_str(), "Range: bytes=", 13) == 0)
      req.range_start = std::stoll(line.substr(13));
  }
  int index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    index = static_cast<int>(requests_.size());
    requests_.push_back(req);
  }
  FakeResponse r = handler_(req, index);
  int64_t announced =
      r.content_length >= 0 ? r.content_length : static_cast<int64_t>(r.body.size());
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) + "\r\n";
  out += "Content-Length: " + std::to_string(announced) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  bool ok = SendAll(fd, out.data(), out.size());
  size_t limit =
      r.close_after >= 0 ? std::min<size_t>(r.body.size(), r.close_after) : r.body.size();
  for (size_t off = 0; ok && off < limit && !stop_.load(); off += r.chunk) {
    if (r.chunk_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(r.chunk_delay_ms));
    size_t n = std::min(r.chunk, limit - off);
    ok = SendAll(fd, r.body.data() + off, n);
    if (ok) sent_.fetch_add(n);
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace petprep::testing
