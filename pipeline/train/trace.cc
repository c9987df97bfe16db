#include "pipeline/train/trace.h"

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <utility>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/read_file.h"

namespace petprep {

namespace fs = std::filesystem;

namespace {

bool ParseU64(const std::string& s, uint64_t* v) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19) {
    return false;
  }
  *v = std::strtoull(s.c_str(), nullptr, 10);
  return true;
}

std::string StepDir(const std::string& run_dir, uint64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08" PRIu64, step);
  return run_dir + "/trace/" + name;
}

}  // namespace

Result<TraceSpec> TraceSpec::Parse(const std::string& text) {
  TraceSpec s;
  const size_t colon = text.find(':');
  const std::string a = text.substr(0, colon);
  const std::string b = colon == std::string::npos ? a : text.substr(colon + 1);
  if (!ParseU64(a, &s.first) || !ParseU64(b, &s.last) || s.first == 0 || s.last < s.first) {
    return Status::InvalidArgument("--trace-steps " + text +
                                   ": give A:B with 1 <= A <= B (steps as metrics.jsonl numbers "
                                   "them), or one step N");
  }
  return s;
}

std::string TraceSpec::ToString() const {
  return std::to_string(first) + ":" + std::to_string(last);
}

std::string FaultSpec::ToString() const { return op + " " + kind + " " + std::to_string(step); }

Result<FaultSpec> FaultSpec::FromEnvironment() {
  FaultSpec f;
  const char* v = std::getenv("PETPREP_FAULT");
  if (v == nullptr || *v == '\0') return f;
  std::istringstream in(v);
  std::string step, rest;
  in >> f.op >> f.kind >> step;
  if (f.op.empty() ||
      (f.kind != "forward" && f.kind != "backward" && f.kind != "grad" && f.kind != "update") ||
      !ParseU64(step, &f.step) || f.step == 0 || (in >> rest)) {
    return Status::InvalidArgument(std::string("PETPREP_FAULT=\"") + v +
                                   "\": the test-only fault switch takes \"<op> "
                                   "<forward|backward|grad|update> <step>\"");
  }
  return f;
}

OpTrace::OpTrace(std::string run_dir, TraceSpec spec, FaultSpec fault)
    : run_dir_(std::move(run_dir)), spec_(spec), fault_(std::move(fault)) {}

Status OpTrace::TruncateAfter(uint64_t step) {
  const std::string path = run_dir_ + "/trace.txt";
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto lines = ReadTrace(path);
    if (!lines.ok()) return lines.status();
    std::string kept;
    for (const TraceLine& l : *lines) {
      if (l.step > step) continue;
      kept += "step " + std::to_string(l.step) + " " + l.op + " " + l.kind + " " + l.sha256 + "\n";
    }
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(path, kept));
  }
  const std::string dir = run_dir_ + "/trace";
  if (fs::is_directory(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      uint64_t s = 0;
      const std::string name = e.path().filename().string();
      if (name.rfind("step-", 0) == 0 && ParseU64(name.substr(5), &s) && s > step) {
        fs::remove_all(e.path(), ec);
        if (ec) return Status::IoError(e.path().string() + ": cannot remove: " + ec.message());
      }
    }
  }
  return Status::Ok();
}

void OpTrace::BeginStep(uint64_t step) {
  step_ = step;
  tracing_ = spec_.Covers(step);
  faulting_ = fault_.enabled() && fault_.step == step;
  fault_applied_ = false;
  lines_.clear();
}

Status OpTrace::Note(const std::string& op, const char* kind, DeviceTensor* t) {
  if (!active() || t->dtype() != DType::kF32) return Status::Ok();
  Backend* backend = t->backend();
  Tensor host;
  PETPREP_RETURN_IF_ERROR(backend->Download(*t, &host));
  if (faulting_ && !fault_applied_ && op == fault_.op && kind == fault_.kind && host.size() > 0) {
    host.data()[0] *= 1.0f + 1.0f / 256.0f;
    PETPREP_RETURN_IF_ERROR(backend->Upload(host, t));
    fault_applied_ = true;
  }
  if (!tracing_) return Status::Ok();
  Sha256 h;
  HashTensor(host, &h);
  lines_ +=
      "step " + std::to_string(step_) + " " + op + " " + kind + " " + ToHex(h.Finish()) + "\n";
  if (spec_.tensors) {
    PETPREP_RETURN_IF_ERROR(MakeDirs(StepDir(run_dir_, step_)));
    PETPREP_RETURN_IF_ERROR(WriteNpy(TraceTensorPath(run_dir_, step_, op, kind), host));
  }
  return Status::Ok();
}

