// petprep verify: check a partitioned dataset against its manifest.
#include <cstdio>

#include "pipeline/dataset/verify.h"
#include "tools/cli.h"

namespace petprep {

int RunVerify(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Recompute the SHA-256 of every shard, index and splits.csv of DATASET and its "
           "fingerprint, and compare them with manifest.json. Each missing, extra or changed "
           "file is named on stdout and the exit code is 1; otherwise it prints 'dataset "
           "verified: <fingerprint>'. --deep also reads every record (CRC-32C of each frame), "
           "checks each pet's fold and split, and compares the recorded source hashes with "
           "DATA/petset when it is beside the dataset.",
           "petprep verify data/dataset --deep");
  std::string dir;
  bool deep = false;
  app.add_option("DATASET", dir, "The dataset folder (DATA/dataset)")->required();
  app.add_flag("--deep", deep, "Also read and check every record and the petset sources");
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  auto r = VerifyDataset(dir, deep);
  if (!r.ok()) return ReportError(ctx, r.status());
  for (const std::string& p : r->problems) std::printf("%s\n", p.c_str());
  if (!r->problems.empty()) {
    std::fprintf(stderr, "petprep verify: %zu difference%s in %s\n", r->problems.size(),
                 r->problems.size() == 1 ? "" : "s", dir.c_str());
    return kExitFailure;
  }
  std::printf("dataset verified: %s\n", r->fingerprint.c_str());
  if (deep && !ctx.quiet) {
    std::fprintf(stderr, "petprep verify: %d files and %d records checked\n", r->files_checked,
                 r->records_checked);
  }
  return kExitOk;
}

}  // namespace petprep
