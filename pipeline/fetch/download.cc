#include "pipeline/fetch/download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/interrupt.h"
#include "pipeline/core/progress.h"
#include "pipeline/fetch/known_archives.h"

namespace petprep {

const char* const kOfficialBases[2] = {
    "https://thor.robots.ox.ac.uk/~vgg/data/pets",
    "https://www.robots.ox.ac.uk/~vgg/data/pets/data",
};

namespace {

bool Exists(const std::string& path, uint64_t* size = nullptr) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return true;
}

struct Digests {
  uint64_t size = 0;
  std::string sha256, md5;
};

// Reads `path` in 1 MiB chunks, handing each to `fn`, with a progress line labelled `label`
// and an interrupt check after every chunk.
template <typename Fn>
Status ReadChunks(const std::string& path, const std::string& label, Fn fn) {
  auto file = ReadableFile::Open(path, kArchiveFileLimit);
  if (!file.ok()) return file.status();
  Progress progress(label, file->size(), Progress::Unit::kBytes);
  std::string buf(1 << 20, '\0');
  for (;;) {
    auto n = file->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    PETPREP_RETURN_IF_ERROR(fn(buf.data(), *n));
    PETPREP_RETURN_IF_ERROR(CheckInterrupt());
    progress.Add(*n);
  }
  return Status::Ok();
}

// SHA-256 and MD5 of a file in one pass.
Result<Digests> HashFile(const std::string& path, const std::string& label) {
  Sha256 sha;
  Md5 md5;
  Digests d;
  PETPREP_RETURN_IF_ERROR(ReadChunks(path, label, [&](const char* data, size_t n) {
    sha.Update(data, n);
    md5.Update(data, n);
    d.size += n;
    return Status::Ok();
  }));
  d.sha256 = ToHex(sha.Finish());
  d.md5 = ToHex(md5.Finish());
  return d;
}

Status CopyFile(const std::string& from, const std::string& to, const std::string& label) {
  auto out = AtomicFile::Create(to);
  if (!out.ok()) return out.status();
  // On an error the AtomicFile removes its temp file.
  PETPREP_RETURN_IF_ERROR(
      ReadChunks(from, label, [&](const char* data, size_t n) { return (*out)->Append(data, n); }));
  return (*out)->Commit();
}

void Note(const DownloadOptions& o, const std::string& line) {
  if (o.fetch.note) o.fetch.note(line);
}

Result<ArchiveOutcome> FetchOne(const DownloadOptions& o, const ExpectedArchives& expected,
                                const std::string& name) {
  ArchiveOutcome out;
  out.name = name;
  out.path = o.out_dir + "/raw/" + name;
  if (expected.VersionsOf(name).empty()) {
    return Status::InvalidArgument(o.checksums_file + ": gives no checksum for " + name);
  }
  if (!o.force && Exists(out.path)) {
    auto d = HashFile(out.path, "verify " + name);
    if (!d.ok()) return d.status();
    if (const ArchiveVersion* v = expected.Match(name, d->size, d->sha256)) {
      out.sha256 = d->sha256;
      out.size = d->size;
      out.version = v->label;
      out.source = "already verified";
      return out;
    }
    Note(o, out.path + " does not verify; fetching it again");
  }

  std::vector<std::string> errors;
  // Verifies `file`; a mismatch is noted for people only when another source follows (the
  // final error lists every source's problem anyway).
  auto accept = [&](const std::string& file, const std::string& source, bool last) -> Result<bool> {
    auto d = HashFile(file, "verify " + name);
    if (!d.ok()) return d.status();
    const ArchiveVersion* v = expected.Match(name, d->size, d->sha256);
    if (v == nullptr) {
      errors.push_back(expected.MismatchMessage(source, name, d->size, d->sha256, d->md5));
      if (!last) Note(o, errors.back() + "; trying the next source");
      return false;
    }
    out.sha256 = d->sha256;
    out.size = d->size;
    out.version = v->label;
    out.source = source;
    return true;
  };

  std::vector<std::string> urls;
  for (const std::string& m : o.mirrors) urls.push_back(JoinUrl(m, name));
  if (o.mirrors.empty() && o.from_dir.empty()) {
    for (const char* base : kOfficialBases) urls.push_back(JoinUrl(base, name));
  }
  if (!o.from_dir.empty()) {
    std::string src = o.from_dir + "/" + name;
    if (!Exists(src)) {
      errors.push_back(src + ": no such file");
    } else {
      auto ok = accept(src, src, urls.empty());
      if (!ok.ok()) return ok.status();
      if (*ok) {
        PETPREP_RETURN_IF_ERROR(CopyFile(src, out.path, "copy " + name));
        return out;
      }
    }
  }

  std::string part = out.path + ".part";
  FetchOptions fetch = o.fetch;
  fetch.max_bytes = expected.MaxSizeOf(name);
  for (size_t i = 0; i < urls.size(); ++i) {
    FetchStats stats;
    Status s;
    {
      Progress progress("download " + name, expected.MaxSizeOf(name), Progress::Unit::kBytes);
      s = FetchUrl(urls[i], part, fetch, &progress, &stats);
    }
    if (s.IsInterrupted()) return s;
    if (s.ok()) {
      auto ok = accept(part, urls[i], i + 1 == urls.size());
      if (!ok.ok()) return ok.status();
      if (*ok) {
        if (std::rename(part.c_str(), out.path.c_str()) != 0) {
          return Status::IoError(out.path + ": rename from " + part +
                                 " failed: " + std::strerror(errno));
        }
        PETPREP_RETURN_IF_ERROR(SyncDirectory(o.out_dir + "/raw"));
        return out;
      }
    } else {
      errors.push_back(s.message());
      Note(o, s.message() + (i + 1 < urls.size() ? "; trying the next source" : ""));
    }
    // The next source may hold other bytes: never append to this one's partial file.
    std::remove(part.c_str());
  }
  std::string msg = name + ": no source gave a verified copy";
  for (const std::string& e : errors) msg += "\n  " + e;
  if (o.checksums_file.empty() && !o.from_dir.empty()) {
    msg += "\n  (for archives made by 'petprep synth', pass --checksums " + o.from_dir +
           "/SHA256SUMS)";
  }
  return Status::Corruption(msg);
}

}  // namespace

std::string JoinUrl(const std::string& base, const std::string& name) {
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + "/" + name;
}

Result<std::vector<ArchiveOutcome>> DownloadArchives(const DownloadOptions& o) {
  if (o.out_dir.empty()) return Status::InvalidArgument("--out is required");
  ExpectedArchives expected = ExpectedArchives::BuiltIn();
  if (!o.checksums_file.empty()) {
    auto e = ExpectedArchives::FromChecksumsFile(o.checksums_file);
    if (!e.ok()) return e.status();
    expected = std::move(e).value();
  }
  if (!o.from_dir.empty()) {
    struct stat st;
    if (::stat(o.from_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::NotFound(o.from_dir + ": no such folder (--from)");
    }
  }
  PETPREP_RETURN_IF_ERROR(MakeDirs(o.out_dir));
  PETPREP_RETURN_IF_ERROR(MakeDirs(o.out_dir + "/raw"));
  std::vector<ArchiveOutcome> outcomes;
  for (const char* name : kArchiveNames) {
    auto r = FetchOne(o, expected, name);
    if (!r.ok()) return r.status();
    outcomes.push_back(std::move(r).value());
  }
  return outcomes;
}

}  // namespace petprep
