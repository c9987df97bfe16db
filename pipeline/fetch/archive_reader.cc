#include "pipeline/fetch/archive_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace petprep {

namespace {

// The format of an opened archive from its first 512 bytes; leaves `f` at offset 0.
Result<std::string> FormatOf(ReadableFile* f) {
  unsigned char head[512];
  size_t n = 0;
  while (n < sizeof head) {
    auto got = f->Read(head + n, sizeof head - n);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    n += *got;
  }
  if (::lseek(f->fd(), 0, SEEK_SET) != 0) {
    return Status::IoError(f->path() + ": cannot seek: " + std::strerror(errno));
  }
  const std::string& path = f->path();
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return std::string("gzip");
  if (n == 512 && std::memcmp(head + 257, "ustar", 5) == 0) return std::string("tar");
  return Status::Corruption(
      path + ": neither a gzip stream nor a tar archive (magic bytes " +
      (n >= 2 ? std::to_string(head[0]) + " " + std::to_string(head[1]) : std::string("missing")) +
      ")");
}

}  // namespace

Result<std::string> DetectArchiveFormat(const std::string& path) {
  auto f = ReadableFile::Open(path, kArchiveFileLimit);
  if (!f.ok()) return f.status();
  return FormatOf(&*f);
}

Result<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& path,
                                                           const ExtractLimits& limits) {
  auto file = ReadableFile::Open(path, kArchiveFileLimit);
  if (!file.ok()) return file.status();
  auto format = FormatOf(&*file);
  if (!format.ok()) return format.status();
  std::unique_ptr<ArchiveReader> r(new ArchiveReader());
  r->file_ = std::make_unique<ReadableFile>(std::move(*file));
  r->path_ = path;
  r->limits_ = limits;
  r->gzip_ = *format == "gzip";
  r->a_ = archive_read_new();
  if (r->gzip_) archive_read_support_filter_gzip(r->a_);
  archive_read_support_format_tar(r->a_);
  if (archive_read_open_fd(r->a_, r->file_->fd(), 1 << 20) != ARCHIVE_OK) {
    return Status::Corruption(path + ": cannot read: " + archive_error_string(r->a_));
  }
  return r;
}

ArchiveReader::~ArchiveReader() {
  if (a_) archive_read_free(a_);
}

Status ArchiveReader::Fail(const std::string& entry, const std::string& why) const {
  return Status::Corruption(path_ + ": refused entry '" + entry + "': " + why);
}

Result<bool> ArchiveReader::Next(ArchiveEntry* out) {
  archive_entry* e = nullptr;
  int rc = archive_read_next_header(a_, &e);
  if (rc == ARCHIVE_EOF) return false;
  if (rc < ARCHIVE_WARN) {
    return Status::Corruption(path_ + ": damaged or truncated archive: " +
                              (archive_error_string(a_) ? archive_error_string(a_) : "unknown"));
  }
  const char* raw = archive_entry_pathname(e);
  std::string name = raw ? raw : "";
  if (name.empty()) return Fail(name, "empty name");
  if (name[0] == '/') return Fail(name, "absolute path");
  if (name.size() > PATH_MAX - 1) return Fail(name.substr(0, 80) + "...", "path too long");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string part =
        name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") return Fail(name, "'..' component");
    if (part.size() > NAME_MAX) return Fail(name.substr(0, 80) + "...", "name over the OS limit");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  while (name.rfind("./", 0) == 0) name = name.substr(2);
  if (archive_entry_hardlink(e) != nullptr) return Fail(name, "hardlink");
  unsigned type = archive_entry_filetype(e);
  switch (type) {
    case AE_IFREG:
    case AE_IFDIR:
      break;
    case AE_IFLNK:
      return Fail(name, "symbolic link");
    case AE_IFIFO:
      return Fail(name, "FIFO");
    case AE_IFCHR:
    case AE_IFBLK:
      return Fail(name, "device");
    default:
      return Fail(name, "not a regular file or folder");
  }
  out->path = name;
  out->is_dir = type == AE_IFDIR;
  out->data.clear();
  if (out->is_dir) return true;
  int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
  if (declared < 0 || static_cast<uint64_t>(declared) > limits_.max_entry_bytes) {
    return Fail(name, std::to_string(declared) + " bytes, over --max-entry-bytes " +
                          std::to_string(limits_.max_entry_bytes));
  }
  if (total_ + static_cast<uint64_t>(declared) > limits_.max_total_bytes) {
    return Fail(name, "the archive would exceed --max-extract-bytes " +
                          std::to_string(limits_.max_total_bytes));
  }
  out->data.reserve(static_cast<size_t>(declared));
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a_, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      return Status::Corruption(path_ + ": damaged or truncated archive at '" + name +
                                "': " + (archive_error_string(a_) ? archive_error_string(a_) : ""));
    }
    if (out->data.size() + static_cast<size_t>(n) > limits_.max_entry_bytes) {
      return Fail(name, "more data than --max-entry-bytes");
    }
    out->data.append(buf, static_cast<size_t>(n));
  }
  total_ += out->data.size();
  return true;
}

}  // namespace petprep
