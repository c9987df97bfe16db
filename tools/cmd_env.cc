// petprep env: the provenance block every later output embeds.
#include <cstdio>

#include "pipeline/provenance/provenance.h"
#include "tools/cli.h"

namespace petprep {

int RunEnv(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Print petprep's version and git commit, the compiler and build flags, the version of "
           "every library, the CPU and its SIMD extensions, the thread count and the CUDA "
           "runtime, driver and devices. The last line always starts with 'CUDA:'.",
           "petprep env --json > provenance.json");
  bool json = false;
  app.add_flag("--json", json, "Print JSON instead of text");
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  Provenance p = CollectProvenance();
  if (json) {
    std::printf("%s\n", ProvenanceJson(p).dump(2).c_str());
  } else {
    std::fputs(ProvenanceText(p).c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace petprep
