#include "pipeline/dataset/shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/crc32c.h"
#include "pipeline/core/read_file.h"
#include "schemas/shard_index.pb.h"

namespace petprep {
namespace {

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetFixed64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t GetFixed32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Checks one frame at `p` (at most `avail` bytes); sets *data and *frame_size.
Status ParseFrame(const unsigned char* p, uint64_t avail, const std::string& where,
                  std::string* data, uint64_t* frame_size) {
  if (avail < 12) return Status::Corruption(where + ": frame header cut short");
  uint64_t len = GetFixed64(p);
  if (UnmaskCrc(GetFixed32(p + 8)) != Crc32c(p, 8)) {
    return Status::Corruption(where + ": length CRC mismatch");
  }
  if (len > avail - 12 || avail - 12 - len < 4) {
    return Status::Corruption(where + ": frame runs past the end of the shard");
  }
  if (UnmaskCrc(GetFixed32(p + 12 + len)) != Crc32c(p + 12, len)) {
    return Status::Corruption(where + ": data CRC mismatch");
  }
  data->assign(reinterpret_cast<const char*>(p + 12), len);
  *frame_size = 16 + len;
  return Status::Ok();
}

}  // namespace

void ShardBuilder::Add(const std::string& record) {
  offsets_.push_back(bytes_.size());
  std::string len;
  PutFixed64(&len, record.size());
  bytes_ += len;
  PutFixed32(&bytes_, MaskCrc(Crc32c(len.data(), 8)));
  bytes_ += record;
  PutFixed32(&bytes_, MaskCrc(Crc32c(record.data(), record.size())));
}

std::string ShardBuilder::IndexBytes() const {
  schema::ShardIndex idx;
  idx.set_format(1);
  idx.set_shard_bytes(bytes_.size());
  for (uint64_t o : offsets_) idx.add_offsets(o);
  return idx.SerializeAsString();
}

void ShardBuilder::Clear() {
  bytes_.clear();
  offsets_.clear();
}

Result<std::unique_ptr<ShardReader>> ShardReader::Open(const std::string& rec_path,
                                                       const std::string& idx_path) {
  auto idx_bytes = ReadFile(idx_path, kShardIndexLimit);
  if (!idx_bytes.ok()) return idx_bytes.status();
  schema::ShardIndex idx;
  if (!idx.ParseFromString(*idx_bytes) || idx.format() != 1) {
    return Status::Corruption(idx_path + ": not a petprep shard index");
  }
  std::unique_ptr<ShardReader> r(new ShardReader());
  r->path_ = rec_path;
  auto file = ReadableFile::Open(rec_path, kShardFileLimit);
  if (!file.ok()) {
    if (file.status().code() == Status::Code::kNotFound) {
      return Status::NotFound(rec_path + ": no such shard");
    }
    return file.status();
  }
  r->size_ = file->size();
  r->fd_ = ::fcntl(file->fd(), F_DUPFD_CLOEXEC, 0);
  if (r->fd_ < 0) return Status::IoError(rec_path + ": cannot open: " + std::strerror(errno));
  if (r->size_ != idx.shard_bytes()) {
    return Status::Corruption(rec_path + ": " + std::to_string(r->size_) + " bytes, its index " +
                              idx_path + " says " + std::to_string(idx.shard_bytes()));
  }
  r->offsets_.assign(idx.offsets().begin(), idx.offsets().end());
  for (uint64_t o : r->offsets_) {
    if (o >= r->size_)
      return Status::Corruption(idx_path + ": an offset lies past the shard's end");
  }
  return r;
}

ShardReader::~ShardReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string> ShardReader::Read(size_t i) const {
  uint64_t start = offsets_[i];
  uint64_t end = i + 1 < offsets_.size() ? offsets_[i + 1] : size_;
  std::string where = path_ + ": record " + std::to_string(i);
  if (end <= start) return Status::Corruption(where + ": bad index entry");
  std::string buf(end - start, '\0');
  uint64_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd_, &buf[got], buf.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError(where + ": read failed");
    got += static_cast<uint64_t>(n);
  }
  std::string data;
  uint64_t frame = 0;
  PETPREP_RETURN_IF_ERROR(ParseFrame(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(),
                                     where, &data, &frame));
  if (frame != buf.size())
    return Status::Corruption(where + ": frame size disagrees with the index");
  return data;
}

Result<std::vector<std::string>> ReadAllFrames(const std::string& rec_path) {
  auto bytes = ReadFile(rec_path, kShardFileLimit);
  if (!bytes.ok()) return bytes.status();
  std::vector<std::string> out;
  uint64_t pos = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes->data());
  while (pos < bytes->size()) {
    std::string data;
    uint64_t frame = 0;
    PETPREP_RETURN_IF_ERROR(ParseFrame(p + pos, bytes->size() - pos,
                                       rec_path + ": record " + std::to_string(out.size()), &data,
                                       &frame));
    out.push_back(std::move(data));
    pos += frame;
  }
  return out;
}

}  // namespace petprep
