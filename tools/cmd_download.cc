// petprep download: fetch and verify the Oxford-IIIT Pet archives into DATA/raw/.
#include <cstdio>

#include "pipeline/core/progress.h"
#include "pipeline/dataset/convert.h"
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
           "corrupt copy. Archives already verified on disk are not fetched again. Then both "
           "archives are extracted safely and converted into DATA/petset: one folder per pet "
           "with image.jpg (a clean JPEG, byte for byte) or image.tiff (anything else, decoded "
           "to RGB), mask.tiff (class ids 0 pet, 1 background, 2 border) and metadata.json, "
           "plus conversion_report.json listing every defect and the action taken. The petset "
           "is byte-identical for any --jobs and any source; it replaces an earlier one only "
           "when complete.",
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
  app.add_flag("--force", o.force, "Fetch and convert again even when verified copies exist");
  std::string policy = "repair";
  int jobs = 0;
  uint64_t max_pixels = kDefaultMaxPixels;
  ExtractLimits limits;
  app.add_option("--on-defect", policy,
                 "repair (decode and re-encode losslessly), skip (leave the pet out) or fail")
      ->capture_default_str()
      ->check(CLI::IsMember({"repair", "skip", "fail"}));
  AddMaxPixels(app, &max_pixels);
  app.add_option("--jobs", jobs, "Conversion threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-extract-bytes", limits.max_total_bytes,
                 "Refuse an archive that unpacks to more than this")
      ->capture_default_str();
  app.add_option("--max-entry-bytes", limits.max_entry_bytes,
                 "Refuse an archive entry larger than this")
      ->capture_default_str();
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
  std::fflush(stdout);

  ConvertOptions c;
  c.data_dir = o.out_dir;
  c.policy = *ParsePolicy(policy);
  c.jobs = jobs;
  c.max_pixels = max_pixels;
  c.limits = limits;
  c.force = o.force;
  SourceArchive* targets[2] = {&c.images, &c.annotations};
  for (int i = 0; i < 2; ++i) {
    const ArchiveOutcome& a = (*r)[i];
    *targets[i] = SourceArchive{a.name, a.path, a.size, a.sha256};
  }
  auto converted = ConvertArchives(c);
  if (!converted.ok()) return ReportError(ctx, converted.status());
  const ConvertSummary& s = *converted;
  if (!ctx.quiet) {
    std::fprintf(stderr,
                 "petprep download: %s: %d pets from %d images and %d trimaps: %d clean, %d "
                 "repaired (%d re-encoded as TIFF), %d skipped, %d orphans, %d files ignored; "
                 "%d defects listed in %s/petset/conversion_report.json\n",
                 s.up_to_date ? "petset verified, nothing to do" : "petset written", s.pets,
                 s.images, s.trimaps, s.clean, s.repaired, s.converted, s.skipped, s.orphans,
                 s.ignored, s.defects, o.out_dir.c_str());
  }
  std::printf("%s  %s/petset  %d pets%s\n", s.tree_sha256.c_str(), o.out_dir.c_str(), s.pets,
              s.up_to_date ? " (already up to date)" : "");
  return kExitOk;
}

}  // namespace petprep
