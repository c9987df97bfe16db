// `petprep report`: one self-contained HTML page about a training run — the loss per step and
// validation mean IoU per epoch, the validation and test metrics per class, the reliability
// diagram before and after calibration (when the run is calibrated), test predictions with
// overlays and the worst cases by IoU, the run's provenance and fingerprints, and the command
// lines that reproduce it. Plots are inline SVG, pictures embedded as data: URLs; nothing is
// loaded from elsewhere. The plots are also written as PNG files beside the page.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep {

struct ReportOptions {
  std::string run;
  std::string out;         // "" : RUN/report.html
  std::string checkpoint;  // the weights to predict with: "" the newest step, "best", a file
  std::string device = "cpu";
  int threads = 0;
  int grid = 12;  // test predictions shown, in stored order
  int worst = 6;  // the lowest-IoU test records shown
};

struct ReportResult {
  std::string html;               // the page's path
  std::vector<std::string> pngs;  // the plots beside it
  std::string weights_sha256;     // as summary.json has it
  int test_records = 0;
};

Status WriteReport(const ReportOptions& options, ReportResult* result);

}  // namespace petprep
