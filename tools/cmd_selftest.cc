// petprep selftest: does this machine compute petprep's canonical arithmetic?
#include <cstdio>
#include <nlohmann/json.hpp>

#include "pipeline/train/backend.h"
#include "pipeline/train/selftest.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"
#include "tools/cli.h"

namespace petprep {
namespace {

std::string BackendList() {
  std::string s;
  for (const std::string& b : BuiltInBackends()) s += (s.empty() ? "" : ", ") + b;
  return s;
}

}  // namespace

int RunSelftest(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Run every training op forward and backward (conv3x3, conv1x1, convt2x2, batchnorm, "
           "relu, maxpool, concat, dropout, softmax_ce, bce_jaccard) on fixed Philox inputs at "
           "two shapes, plus Adam and SGD steps and the elementwise functions, and print one "
           "line per op, '<op> <shape> <sha256 of outputs and gradients>', then 'selftest "
           "fingerprint: <hex>'. The fingerprint is the same for every --threads and every "
           "SIMD path (PETPREP_SIMD=scalar|avx2|avx512 or --simd) on every machine; it is "
           "checked against the published value, with the Philox4x32-10 and MD5 fold known "
           "answers, and a subnormal known answer (a CPU that flushes subnormals to zero fails). "
           "The ops run through the ops backend --device names (the backends this build has), "
           "inputs uploaded and outputs read back, so a backend that computes other bits shows "
           "here: --device cuda runs every op on the GPU, --device cuda-sim the CUDA backend's "
           "code on the host (slow; it proves that code where no GPU is). Exit 1 names any "
           "failure.",
           "petprep selftest --threads 2");
  int threads = 0;
  bool json = false;
  std::string simd, device = "cpu";
  app.add_option("--threads", threads, "Threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--device", device, "The ops backend: " + BackendList())
      ->capture_default_str()
      ->check(CLI::IsMember(BuiltInBackends()));
  app.add_option("--simd", simd, "Kernel path: scalar, avx2 or avx512 (default: the widest)")
      ->check(CLI::IsMember({"scalar", "avx2", "avx512"}));
  app.add_flag("--json", json, "Print JSON instead of lines");
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;

  Status env = SimdPathFromEnvironment();
  if (!env.ok()) return ReportError(ctx, env);
  if (!simd.empty()) {
    SimdPath p = *ParseSimdPath(simd);
    if (!SimdPathSupported(p)) {
      return ReportError(ctx,
                         Status::Unavailable("--simd " + simd + ": this CPU does not support it"));
    }
    SetSimdPath(p);
  }
  auto backend = MakeBackend(device);
  if (!backend.ok()) return ReportError(ctx, backend.status());
  Backend* b = backend->get();
  SelftestReport r = WithThreads(threads, [b] { return petprep::RunSelftest(b); });
  const int used_threads = threads > 0 ? threads : tbb::this_task_arena::max_concurrency();
  if (json) {
    nlohmann::json j;
    j["lines"] = nlohmann::json::array();
    for (const SelftestLine& l : r.lines) {
      j["lines"].push_back({{"op", l.op}, {"shape", l.shape}, {"sha256", l.digest}});
    }
    j["fingerprint"] = r.fingerprint;
    j["expected_fingerprint"] = std::string(kSelftestFingerprint);
    j["simd"] = SimdPathName(ActiveSimdPath());
    j["threads"] = used_threads;
    j["device"] = device;
    j["backend"] = r.backend;
    j["cuda"] = r.cuda;
    j["failures"] = r.failures;
    j["ok"] = r.failures.empty();
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const SelftestLine& l : r.lines) {
      std::printf("%s %s %s\n", l.op.c_str(), l.shape.c_str(), l.digest.c_str());
    }
    std::printf("selftest fingerprint: %s\n", r.fingerprint.c_str());
    if (!ctx.quiet) {
      std::fprintf(stderr, "backend %s, %d thread%s; CUDA: %s\n", r.backend.c_str(), used_threads,
                   used_threads == 1 ? "" : "s", r.cuda.c_str());
    }
  }
  if (!r.failures.empty()) {
    for (const std::string& f : r.failures)
      std::fprintf(stderr, "petprep selftest: FAILED: %s\n", f.c_str());
    return kExitFailure;
  }
  if (!ctx.quiet && !json) {
    std::fprintf(
        stderr,
        "petprep selftest: ok — known answers pass and the fingerprint is the published one\n");
  }
  return kExitOk;
}

}  // namespace petprep
