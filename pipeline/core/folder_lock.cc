#include "pipeline/core/folder_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "pipeline/core/atomic_file.h"

namespace petprep {
namespace fs = std::filesystem;

namespace {

std::string HostName() {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) return "?";
  return host;
}

}  // namespace

Result<std::unique_ptr<FolderLock>> FolderLock::Acquire(const std::string& folder,
                                                        const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    return Status::IoError(lock_path + ": cannot open the lock file of " + folder + ": " +
                           std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder(256, '\0');
    const ssize_t n = ::pread(fd, holder.data(), holder.size() - 1, 0);
    holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return Status::IoError(lock_path + ": cannot lock: " + std::strerror(err));
    }
    return Status::Unavailable(folder + " is in use by another petprep (" +
                               (holder.empty() ? std::string("pid unknown") : holder) +
                               "); wait for it to finish");
  }
  const std::string me = "pid " + std::to_string(::getpid()) + " on " + HostName() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The lock holds without the note; only the message to a second writer is poorer.
  }
  return std::unique_ptr<FolderLock>(new FolderLock(fd));
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Status MakeStagingFolder(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st) || !fs::exists(fs::path(dir) / kStagingMark, ec)) {
      return Status::InvalidArgument(
          dir + ": exists and petprep did not make it (no " + kStagingMark +
          " mark), so it is not removed: move it away or choose another --output");
    }
    fs::remove_all(dir, ec);
    if (ec)
      return Status::IoError(dir + ": cannot remove an earlier staging folder: " + ec.message());
  }
  PETPREP_RETURN_IF_ERROR(MakeDirs(dir));
  return WriteFileUnsynced(dir + "/" + kStagingMark, "made by petprep; removed with its folder\n");
}

Status UnmarkStagingFolder(const std::string& dir) {
  if (::unlink((dir + "/" + kStagingMark).c_str()) != 0) {
    return Status::IoError(dir + "/" + kStagingMark + ": cannot remove: " + std::strerror(errno));
  }
  return Status::Ok();
}

bool IsInsideFolder(const std::string& path, const std::string& folder) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  const fs::path f = fs::weakly_canonical(fs::absolute(folder, ec), ec);
  if (ec || f.empty()) return false;
  auto pi = p.begin();
  for (auto fi = f.begin(); fi != f.end(); ++fi, ++pi) {
    if (fi->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *fi) return false;
  }
  return true;
}

int RemoveStaleTempFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const size_t tmp = name.rfind(".tmp-");
    if (name.size() < 2 || name[0] != '.' || tmp == std::string::npos) continue;
    const std::string rest = name.substr(tmp + 5);  // <pid>-<n>
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos ||
        rest.find_first_not_of("0123456789-") != std::string::npos) {
      continue;
    }
    const long pid = std::strtol(rest.substr(0, dash).c_str(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still running
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

}  // namespace petprep
