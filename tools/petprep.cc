// petprep: the command-line entry point and the table of subcommands.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "petprep/build_info.h"
#include "pipeline/core/interrupt.h"
#include "pipeline/train/float_env.h"
#include "tools/cli.h"

namespace petprep {
namespace {

int RunHelp(CommandContext& ctx);

const std::vector<Command> kCommands = {
    {"download", "fetch and verify the Oxford-IIIT Pet archives (resumable; mirrors; --from DIR)",
     RunDownload},
    {"partition", "MD5 10-fold splits into sharded records with a fingerprinted manifest",
     RunPartition},
    {"verify", "check a partitioned dataset against its manifest (--deep: every record)",
     RunVerify},
    {"batches", "the loader's batches as hashes: order and augmentation, reproducible", RunBatches},
    {"preview", "a PNG grid of augmented samples with their masks overlaid", RunPreview},
    {"train", "train the U-Net; the same weights for any thread count and after a resume",
     RunTrain},
    {"eval", "a training run's metrics on a split (mean IoU, per-class IoU, F1, accuracy)",
     RunEval},
    {"predict", "segment images with a run's weights: mask and overlay PNGs", RunPredict},
    {"calibrate", "fit a temperature on the calibration split: NLL and ECE before and after",
     RunCalibrate},
    {"report",
     "one self-contained HTML page about a run: curves, metrics, calibration, "
     "predictions, provenance",
     RunReport},
    {"diff",
     "whether two training runs are the same, and if not the first step and op where "
     "they part",
     RunDiff},
    {"selftest", "check that this machine computes petprep's canonical training arithmetic",
     RunSelftest},
    {"env", "print versions, build flags, CPU and CUDA devices (the provenance block)", RunEnv},
    {"synth", "write a synthetic dataset in the exact Oxford-IIIT Pet archive layout", RunSynth},
    {"help", "explain a command: petprep help CMD", RunHelp},
};

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "usage: petprep [--quiet] [--help] [--version] COMMAND [options]\n\n"
               "petprep %s: the Oxford-IIIT Pet dataset and a U-Net, reproducible bit for bit.\n\n"
               "commands:\n",
               PETPREP_VERSION);
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\nglobal options (before or after the command):\n"
               "  -q, --quiet   no progress output on stderr\n"
               "  -h, --help    this list, or a command's options\n\n"
               "Run 'petprep help COMMAND' or 'petprep COMMAND --help' for a command's options.\n");
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int UnknownCommand(const std::string& name) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const Command& c : kCommands) {
    size_t d = EditDistance(name, c.name);
    if (std::string(c.name).rfind(name, 0) == 0 && !name.empty()) d = 0;
    if (d < best_d) {
      best_d = d;
      best = c.name;
    }
  }
  std::fprintf(stderr, "petprep: unknown command '%s'", name.c_str());
  if (best_d <= std::max<size_t>(2, name.size() / 3)) {
    std::fprintf(stderr, "; did you mean '%s'?", best.c_str());
  }
  std::fprintf(stderr, "\nRun 'petprep --help' for the list of commands.\n");
  return kExitUsage;
}

int RunHelp(CommandContext& ctx) {
  std::vector<std::string> names;
  for (const std::string& a : ctx.args) {
    if (a != "-q" && a != "--quiet" && a != "-h" && a != "--help") names.push_back(a);
  }
  if (names.empty()) {
    PrintUsage(stdout);
    return kExitOk;
  }
  const Command* c = FindCommand(names[0]);
  if (c == nullptr || c->run == RunHelp) {
    if (c != nullptr) {
      PrintUsage(stdout);
      return kExitOk;
    }
    return UnknownCommand(names[0]);
  }
  CommandContext sub{c->name, {"--help"}, ctx.quiet};
  return c->run(sub);
}

}  // namespace
}  // namespace petprep

int main(int argc, char** argv) {
  using namespace petprep;
  // Before any thread starts (threads inherit the floating-point environment).
  const FloatEnv fp_before = ClearFlushToZero();
  InstallInterruptHandlers();
  bool quiet = false, help = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string a = argv[i];
    if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a == "-h" || a == "--help") {
      help = true;
    } else if (a == "--version") {
      std::printf("petprep %s (commit %s)\n", PETPREP_VERSION, PETPREP_GIT_COMMIT);
      return kExitOk;
    } else {
      std::fprintf(stderr, "petprep: unknown option '%s'\nRun 'petprep --help' for usage.\n",
                   a.c_str());
      return kExitUsage;
    }
  }
  if (i >= argc) {
    PrintUsage(help ? stdout : stderr);
    return help ? kExitOk : kExitUsage;
  }
  if (!fp_before.ok() && !quiet) {
    std::fprintf(stderr,
                 "petprep: note: the CPU's %s mode was on (a library built with -Ofast or "
                 "-ffast-math sets it); cleared, so subnormal numbers are computed as IEEE "
                 "requires\n",
                 fp_before.Describe().c_str());
  }
  std::string name = argv[i++];
  const Command* command = FindCommand(name);
  if (command == nullptr) return UnknownCommand(name);
  CommandContext ctx{name, std::vector<std::string>(argv + i, argv + argc), quiet};
  if (quiet) ctx.args.push_back("--quiet");
  if (help) ctx.args.push_back("--help");
  try {
    return command->run(ctx);
  } catch (const std::bad_alloc&) {
    // Every size petprep reads is bounded; what is left is a machine with too little memory.
    std::fprintf(stderr,
                 "petprep %s: error: out of memory (free some, or use smaller inputs: --size, "
                 "--batch, --max-pixels)\n",
                 name.c_str());
    return kExitFailure;
  } catch (const std::exception& e) {
    // Library code returns Status; anything thrown is a bug, reported rather than aborting.
    std::fprintf(stderr, "petprep %s: internal error: %s\n", name.c_str(), e.what());
    return kExitFailure;
  }
}
