#include "pipeline/fetch/known_archives.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/read_file.h"

namespace petprep {

const char* const kArchiveNames[2] = {"images.tar.gz", "annotations.tar.gz"};

ExpectedArchives ExpectedArchives::BuiltIn() {
  ExpectedArchives e;
  e.versions_ = {
      {"images.tar.gz", "gzip (2020 on)", 791918971,
       "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
       "5c4f3ee8e5d25df40f4fd59a7f44e54c"},
      {"annotations.tar.gz", "gzip (2020 on)", 19173078,
       "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
       "95a8c909bbe2e81eed6a22bccdf3f68f"},
      {"images.tar.gz", "plain tar (2019)", 802191360,
       "5a13461893eb1873fa8ccf2ed6b6245af14fb3913c8686da1626c108c8522eea", ""},
      {"annotations.tar.gz", "plain tar (2019)", 37969920,
       "8568ffea346d0b62181808f9fe45d00d214e43a45cd9a28c55664a690bd4eb76", ""},
  };
  return e;
}

Result<ExpectedArchives> ExpectedArchives::FromChecksumsFile(const std::string& path) {
  auto text = ReadFile(path, kTextFileLimit);
  if (!text.ok()) return text.status();
  return FromChecksumsText(*text, path);
}

Result<ExpectedArchives> ExpectedArchives::FromChecksumsText(const std::string& text,
                                                             const std::string& source) {
  ExpectedArchives e;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument(source + ":" + std::to_string(number) + ": " + why +
                                     " (expected '<64 hex digits>  <file name>', as sha256sum "
                                     "writes it): '" +
                                     line + "'");
    };
    if (line.size() < 67) return bad("line too short");
    std::string hex = line.substr(0, 64);
    bool is_hex =
        std::all_of(hex.begin(), hex.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
    if (!is_hex) return bad("the checksum is not 64 hex digits");
    if (line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) {
      return bad("the checksum must be followed by two spaces or ' *'");
    }
    std::string name = line.substr(66);
    size_t slash = name.rfind('/');
    if (slash != std::string::npos) name = name.substr(slash + 1);
    if (name != kArchiveNames[0] && name != kArchiveNames[1]) continue;
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    e.versions_.push_back({name, "--checksums " + source, 0, hex, ""});
  }
  if (e.versions_.empty()) {
    return Status::InvalidArgument(source + ": names neither images.tar.gz nor annotations.tar.gz");
  }
  return e;
}

std::vector<ArchiveVersion> ExpectedArchives::VersionsOf(const std::string& name) const {
  std::vector<ArchiveVersion> out;
  for (const ArchiveVersion& v : versions_) {
    if (v.name == name) out.push_back(v);
  }
  return out;
}

uint64_t ExpectedArchives::MaxSizeOf(const std::string& name) const {
  uint64_t max = 0;
  for (const ArchiveVersion& v : versions_) {
    if (v.name != name) continue;
    if (v.size == 0) return 0;
    max = std::max(max, v.size);
  }
  return max;
}

const ArchiveVersion* ExpectedArchives::Match(const std::string& name, uint64_t size,
                                              const std::string& sha256) const {
  for (const ArchiveVersion& v : versions_) {
    if (v.name == name && v.sha256 == sha256 && (v.size == 0 || v.size == size)) return &v;
  }
  return nullptr;
}

std::string ExpectedArchives::MismatchMessage(const std::string& path, const std::string& name,
                                              uint64_t size, const std::string& sha256,
                                              const std::string& md5) const {
  std::string out = path + ": " + WithThousands(size) + " bytes, sha256 " + sha256 + " (md5 " +
                    md5 + ") matches no expected version of " + name + "; expected ";
  std::vector<ArchiveVersion> versions = VersionsOf(name);
  if (versions.empty()) return out + "nothing (no checksum was given for it)";
  for (size_t i = 0; i < versions.size(); ++i) {
    const ArchiveVersion& v = versions[i];
    if (i > 0) out += " or ";
    if (v.size > 0) out += WithThousands(v.size) + " bytes, ";
    out += "sha256 " + v.sha256;
    if (!v.md5.empty()) out += " (md5 " + v.md5 + ")";
    out += " [" + v.label + "]";
  }
  return out;
}

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace petprep
