// Work on items 0..n-1 in parallel, results consumed one at a time in item order: the shape
// of every petprep stage whose output must not depend on the thread count.
//
// work(i) runs on up to `jobs` threads (oneTBB parallel_pipeline, a bounded number of items
// in flight, no busy waiting); consume(i, result) runs serially in increasing i. The first
// error from consume, or an interrupt, stops the run and is returned.
#pragma once

#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>

#include "pipeline/core/interrupt.h"
#include "pipeline/core/status.h"

namespace petprep {

template <typename Work, typename Consume>
Status OrderedParallel(size_t n, int jobs, Work work, Consume consume) {
  using R = decltype(work(size_t{0}));
  if (jobs <= 0) jobs = tbb::this_task_arena::max_concurrency();
  Status status;
  std::atomic<bool> failed{false};  // read by the first stage while the last one writes status
  size_t next = 0;
  tbb::task_arena arena(jobs);
  arena.execute([&] {
    tbb::parallel_pipeline(
        static_cast<size_t>(2 * jobs + 2),
        tbb::make_filter<void, size_t>(tbb::filter_mode::serial_in_order,
                                       [&](tbb::flow_control& fc) -> size_t {
                                         if (next >= n || failed.load() || InterruptRequested()) {
                                           fc.stop();
                                           return 0;
                                         }
                                         return next++;
                                       }) &
            tbb::make_filter<size_t, std::pair<size_t, std::shared_ptr<R>>>(
                tbb::filter_mode::parallel,
                [&](size_t i) { return std::make_pair(i, std::make_shared<R>(work(i))); }) &
            tbb::make_filter<std::pair<size_t, std::shared_ptr<R>>, void>(
                tbb::filter_mode::serial_in_order,
                [&](const std::pair<size_t, std::shared_ptr<R>>& item) {
                  if (!status.ok()) return;
                  status = consume(item.first, *item.second);
                  if (!status.ok()) failed.store(true);
                }));
  });
  PETPREP_RETURN_IF_ERROR(status);
  return CheckInterrupt();
}

}  // namespace petprep
