#pragma once
// The library's one way to run work on several threads: OpenMP when the build has it (act::act
// links OpenMP unless ACT_WITH_OPENMP is off), one thread otherwise, with the same results. Every
// parallel region of the kernels, the model and the evaluation goes through these helpers, so an
// exception thrown inside a region (a user's GEMM, a policy, a bad prompt) is carried out of it and
// rethrown on the calling thread instead of terminating the program.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>

#if defined(_OPENMP)
#include <omp.h>
// An OpenMP directive that disappears (without an unknown-pragma warning) in builds without OpenMP.
#define ACT_OMP_PRAGMA(text) _Pragma(#text)
#define ACT_OMP(...) ACT_OMP_PRAGMA(omp __VA_ARGS__)
#else
#define ACT_OMP(...)
#endif

namespace act::parallel {

// Most threads one region is given: libgomp keeps per-thread state on the stack of the thread that
// starts a region, and crashed (SIGSEGV) when asked for 65,281 or more.
inline constexpr int max_threads = 1024;

// The threads a region may use when the caller asks for `requested` (0 or less: the default;
// above max_threads: max_threads).
inline int resolve_threads(int requested) noexcept {
#if defined(_OPENMP)
  return requested > 0 ? std::min(requested, max_threads) : omp_get_max_threads();
#else
  (void)requested;
  return 1;
#endif
}

// The calling thread's index within the innermost parallel region (0 outside any region).
inline std::size_t thread_index() noexcept {
#if defined(_OPENMP)
  return static_cast<std::size_t>(omp_get_thread_num());
#else
  return 0;
#endif
}

// Keeps the first exception thrown by any thread of a region; the region runs to its end (every
// thread still reaches every barrier) and the exception is rethrown after it.
class FirstException {
 public:
  // Runs work(), keeping its exception if it is the first one; skips it once one is kept.
  template <class Work>
  void guard(Work&& work) noexcept {
    if (caught()) return;
    try {
      work();
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!failure_) failure_ = std::current_exception();
      caught_.store(true, std::memory_order_release);  // failure_ is written before and never again
    }
  }
  bool caught() const noexcept { return caught_.load(std::memory_order_relaxed); }
  // The kept exception (null if none), safe to read while other threads may still be working.
  std::exception_ptr first() const noexcept {
    return caught_.load(std::memory_order_acquire) ? failure_ : std::exception_ptr{};
  }
  void rethrow() const {
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr failure_;
  std::atomic<bool> caught_{false};
};

// fn(i) for i in [0, count) on `threads` threads, dynamically scheduled (items may differ in
// length). The first exception is rethrown here; items not yet started are skipped after it.
template <class Fn>
void parallel_for(std::size_t count, [[maybe_unused]] int threads, Fn&& fn) {
  FirstException failure;
  ACT_OMP(parallel for schedule(dynamic, 1) num_threads(resolve_threads(threads)))
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i)
    failure.guard([&] { fn(static_cast<std::size_t>(i)); });
  failure.rethrow();
}

// body(thread index) once on each of `threads` threads (a team for per-thread scratch).
template <class Body>
void run_team([[maybe_unused]] int threads, Body&& body) {
  FirstException failure;
  ACT_OMP(parallel num_threads(resolve_threads(threads)))
  failure.guard([&] { body(thread_index()); });
  failure.rethrow();
}

}  // namespace act::parallel
