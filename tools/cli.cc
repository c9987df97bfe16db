#include "tools/cli.h"

#include <algorithm>
#include <cstdio>

#include "pipeline/core/progress.h"

namespace petprep {

void SetupApp(CLI::App& app, CommandContext& ctx, const std::string& description,
              const std::string& example) {
  app.name("petprep " + ctx.name);
  app.description(description);
  app.footer("Example:\n  " + example + "\n");
  app.add_flag("-q,--quiet", ctx.quiet, "No progress output on stderr");
  app.get_formatter()->column_width(34);
}

bool ParseArgs(CLI::App& app, CommandContext& ctx, int* exit_code) {
  std::vector<std::string> reversed(ctx.args.rbegin(), ctx.args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    *exit_code = kExitOk;
    return false;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "petprep %s: error: %s\nRun 'petprep %s --help' for usage.\n",
                 ctx.name.c_str(), e.what(), ctx.name.c_str());
    *exit_code = kExitUsage;
    return false;
  }
  ProgressOptions progress = ProgressDefaults();
  progress.quiet = ctx.quiet;
  SetProgressDefaults(progress);
  return true;
}

void AddMaxPixels(CLI::App& app, uint64_t* max_pixels) {
  app.add_option("--max-pixels", *max_pixels,
                 "Refuse a picture whose header declares more pixels, before decoding it "
                 "(default 100000000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->type_name("N");
}

int ReportError(const CommandContext& ctx, const Status& status) {
  if (status.ok()) return kExitOk;
  if (status.IsInterrupted()) {
    std::fprintf(stderr, "petprep %s: interrupted; what was complete is kept\n", ctx.name.c_str());
    return kExitInterrupted;
  }
  std::fprintf(stderr, "petprep %s: error: %s\n", ctx.name.c_str(), status.message().c_str());
  return status.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace petprep
