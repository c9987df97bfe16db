// petprep batches: the loader's batches as hashes, to check order and augmentation.
#include <cstdio>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/progress.h"
#include "pipeline/loader/loader.h"
#include "tools/cli.h"

namespace petprep {

int RunBatches(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Run the loader over a split and print one line per batch: '<epoch> <step> <sha256 of "
           "the batch> <pet_id>...', then 'batches fingerprint: <hex>'. The lines are the same "
           "for any --threads, on CPU and CUDA, and after a resume: --start-step K prints "
           "exactly the lines with step >= K of the full run, computed from the loader's state "
           "at K, not by replaying. Without --augment the default augmentation applies (a "
           "horizontal flip with p = 0.5; reference normalization x/128 - 1).",
           "petprep batches --data data/dataset --batch 8 --epochs 2 --seed 7 --threads 2");
  std::string data, split = "train", augment_path, device = "cpu";
  LoaderOptions o;
  int epochs = 1;
  uint64_t start_step = 0;
  bool no_augment = false, no_shuffle = false;
  app.add_option("--data", data, "The dataset folder (DATA/dataset)")->required()->type_name("DIR");
  app.add_option("--split", split, "Which split")->capture_default_str();
  app.add_option("--batch", o.batch, "Samples per batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--epochs", epochs, "Passes over the split")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--seed", o.seed, "Seed of the order and the augmentation")->capture_default_str();
  auto* aug =
      app.add_option("--augment", augment_path, "Augmentation spec (JSON)")->type_name("SPEC.json");
  app.add_flag("--no-augment", no_augment, "No augmentation (normalization only)")->excludes(aug);
  app.add_flag("--no-shuffle", no_shuffle, "Keep the stored order (pet id order)");
  app.add_flag("--drop-last", o.drop_last, "Drop each epoch's short last batch");
  app.add_option("--threads", o.threads, "Decode and augment threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--device", device,
                 "Where augmentation runs: cpu, cuda (a GPU), cuda-sim (the CUDA kernels on the "
                 "host: slow)")
      ->capture_default_str()
      ->check(CLI::IsMember(AugmentBackendNames()));
  app.add_option("--start-step", start_step, "Begin at this step (resume)")->capture_default_str();
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;

  if (no_augment) {
    o.augment = AugmentSpec::None();
  } else if (!augment_path.empty()) {
    auto spec = AugmentSpec::FromFile(augment_path);
    if (!spec.ok()) return ReportError(ctx, spec.status());
    o.augment = *spec;
  }
  o.shuffle = !no_shuffle;
  auto augment = MakeAugmentBackend(device);
  if (!augment.ok()) return ReportError(ctx, augment.status());
  o.augment_backend = augment->get();
  auto dataset = DatasetReader::Open(data);
  if (!dataset.ok()) return ReportError(ctx, dataset.status());
  auto reader = (*dataset)->Split(split);
  if (!reader.ok()) return ReportError(ctx, reader.status());
  Loader loader(*reader, (*dataset)->image_size(), o);
  uint64_t end = loader.batches_per_epoch() * static_cast<uint64_t>(epochs);
  Sha256 fingerprint;
  Progress progress("batches", end > start_step ? end - start_step : 0, Progress::Unit::kItems,
                    "batches");
  auto stream = loader.Open(start_step, end);
  if (!stream.ok()) return ReportError(ctx, stream.status());
  Batch b;
  for (;;) {
    auto more = (*stream)->Next(&b);
    if (!more.ok()) return ReportError(ctx, more.status());
    if (!*more) break;
    Sha256Digest d = b.Digest();
    fingerprint.Update(d.data(), d.size());
    std::printf("%u %llu %s", b.epoch, static_cast<unsigned long long>(b.step), ToHex(d).c_str());
    for (const std::string& id : b.pet_ids) std::printf(" %s", id.c_str());
    std::printf("\n");
    progress.Add(1);
  }
  progress.Finish();
  std::printf("batches fingerprint: %s\n", ToHex(fingerprint.Finish()).c_str());
  return kExitOk;
}

}  // namespace petprep
