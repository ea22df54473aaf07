#pragma once
// The processes one head search runs in: this process alone, or the ranks of an MPI launch
// (`mpirun -np N act-llama search-heads ...`, or `srun` under Slurm). Built with MPI, the runner
// joins a launch when it was started by one (ranks/search_ranks_mpi.cpp); built without it, or
// started directly, it is rank 0 of 1 (ranks/search_ranks_single.cpp). MPI stays in the runner:
// the library only splits and merges the heads (include/act/eval/search/head_partition.hpp).
#include <act/core/error.hpp>

#include "subcommands.hpp"

#include <cstddef>
#include <cstdio>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

namespace act_llama {

class SearchRanks {
 public:
  SearchRanks();
  ~SearchRanks();
  SearchRanks(const SearchRanks&) = delete;
  SearchRanks& operator=(const SearchRanks&) = delete;

  std::size_t rank() const noexcept { return rank_; }
  std::size_t size() const noexcept { return size_; }
  // Started by mpirun or srun (perhaps as its only rank), rather than directly.
  bool launched() const noexcept { return joined_; }

  // Runs `step` on every rank and returns its result. If it throws on any rank, it throws on
  // every rank, so no rank is left waiting for a failed one in a later exchange. Over several
  // ranks each prints its line before any exits (mpirun stops the others when one exits non-zero):
  // rank 0 every failed rank's message, a failed rank its own error, the others the failed ranks'
  // numbers; then each throws ReportedFailure.
  template <class Step>
  auto together(Step step) -> decltype(step()) {
    std::exception_ptr error;
    if constexpr (std::is_void_v<decltype(step())>) {
      try {
        step();
      } catch (...) {
        error = std::current_exception();
      }
      settle(error);
    } else {
      decltype(step()) out{};
      try {
        out = step();
      } catch (...) {
        error = std::current_exception();
      }
      settle(error);
      return out;
    }
  }

  // Every rank's `text`, in rank order, at rank 0; empty elsewhere.
  std::vector<std::string> gather(const std::string& text) const;

 private:
  // Every rank's `text`, in rank order, at every rank.
  std::vector<std::string> all_gather(const std::string& text) const;

  static std::string message_of(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown error";
    }
  }

  void settle(const std::exception_ptr& error) const {
    const auto all = all_gather(error ? "!" + message_of(error) : std::string());
    std::string failures, names;
    for (std::size_t r = 0; r < all.size(); ++r) {
      if (all[r].empty()) continue;
      failures += (failures.empty() ? "" : "; ") + ("rank " + std::to_string(r) + ": ") + all[r].substr(1);
      names += (names.empty() ? "" : ", ") + std::to_string(r);
    }
    if (failures.empty()) return;
    if (size_ == 1) std::rethrow_exception(error);
    const std::string line = rank_ == 0 ? failures
                             : error    ? message_of(error)
                                        : "rank " + std::to_string(rank_) + " stops: rank " + names + " failed";
    std::fprintf(stderr, "act-llama: error: %s\n", line.c_str());
    std::fflush(stderr);
    all_gather(std::string());  // every rank has printed
    throw ReportedFailure(line);
  }

  std::size_t rank_ = 0;
  std::size_t size_ = 1;
  bool joined_ = false;  // MPI was initialised here and must be finalised
};

}  // namespace act_llama
