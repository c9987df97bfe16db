// The exit codes of the petprep CLI, in one place.
#pragma once

namespace petprep {

enum ExitStatus : int {
  kExitOk = 0,
  kExitFailure = 1,        // the command ran and failed (bad data, I/O, a check)
  kExitUsage = 2,          // the command line is wrong
  kExitInterrupted = 130,  // SIGINT / SIGTERM: stopped cleanly after the current unit
};

}  // namespace petprep
