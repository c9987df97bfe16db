// petprep train: the U-Net, reproducible bit for bit across thread counts and resume.
#include <cmath>
#include <cstdio>

#include "pipeline/train/trainer.h"
#include "tools/cli.h"

namespace petprep {

int RunTrain(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Train the U-Net (widths 16-32-64-128 by default: [conv3x3, BatchNorm, ReLU] x2 per "
           "level, max-pool down, transposed conv up, skip concatenation, 1x1 head to pet / "
           "background / border) with Adam on DATA/dataset's train split, validating after each "
           "epoch. RUN gets config.json, metrics.jsonl (loss, batch and weight hashes per step; "
           "validation metrics per epoch), checkpoints/ (the last few step-NNNNNNNN.ckpt and "
           "best.ckpt) and summary.json (weights_sha256, test metrics). The weights after step N "
           "are the same bits for any --threads and after --resume. --config takes the blog's "
           "hyperparameter file (batch_size, epochs, iterations, learning_rate, model_arch, "
           "steps_per_epoch); options given here override it. Ctrl-C writes a checkpoint and "
           "exits 130.",
           "petprep train --data data/dataset --out runs/a --epochs 2 --threads 2");
  TrainOptions o;
  std::string loss = LossName(o.loss);
  app.add_option("--data", o.data, "The dataset folder (DATA/dataset)")->type_name("DIR");
  app.add_option("--out", o.out, "The run folder")->required()->type_name("RUN");
  app.add_option("--config", o.config_path, "Hyperparameter JSON (the blog's keys)")
      ->type_name("FILE");
  app.add_option("--seed", o.seed, "Seed of order, augmentation, dropout and initialisation")
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "Epochs")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--steps-per-epoch", o.steps_per_epoch,
                 "Steps per epoch (default: the train split's batches per pass)")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--batch", o.batch, "Samples per batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--lr", o.lr, "Adam's learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--loss", loss, "ce (softmax cross-entropy) or bce-jaccard (the reference's)")
      ->capture_default_str()
      ->check(CLI::IsMember({"ce", "bce-jaccard"}));
  app.add_option("--augment", o.augment_path,
                 "Augmentation spec (JSON; default: horizontal flip p 0.5)")
      ->type_name("SPEC.json");
  app.add_option("--widths", o.widths, "Channels per level, e.g. --widths 16 32 64 128")
      ->expected(1, 8);
  app.add_option("--dropout", o.dropout, "Dropout after the bottleneck")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.95));
  app.add_option("--threads", o.threads, "Threads (default: all cores; never changes a result)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--device", o.device,
                 "The ops backend: cpu, cuda (a GPU), or cuda-sim (the CUDA backend's code on the "
                 "host: slow, for proving it where no GPU is); never changes a result. With "
                 "--resume it switches the run's device (default: the device it ran on)")
      ->capture_default_str()
      ->check(CLI::IsMember(BuiltInBackends()));
  app.add_option("--hash-every", o.hash_every, "Weights SHA-256 in metrics.jsonl every K steps")
      ->capture_default_str();
  app.add_option("--max-steps", o.max_steps,
                 "Stop when the global step reaches N (a checkpoint is written)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  app.add_option("--keep", o.keep_checkpoints, "Step checkpoints to keep")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--trace-steps", o.trace_steps,
                 "For steps A to B (as metrics.jsonl numbers them), the SHA-256 of every op's "
                 "output and gradient in execution order, in RUN/trace.txt (for petprep diff)")
      ->type_name("A:B");
  app.add_flag("--trace-tensors", o.trace_tensors,
               "With --trace-steps, keep those tensors too (RUN/trace/step-N/OP.KIND.npy)");
  app.add_flag("--resume", o.resume, "Continue the run in --out from its newest checkpoint");
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  for (const char* name :
       {"data", "seed", "epochs", "steps-per-epoch", "batch", "lr", "loss", "widths", "dropout",
        "hash-every", "device", "trace-steps", "trace-tensors"}) {
    if (app.count(std::string("--") + name) > 0) o.given.insert(name);
  }
  if (!o.resume && o.data.empty()) {
    return ReportError(ctx,
                       Status::InvalidArgument(
                           "--data is required (the partitioned dataset; run: petprep partition)"));
  }
  o.loss = *ParseLoss(loss, "--loss");  // CLI11 checked it is one of the two
  o.quiet = ctx.quiet;
  o.on_device = [](const std::string& device) {
    std::printf("device: %s\n", device.c_str());
    std::fflush(stdout);
  };
  TrainResult r;
  Status s = Train(o, &r);
  for (const std::string& n : r.notes) std::fprintf(stderr, "petprep train: note: %s\n", n.c_str());
  if (s.IsInterrupted()) std::fprintf(stderr, "petprep train: %s\n", s.message().c_str());
  if (!s.ok()) return ReportError(ctx, s);
  std::printf("steps %llu of %llu%s\n", static_cast<unsigned long long>(r.steps),
              static_cast<unsigned long long>(r.total_steps), r.finished ? "" : " (stopped early)");
  if (r.validation && !std::isnan(r.validation->mean_iou)) {
    std::printf("validation mean IoU %.4f, loss %.4f\n", r.validation->mean_iou,
                r.validation->loss);
  }
  if (r.test && !std::isnan(r.test->mean_iou)) {
    std::printf("test mean IoU %.4f\n", r.test->mean_iou);
  }
  std::printf("weights sha256: %s\n", r.weights_sha256.c_str());
  return kExitOk;
}

}  // namespace petprep
