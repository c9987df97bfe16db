#include "pipeline/core/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace petprep {
namespace {

std::string Errno() { return std::strerror(errno); }

const char* TypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string Bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30) && n % (uint64_t{1} << 30) == 0)
    return std::to_string(n >> 30) + " GiB";
  if (n >= (uint64_t{1} << 20) && n % (uint64_t{1} << 20) == 0)
    return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

Status TooLarge(const std::string& path, const FileLimit& limit, const std::string& found) {
  return Status::InvalidArgument(path + ": " + found + ", more than a " + limit.kind +
                                 " may hold (" + Bytes(limit.max_bytes) + ")");
}

}  // namespace

Result<ReadableFile> ReadableFile::Open(const std::string& path, const FileLimit& limit) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer before it can be refused.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": cannot open: " + Errno());
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string err = Errno();
    ::close(fd);
    return Status::IoError(path + ": cannot stat: " + err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": " + TypeName(st.st_mode) +
                                   ", not a regular file (petprep reads a " + limit.kind +
                                   " only from a regular file)");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > limit.max_bytes) {
    ::close(fd);
    return TooLarge(path, limit, std::to_string(size) + " bytes");
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return ReadableFile(path, fd, size, limit);
}

ReadableFile::ReadableFile(ReadableFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      size_(other.size_),
      read_(other.read_),
      limit_(other.limit_) {
  other.fd_ = -1;
}

ReadableFile& ReadableFile::operator=(ReadableFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    size_ = other.size_;
    read_ = other.read_;
    limit_ = other.limit_;
    other.fd_ = -1;
  }
  return *this;
}

ReadableFile::~ReadableFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<size_t> ReadableFile::Read(void* buf, size_t n) {
  for (;;) {
    ssize_t got = ::read(fd_, buf, n);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(path_ + ": read failed: " + Errno());
    }
    read_ += static_cast<uint64_t>(got);
    if (read_ > limit_.max_bytes) return TooLarge(path_, limit_, "it grew while read");
    return static_cast<size_t>(got);
  }
}

Result<std::string> ReadableFile::ReadAll() {
  std::string out;
  out.reserve(static_cast<size_t>(size_));
  char buf[1 << 16];
  for (;;) {
    auto n = Read(buf, sizeof buf);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path, const FileLimit& limit) {
  auto f = ReadableFile::Open(path, limit);
  if (!f.ok()) return f.status();
  return f->ReadAll();
}

}  // namespace petprep
