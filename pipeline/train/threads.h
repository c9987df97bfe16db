// Runs work with exactly N oneTBB threads (more than the cores if asked), so that tests and
// the selftest can show that a result does not depend on the thread count.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cstdint>
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

// Calls f(i) for i in [0, n) in parallel on the calling arena, in blocks of indices; which
// thread runs which block never changes a result (each index is independent).
template <typename F>
void ParallelElements(int64_t n, F f) {
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, 16384),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      for (int64_t i = r.begin(); i < r.end(); ++i) f(i);
                    });
}

}  // namespace petprep
