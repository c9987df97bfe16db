#include "pipeline/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace petprep {
namespace {

constexpr size_t kBufferSize = 1 << 20;

std::string Errno() { return std::strerror(errno); }

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, std::string temp_path, int fd)
    : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {
  buffer_.reserve(kBufferSize);
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  std::string dir = DirOf(path);
  std::string temp = (dir == "." && path.find('/') == std::string::npos ? "" : dir + "/") + "." +
                     BaseOf(path) + ".tmp-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter.fetch_add(1));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(path + ": cannot create temp file " + temp + ": " + Errno());
  return std::unique_ptr<AtomicFile>(new AtomicFile(path, temp, fd));
}

AtomicFile::~AtomicFile() { Abandon(); }

Status AtomicFile::Flush() {
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(path_ + ": write failed: " + Errno());
    }
    off += static_cast<size_t>(n);
  }
  buffer_.clear();
  return Status::Ok();
}

Status AtomicFile::Append(const void* data, size_t size) {
  if (done_) return Status::Internal(path_ + ": append after commit");
  bytes_ += size;
  if (buffer_.size() + size > kBufferSize) {
    PETPREP_RETURN_IF_ERROR(Flush());
    if (size > kBufferSize) {
      buffer_.assign(static_cast<const char*>(data), size);
      return Flush();
    }
  }
  buffer_.append(static_cast<const char*>(data), size);
  return Status::Ok();
}

Status AtomicFile::Commit() {
  if (done_) return Status::Internal(path_ + ": committed twice");
  Status s = Flush();
  if (s.ok() && ::fsync(fd_) != 0) s = Status::IoError(path_ + ": fsync failed: " + Errno());
  if (s.ok() && ::close(fd_) != 0) s = Status::IoError(path_ + ": close failed: " + Errno());
  fd_ = -1;
  if (s.ok() && std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    s = Status::IoError(path_ + ": rename from " + temp_path_ + " failed: " + Errno());
  }
  if (!s.ok()) {
    Abandon();
    return s;
  }
  done_ = true;
  return SyncDirectory(DirOf(path_));
}

void AtomicFile::Abandon() {
  if (done_) return;
  done_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  auto file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  PETPREP_RETURN_IF_ERROR((*file)->Append(data));
  return (*file)->Commit();
}

Status WriteFileUnsynced(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(path + ": cannot create: " + Errno());
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = Errno();
      ::close(fd);
      return Status::IoError(path + ": write failed: " + err);
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::IoError(path + ": close failed: " + Errno());
  return Status::Ok();
}

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (std::filesystem::is_directory(dir)) return Status::Ok();
  if (std::filesystem::exists(dir)) return Status::IoError(dir + ": exists and is not a folder");
  return Status::IoError(dir + ": cannot create folder: " + ec.message());
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(dir + ": cannot open folder: " + Errno());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0 && errno != EINVAL) return Status::IoError(dir + ": fsync failed: " + Errno());
  return Status::Ok();
}

}  // namespace petprep
