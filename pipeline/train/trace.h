// A per-op record of chosen training steps (`petprep train --trace-steps A:B`), for finding
// where two runs part (`petprep diff`). For each traced step, every op's result in execution
// order goes to RUN/trace.txt as one line
//
//   step 137 enc2.conv1 forward <sha256>
//
// KIND is forward (the op's output), backward (the gradient the op passes to its input),
// grad (a parameter's gradient) or update (a parameter after the optimiser's step); the hash
// is over the tensor's little-endian float bytes. With --trace-tensors every traced result
// is also kept as RUN/trace/step-<N>/<op>.<kind>.npy (float32, C order, NumPy's format), so
// that diff can say how large a difference is and where.
//
// The fault switch, for tests only (as the local HTTP server's fault modes are): the
// environment variable PETPREP_FAULT="<op> <kind> <step>" scales element 0 of that op's result
// by (1 + 2^-8) at that step, whether or not the step is traced, so a test can check that diff
// locates an arithmetic difference. It is never set in normal use; a run made with it says so
// in config.json's notes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/tensor.h"

namespace petprep {

// Steps first..last (1-based, as metrics.jsonl numbers them); last 0: none.
struct TraceSpec {
  uint64_t first = 0, last = 0;
  bool tensors = false;

  bool enabled() const { return last > 0; }
  bool Covers(uint64_t step) const { return enabled() && step >= first && step <= last; }
  // "A:B" (A <= B, A >= 1) or "N" (one step); anything else is kInvalidArgument naming it.
  static Result<TraceSpec> Parse(const std::string& text);
  std::string ToString() const;  // "A:B"
};

struct FaultSpec {
  std::string op, kind;
  uint64_t step = 0;  // 0: no fault

  bool enabled() const { return step > 0; }
  std::string ToString() const;  // "<op> <kind> <step>"
  // PETPREP_FAULT, when set; a malformed value is kInvalidArgument naming it.
  static Result<FaultSpec> FromEnvironment();
};

class OpTrace {
 public:
  // `run_dir` holds trace.txt and trace/. Nothing is written until a traced step ends.
  OpTrace(std::string run_dir, TraceSpec spec, FaultSpec fault);

  bool wanted() const { return spec_.enabled() || fault_.enabled(); }
  // A resumed run redoes the steps after `step`: their lines and tensors go.
  Status TruncateAfter(uint64_t step);

  // Between BeginStep and EndStep, Note records the results of that step's ops.
  void BeginStep(uint64_t step);
  bool active() const { return tracing_ || faulting_; }
  // Records t, the result of `op` (and applies the fault when it names this op and step).
  Status Note(const std::string& op, const char* kind, DeviceTensor* t);
  // Appends the step's lines to trace.txt; an error if the fault's op never came.
  Status EndStep();

 private:
  std::string run_dir_;
  TraceSpec spec_;
  FaultSpec fault_;
  uint64_t step_ = 0;
  bool tracing_ = false, faulting_ = false, fault_applied_ = false;
  std::string lines_;
};

// One line of trace.txt.
struct TraceLine {
  uint64_t step = 0;
  std::string op, kind, sha256;
};
// trace.txt's lines; a missing file is an empty list, a malformed line kCorruption naming it.
Result<std::vector<TraceLine>> ReadTrace(const std::string& path);

// The tensor file of a traced result: RUN/trace/step-<N>/<op>.<kind>.npy.
std::string TraceTensorPath(const std::string& run_dir, uint64_t step, const std::string& op,
                            const std::string& kind);
// float32 .npy files as this trace writes them (up to 4 dimensions).
Status WriteNpy(const std::string& path, const Tensor& t);
Result<Tensor> ReadNpy(const std::string& path);

}  // namespace petprep
