#include "pipeline/dataset/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <vector>

namespace petprep {
namespace {

struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

EntryPtr NewEntry(const std::string& name, unsigned type, unsigned perm) {
  EntryPtr e(archive_entry_new());
  archive_entry_copy_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), type);
  archive_entry_set_perm(e.get(), perm);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  archive_entry_set_mtime(e.get(), TarWriter::kFixedMtime, 0);
  return e;
}

}  // namespace

long long TarWriter::WriteCallback(struct archive*, void* self, const void* data, size_t size) {
  auto* w = static_cast<TarWriter*>(self);
  if (!w->write_status_.ok()) return -1;
  w->sha_.Update(data, size);
  w->write_status_ = w->file_->Append(data, size);
  return w->write_status_.ok() ? static_cast<long long>(size) : -1;
}

Result<std::unique_ptr<TarWriter>> TarWriter::Create(const std::string& path,
                                                     Compression compression) {
  auto file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  std::unique_ptr<TarWriter> w(new TarWriter());
  w->path_ = path;
  w->file_ = std::move(*file);
  w->archive_ = archive_write_new();
  Status s = w->Check(archive_write_set_format_pax_restricted(w->archive_), "set tar format");
  if (s.ok() && compression == Compression::kGzip) {
    s = w->Check(archive_write_add_filter_gzip(w->archive_), "add gzip filter");
    if (s.ok())
      s = w->Check(archive_write_set_filter_option(w->archive_, "gzip", "timestamp", nullptr),
                   "gzip without time stamp");
    if (s.ok())
      s = w->Check(archive_write_set_filter_option(w->archive_, "gzip", "compression-level", "6"),
                   "gzip level");
  }
  // No zero padding after the last block: the gzip stream ends where gzip would end it.
  if (s.ok()) s = w->Check(archive_write_set_bytes_in_last_block(w->archive_, 1), "block size");
  if (s.ok()) {
    s = w->Check(
        archive_write_open2(
            w->archive_, w.get(), nullptr,
            [](struct archive* a, void* self, const void* data, size_t size) -> la_ssize_t {
              return static_cast<la_ssize_t>(WriteCallback(a, self, data, size));
            },
            nullptr, nullptr),
        "open");
  }
  if (!s.ok()) return s;
  return w;
}

TarWriter::~TarWriter() {
  if (archive_) archive_write_free(archive_);
}

Status TarWriter::Check(int rc, const std::string& what) {
  if (rc >= ARCHIVE_WARN && write_status_.ok()) return Status::Ok();
  if (!write_status_.ok()) return write_status_;
  const char* err = archive_ ? archive_error_string(archive_) : nullptr;
  return Status::IoError(path_ + ": " + what + " failed: " + (err ? err : "unknown error"));
}

Status TarWriter::AddDirectory(const std::string& name) {
  EntryPtr e = NewEntry(name, AE_IFDIR, 0755);
  return Check(archive_write_header(archive_, e.get()), "write entry " + name);
}

Status TarWriter::AddFile(const std::string& name, std::string_view data) {
  EntryPtr e = NewEntry(name, AE_IFREG, 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  PETPREP_RETURN_IF_ERROR(Check(archive_write_header(archive_, e.get()), "write entry " + name));
  if (!data.empty()) {
    la_ssize_t n = archive_write_data(archive_, data.data(), data.size());
    if (n < 0 || static_cast<size_t>(n) != data.size()) {
      return Check(ARCHIVE_FATAL, "write data of " + name);
    }
  }
  return Status::Ok();
}

Status TarWriter::AddSymlink(const std::string& name, const std::string& target) {
  EntryPtr e = NewEntry(name, AE_IFLNK, 0777);
  archive_entry_copy_symlink(e.get(), target.c_str());
  return Check(archive_write_header(archive_, e.get()), "write entry " + name);
}

Status TarWriter::AddHardlink(const std::string& name, const std::string& target) {
  EntryPtr e = NewEntry(name, AE_IFREG, 0644);
  archive_entry_copy_hardlink(e.get(), target.c_str());
  archive_entry_set_size(e.get(), 0);
  return Check(archive_write_header(archive_, e.get()), "write entry " + name);
}

Status TarWriter::AddFifo(const std::string& name) {
  EntryPtr e = NewEntry(name, AE_IFIFO, 0644);
  return Check(archive_write_header(archive_, e.get()), "write entry " + name);
}

Status TarWriter::AddFilledFile(const std::string& name, uint64_t size, char fill) {
  EntryPtr e = NewEntry(name, AE_IFREG, 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
  PETPREP_RETURN_IF_ERROR(Check(archive_write_header(archive_, e.get()), "write entry " + name));
  std::vector<char> block(1 << 16, fill);
  while (size > 0) {
    size_t n = size < block.size() ? static_cast<size_t>(size) : block.size();
    if (archive_write_data(archive_, block.data(), n) != static_cast<la_ssize_t>(n)) {
      return Check(ARCHIVE_FATAL, "write data of " + name);
    }
    size -= n;
  }
  return Status::Ok();
}

Result<std::string> TarWriter::Finish() {
  PETPREP_RETURN_IF_ERROR(Check(archive_write_close(archive_), "close"));
  PETPREP_RETURN_IF_ERROR(file_->Commit());
  return ToHex(sha_.Finish());
}

uint64_t TarWriter::bytes_written() const { return file_->bytes_written(); }

}  // namespace petprep
