// petprep synth: a synthetic dataset in the Oxford-IIIT Pet archive layout, for offline use.
#include <cstdio>

#include "pipeline/core/progress.h"
#include "pipeline/dataset/synth.h"
#include "tools/cli.h"

namespace petprep {

int RunSynth(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Write DIR/images.tar.gz, DIR/annotations.tar.gz and DIR/SHA256SUMS in the exact layout "
           "of the Oxford-IIIT Pet archives: COUNT pets of the 37 breeds, JPEG pictures "
           "150-600 px per side and trimaps (1 pet, 2 background, 3 border). The same --count, "
           "--seed and --defects always give byte-identical archives, whatever --jobs is. With "
           "--defects the archives also hold every defect the real dataset is known to have "
           "(PNG and GIF files named .jpg, grayscale, CMYK, truncated and corrupt JPEGs, .mat "
           "and AppleDouble files, mismatched or broken trimaps, list.txt errors), listed in "
           "DIR/defects.json.",
           "petprep synth --out synth --count 1000 --seed 7 && petprep download --from synth "
           "--out data");
  SynthOptions options;
  app.add_option("--out", options.out_dir, "Folder to write (created if needed)")
      ->required()
      ->type_name("DIR");
  app.add_option("--count", options.count, "Pets without defects")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  app.add_option("--seed", options.seed, "Seed of every picture")->capture_default_str();
  app.add_flag("--defects", options.defects, "Also inject the real dataset's defect kinds");
  app.add_option("--jobs", options.jobs, "Threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;

  Result<SynthSummary> r = WriteSynthDataset(options);
  if (!r.ok()) return ReportError(ctx, r.status());
  const SynthSummary& s = *r;
  std::printf("%s  images.tar.gz  (%s)\n", s.images_sha256.c_str(),
              FormatBytes(static_cast<double>(s.images_bytes)).c_str());
  std::printf("%s  annotations.tar.gz  (%s)\n", s.annotations_sha256.c_str(),
              FormatBytes(static_cast<double>(s.annotations_bytes)).c_str());
  std::printf("pets: %d, image files: %d, trimaps: %d, mean JPEG size: %s, defects: %zu\n", s.pets,
              s.images, s.trimaps, FormatBytes(s.mean_jpeg_bytes).c_str(), s.defects.size());
  std::printf("written to %s\n", options.out_dir.c_str());
  return kExitOk;
}

}  // namespace petprep
