#include "pipeline/core/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace petprep {
namespace {

std::atomic<int> g_signals{0};

extern "C" void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) {
    static const char kMsg[] = "\npetprep: interrupted again, exiting now\n";
    ssize_t ignored = ::write(2, kMsg, sizeof kMsg - 1);
    (void)ignored;
    ::_exit(130);
  }
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and see the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool InterruptRequested() { return g_signals.load(std::memory_order_relaxed) > 0; }

Status CheckInterrupt() {
  return InterruptRequested() ? Status::Interrupted("interrupted by signal") : Status::Ok();
}

void RequestInterrupt() { g_signals.store(1); }
void ClearInterrupt() { g_signals.store(0); }

}  // namespace petprep
