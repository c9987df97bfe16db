// petprep report: one self-contained HTML page about a training run.
#include <cstdio>

#include "pipeline/report/report.h"
#include "pipeline/train/backend.h"
#include "tools/cli.h"

namespace petprep {

int RunReport(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Write one self-contained HTML page about a training run (RUN/report.html by "
           "default): the training loss per step and validation mean IoU per epoch; the "
           "validation and test IoU per class, F1 and pixel accuracy; the reliability diagram "
           "before and after calibration when the run is calibrated (petprep calibrate); test "
           "predictions with overlays and the worst cases by IoU; the run's provenance, dataset "
           "fingerprint and weights SHA-256, and the commands that reproduce it. Plots are "
           "inline SVG and pictures embedded, so the file opens offline and loads nothing from "
           "the network; the plots are also written as PNG files beside it.",
           "petprep report runs/a --out runs/a/report.html");
  ReportOptions o;
  app.add_option("run", o.run, "The run folder")->required()->type_name("RUN");
  app.add_option("--out", o.out, "The HTML file (default: RUN/report.html)")
      ->type_name("FILE.html");
  app.add_option("--checkpoint", o.checkpoint,
                 "The weights the predictions use: best, or a checkpoint file (default: the "
                 "newest step)");
  app.add_option("--grid", o.grid, "Test predictions shown")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_option("--worst", o.worst, "Worst test cases shown")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_option("--threads", o.threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--device", o.device,
                 "The ops backend: cpu, cuda, cuda-sim (slow; never changes a result)")
      ->capture_default_str()
      ->check(CLI::IsMember(BuiltInBackends()));
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  ReportResult r;
  Status s = WriteReport(o, &r);
  if (!s.ok()) return ReportError(ctx, s);
  for (const std::string& p : r.pngs) std::printf("plot: %s\n", p.c_str());
  std::printf("report: %s\n", r.html.c_str());
  return kExitOk;
}

}  // namespace petprep
