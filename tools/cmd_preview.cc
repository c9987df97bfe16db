// petprep preview: a grid of augmented samples with their masks, as a PNG.
#include <cstdio>

#include "pipeline/core/atomic_file.h"
#include "pipeline/loader/preview.h"
#include "tools/cli.h"

namespace petprep {

int RunPreview(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Draw the first COUNT samples the loader gives for a split and epoch, augmented as "
           "training sees them, in a grid with each mask overlaid (pet orange, border yellow) "
           "and labelled with the pet id and epoch. The same options always draw the same "
           "picture.",
           "petprep preview --data data/dataset --split train --count 16 --seed 42 --out grid.png");
  std::string data, split = "train", augment_path, out;
  PreviewOptions o;
  app.add_option("--data", data, "The dataset folder (DATA/dataset)")->required()->type_name("DIR");
  app.add_option("--split", split, "Which split")->capture_default_str();
  app.add_option("--count", o.count, "Samples to draw")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--seed", o.loader.seed, "Seed of the order and the augmentation")
      ->capture_default_str();
  app.add_option("--epoch", o.epoch, "Which epoch's order and draws")->capture_default_str();
  app.add_option("--augment", augment_path, "Augmentation spec (JSON)")->type_name("SPEC.json");
  app.add_option("--out", out, "The PNG to write")->required()->type_name("FILE");
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  if (!augment_path.empty()) {
    auto spec = AugmentSpec::FromFile(augment_path);
    if (!spec.ok()) return ReportError(ctx, spec.status());
    o.loader.augment = *spec;
  }
  auto dataset = DatasetReader::Open(data);
  if (!dataset.ok()) return ReportError(ctx, dataset.status());
  auto reader = (*dataset)->Split(split);
  if (!reader.ok()) return ReportError(ctx, reader.status());
  Status s = WritePreview(*reader, (*dataset)->image_size(), o, out);
  if (!s.ok()) return ReportError(ctx, s);
  std::printf("%s\n", out.c_str());
  return kExitOk;
}

}  // namespace petprep