Status OpTrace::EndStep() {
  const bool missed = faulting_ && !fault_applied_;
  tracing_ = faulting_ = false;
  if (missed) {
    return Status::InvalidArgument("PETPREP_FAULT=\"" + fault_.ToString() + "\": step " +
                                   std::to_string(step_) + " has no op " + fault_.op + " " +
                                   fault_.kind);
  }
  if (lines_.empty()) return Status::Ok();
  const std::string path = run_dir_ + "/trace.txt";
  FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr) return Status::IoError(path + ": " + std::strerror(errno));
  const bool ok = std::fwrite(lines_.data(), 1, lines_.size(), f) == lines_.size();
  if (std::fclose(f) != 0 || !ok) return Status::IoError(path + ": write failed");
  lines_.clear();
  return Status::Ok();
}

Result<std::vector<TraceLine>> ReadTrace(const std::string& path) {
  std::vector<TraceLine> out;
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  auto text = ReadFile(path, kTraceFileLimit);
  if (!text.ok()) return text.status();
  std::istringstream in(*text);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    std::istringstream f(line);
    std::string word, step, extra;
    TraceLine l;
    f >> word >> step >> l.op >> l.kind >> l.sha256;
    if (word != "step" || !ParseU64(step, &l.step) || l.sha256.size() != 64 || (f >> extra)) {
      return Status::Corruption(path + ": line " + std::to_string(number) +
                                " is not \"step N OP KIND SHA256\"");
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::string TraceTensorPath(const std::string& run_dir, uint64_t step, const std::string& op,
                            const std::string& kind) {
  return StepDir(run_dir, step) + "/" + op + "." + kind + ".npy";
}

Status WriteNpy(const std::string& path, const Tensor& t) {
  char shape[96];
  std::snprintf(shape, sizeof shape, "(%d, %d, %d, %d)", t.n(), t.c(), t.h(), t.w());
  std::string header =
      std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + shape + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
  return WriteFileUnsynced(path, out);
}

Result<Tensor> ReadNpy(const std::string& path) {
  auto bytes = ReadFile(path, kTraceFileLimit);
  if (!bytes.ok()) return bytes.status();
  const std::string& b = *bytes;
  auto bad = [&](const std::string& why) {
    return Status::Corruption(path + ": not a float32 .npy tensor as petprep writes them (" + why +
                              ")");
  };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) return bad("no NumPy magic");
  const size_t len =
      static_cast<uint8_t>(b[8]) | (static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8);
  if (b[6] != 1 || 10 + len > b.size()) return bad("version or header length");
  const std::string header = b.substr(10, len);
  if (header.find("'<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos) {
    return bad("dtype or order");
  }
  const size_t open = header.find("'shape': (");
  if (open == std::string::npos) return bad("shape");
  int dims[4] = {1, 1, 1, 1};
  int count = 0;
  const char* p = header.c_str() + open + 10;
  while (*p != ')' && *p != '\0' && count < 4) {
    char* end = nullptr;
    const long v = std::strtol(p, &end, 10);
    if (end == p || v < 0) return bad("shape");
    dims[count++] = static_cast<int>(v);
    p = end;
    while (*p == ',' || *p == ' ') ++p;
  }
  if (*p != ')' || count == 0) return bad("shape");
  Tensor t(dims[0], dims[1], dims[2], dims[3]);
  if (b.size() - 10 - len != t.size() * sizeof(float)) return bad("size");
  std::memcpy(t.data(), b.data() + 10 + len, t.size() * sizeof(float));
  return t;
}

}  // namespace petprep
