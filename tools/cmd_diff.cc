// petprep diff: whether two training runs are the same, and if not where they part.
#include <cstdio>
#include <string>

#include "pipeline/train/run_diff.h"
#include "tools/cli.h"

namespace petprep {

namespace {

void List(const char* title, const std::vector<std::string>& items, const char* none) {
  if (items.empty()) {
    std::printf("%s: %s\n", title, none);
    return;
  }
  std::printf("%s: %zu differ%s\n", title, items.size(), items.size() == 1 ? "s" : "");
  for (const std::string& s : items) std::printf("  %s\n", s.c_str());
}

}  // namespace

int RunDiff(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Say whether two training runs are the same and, if not, where they part: each "
           "differing option, the dataset fingerprints, the provenance (version, commit, "
           "compiler and flags, libraries, CPU, device, threads), then metrics.jsonl step by "
           "step to the first step whose batch (the data: order or augmentation), loss or "
           "weights hash differs, and whether they agree again. When both runs were trained "
           "with --trace-steps covering that step, the first op whose result differs (with "
           "--trace-tensors: how large the difference is and where). Exit 0 the same (a "
           "difference of device, threads or machine alone is reported and is the promise "
           "holding), 1 different, 2 an error (a usage error, a run that cannot be read).",
           "petprep diff runs/a runs/b");
  std::string a, b;
  bool json = false;
  app.add_option("run_a", a, "The first run folder")->required()->type_name("RUN_A");
  app.add_option("run_b", b, "The second run folder")->required()->type_name("RUN_B");
  app.add_flag("--json", json, "Print the comparison as one JSON object");
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  auto d = DiffRuns(a, b);
  if (!d.ok()) {
    // 1 means "different": an error that decides nothing must not read as an answer.
    return ReportError(ctx, d.status()) == kExitInterrupted ? kExitInterrupted : kExitUsage;
  }
  const bool same = d->Same();
  if (json) {
    std::printf("%s\n", d->ToJson().dump(2).c_str());
    return same ? kExitOk : kExitFailure;
  }
  std::printf("A: %s (%llu steps)\nB: %s (%llu steps)\n", a.c_str(),
              static_cast<unsigned long long>(d->steps_a), b.c_str(),
              static_cast<unsigned long long>(d->steps_b));
  List("options", d->options, "the same");
  if (d->dataset_a == d->dataset_b) {
    std::printf("dataset: the same (%s)\n", d->dataset_a.c_str());
  } else {
    std::printf("dataset: differs: %s vs %s\n", d->dataset_a.c_str(), d->dataset_b.c_str());
  }
  List("provenance", d->provenance, "the same");
  for (const std::string& c : d->context) std::printf("%s\n", c.c_str());
  if (d->first) {
    const auto& f = *d->first;
    std::printf("first difference: step %llu: %s differ%s%s\n",
                static_cast<unsigned long long>(f.step), f.what.c_str(),
                f.what == "loss" ? "s" : "",
                f.detail.empty() ? "" : (" (" + f.detail + ")").c_str());
    if (d->agree_again) {
      std::printf("they agree again from step %llu\n",
                  static_cast<unsigned long long>(*d->agree_again));
    } else {
      std::printf("they do not agree again (%llu steps compared)\n",
                  static_cast<unsigned long long>(d->compared));
    }
  } else {
    std::printf("first difference: none (%llu steps compared)\n",
                static_cast<unsigned long long>(d->compared));
  }
  if (d->first_op) {
    const auto& o = *d->first_op;
    std::printf("first differing op: step %llu %s %s: %s\n",
                static_cast<unsigned long long>(o.step), o.op.c_str(), o.kind.c_str(),
                o.detail.c_str());
  }
  if (!d->trace_note.empty()) std::printf("trace: %s\n", d->trace_note.c_str());
  if (d->steps_a != d->steps_b) {
    std::printf("steps: %llu vs %llu\n", static_cast<unsigned long long>(d->steps_a),
                static_cast<unsigned long long>(d->steps_b));
  }
  if (d->weights_a == d->weights_b) {
    std::printf("weights: the same (%s)\n",
                d->weights_a.empty() ? "not finished" : d->weights_a.c_str());
  } else {
    std::printf("weights: differ: %s vs %s\n",
                d->weights_a.empty() ? "(none)" : d->weights_a.c_str(),
                d->weights_b.empty() ? "(none)" : d->weights_b.c_str());
  }
  std::printf("%s\n", same ? (d->context.empty() && d->provenance.empty()
                                  ? "the same"
                                  : "the same results (they ran differently, as listed)")
                           : "different");
  return same ? kExitOk : kExitFailure;
}

}  // namespace petprep
