// Cooperative interruption: SIGINT / SIGTERM set a flag that long work polls between units.
//
// The first signal asks work to stop after the current unit (a file, a batch, a step) so
// that everything written so far stays consistent; a second one ends the process at once
// with exit code 130. Thread-safe: the flag is an atomic.
#pragma once

#include "pipeline/core/status.h"

namespace petprep {

// Installs the SIGINT and SIGTERM handlers. Idempotent.
void InstallInterruptHandlers();

// True once a signal arrived (or RequestInterrupt() was called).
bool InterruptRequested();

// Status::Interrupted() when an interrupt is pending, else OK.
Status CheckInterrupt();

// For tests and for code that stops work on its own behalf.
void RequestInterrupt();
void ClearInterrupt();

}  // namespace petprep
