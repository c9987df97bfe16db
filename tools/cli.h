// The CLI's shared plumbing: the command table entry, flag parsing, and turning a Status
// into a message and an exit code. Only tools/ exits; the library returns Status.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "tools/exit_status.h"

namespace petprep {

struct CommandContext {
  std::string name;               // the subcommand, e.g. "synth"
  std::vector<std::string> args;  // everything after it
  bool quiet = false;             // --quiet given before the subcommand
};

struct Command {
  const char* name;
  const char* summary;  // one line for `petprep --help`
  int (*run)(CommandContext& ctx);
};

// Sets up `app` for a subcommand: name "petprep <cmd>", its description, an example shown
// at the end of --help, and --quiet.
void SetupApp(CLI::App& app, CommandContext& ctx, const std::string& description,
              const std::string& example);

// Parses ctx.args. Returns true to go on; otherwise *exit_code is 0 (--help printed) or
// kExitUsage (the error printed).
bool ParseArgs(CLI::App& app, CommandContext& ctx, int* exit_code);

// --max-pixels, on every command that decodes pictures it is given.
void AddMaxPixels(CLI::App& app, uint64_t* max_pixels);

// Prints "petprep <cmd>: error: ..." (or "interrupted") to stderr; returns the exit code.
int ReportError(const CommandContext& ctx, const Status& status);

// Commands.
int RunBatches(CommandContext& ctx);
int RunCalibrate(CommandContext& ctx);
int RunDiff(CommandContext& ctx);
int RunDownload(CommandContext& ctx);
int RunEnv(CommandContext& ctx);
int RunPartition(CommandContext& ctx);
int RunPreview(CommandContext& ctx);
int RunSelftest(CommandContext& ctx);
int RunTrain(CommandContext& ctx);
int RunEval(CommandContext& ctx);
int RunPredict(CommandContext& ctx);
int RunReport(CommandContext& ctx);
int RunSynth(CommandContext& ctx);
int RunVerify(CommandContext& ctx);

}  // namespace petprep
