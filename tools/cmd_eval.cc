// petprep eval: a run's metrics on a split.
#include <cmath>
#include <cstdio>

#include "pipeline/train/evaluate.h"
#include "tools/cli.h"

namespace petprep {

int RunEval(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Evaluate a training run's weights (its newest step checkpoint, or --checkpoint best / "
           "FILE) on a split of its dataset (or --data DIR of the same image size): mean IoU, IoU "
           "per class (pet, background, border), macro F1 and pixel accuracy; for a calibrated "
           "run (petprep calibrate) also the NLL and ECE before and after its temperature. "
           "Prints them and writes RUN/eval-<split>.json.",
           "petprep eval runs/a --split test");
  std::string run, split = "test", data, checkpoint;
  std::string device = "cpu";
  int threads = 0;
  app.add_option("run", run, "The run folder")->required()->type_name("RUN");
  app.add_option("--split", split, "test, validation or calibration")
      ->capture_default_str()
      ->check(CLI::IsMember({"test", "validation", "calibration", "train"}));
  app.add_option("--data", data, "Another dataset folder (default: the run's)")->type_name("DIR");
  app.add_option("--checkpoint", checkpoint,
                 "best, or a checkpoint file (default: the newest step)");
  app.add_option("--threads", threads, "Threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--device", device,
                 "The ops backend: cpu, cuda, cuda-sim (slow; never changes a result)")
      ->capture_default_str()
      ->check(CLI::IsMember(BuiltInBackends()));
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  EvalResult e;
  Status s = EvaluateRun(run, split, data, checkpoint, threads, device, &e);
  if (!s.ok()) return ReportError(ctx, s);
  auto num = [](double v) { return std::isnan(v) ? -1.0 : v; };
  const MetricsSummary& m = e.metrics;
  std::printf("%s: %llu records, step %llu\n", split.c_str(),
              static_cast<unsigned long long>(e.records), static_cast<unsigned long long>(e.step));
  std::printf(
      "mean_iou %.4f  iou pet %.4f background %.4f border %.4f  f1 %.4f  pixel_accuracy %.4f  loss "
      "%.4f\n",
      num(m.mean_iou), num(m.iou[0]), num(m.iou[1]), num(m.iou[2]), num(m.f1),
      num(m.pixel_accuracy), num(m.loss));
  if (!e.calibration_note.empty()) {
    std::fprintf(stderr, "petprep eval: note: %s\n", e.calibration_note.c_str());
  }
  if (e.calibrated) {
    const CalibratedEval& c = *e.calibrated;
    std::printf("calibrated (T %.6g): nll %.4f -> %.4f  ece %.4f -> %.4f\n", c.temperature,
                c.nll_before, c.nll_after, c.ece_before, c.ece_after);
  }
  std::printf("written: %s/eval-%s.json\n", run.c_str(), split.c_str());
  return kExitOk;
}

}  // namespace petprep
