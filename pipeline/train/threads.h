// Runs work with exactly N oneTBB threads (more than the cores if asked), so that tests and
// the selftest can show that a result does not depend on the thread count.
#pragma once

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <utility>

namespace petprep {

// Calls f() inside an arena of `threads` threads (0: all cores) and returns its result.
template <typename F>
auto WithThreads(int threads, F&& f) {
  if (threads <= 0) threads = tbb::this_task_arena::max_concurrency();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(threads));
  tbb::task_arena arena(threads);
  return arena.execute(std::forward<F>(f));
}

}  // namespace petprep
