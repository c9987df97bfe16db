// petprep download: fetch and verify the Oxford-IIIT Pet archives into DATA/raw/.
#include <cstdio>

#include "pipeline/core/progress.h"
#include "pipeline/fetch/download.h"
#include "pipeline/fetch/known_archives.h"
#include "tools/cli.h"

namespace petprep {

int RunDownload(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Fetch images.tar.gz and annotations.tar.gz into DATA/raw/ and verify each on size and "
           "SHA-256 against the known versions (the 2020+ gzip files and the 2019 plain-tar "
           "files) or against --checksums. Sources are tried in order: --from DIR, then each "
           "--mirror; with neither, the official Oxford locations. Transfers resume after an "
           "interruption (a rerun continues DATA/raw/<name>.part with a Range request), retry "
           "with backoff (1, 2, 4, 8 s; 5 attempts per URL) and move to the next source on a "
           "corrupt copy. Archives already verified on disk are not fetched again.",
           "petprep synth --out synth && petprep download --from synth --checksums "
           "synth/SHA256SUMS --out data");
  DownloadOptions o;
  app.add_option("--out", o.out_dir, "The data folder (archives go to DATA/raw/)")
      ->required()
      ->type_name("DATA");
  app.add_option("--mirror", o.mirrors, "A base URL holding both archives; repeat for more")
      ->type_name("URL");
  app.add_option("--from", o.from_dir, "A folder holding both archives (offline use)")
      ->type_name("DIR");
  app.add_option("--checksums", o.checksums_file,
                 "sha256sum-style file replacing the built-in table")
      ->type_name("FILE");
  app.add_flag("--force", o.force, "Fetch again even when a verified copy exists");
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  if (!ctx.quiet) {
    o.fetch.note = [](const std::string& line) {
      std::fprintf(stderr, "petprep download: %s\n", line.c_str());
    };
  }
  auto r = DownloadArchives(o);
  if (!r.ok()) return ReportError(ctx, r.status());
  for (const ArchiveOutcome& a : *r) {
    std::printf("%s  %s  %s bytes  %s  <- %s\n", a.sha256.c_str(), a.path.c_str(),
                WithThousands(a.size).c_str(), a.version.c_str(), a.source.c_str());
  }
  return kExitOk;
}

}  // namespace petprep
