// SearchRanks over MPI: joins the launch when the process was started by mpirun or srun (their
// environment says so), else runs alone as rank 0 of 1 without initialising MPI, so a plain
// `act-llama search-heads` behaves as in a build without MPI.
#include "../search_ranks.hpp"

// Only MPI's C interface is used; Open MPI's C++ bindings (deprecated) do not compile warning-free.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdlib>
#include <numeric>

namespace act_llama {
namespace {

// Open MPI's mpirun, and Slurm's srun with PMI-2 or PMIx, set one of these in every rank.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

void check(int code, const char* what) {
  if (code != MPI_SUCCESS)
    throw act::Error(std::string("MPI: ") + what + " failed (code " + std::to_string(code) + ")");
}

}  // namespace

SearchRanks::SearchRanks() {
  if (!launched_by_mpi()) return;
  check(MPI_Init(nullptr, nullptr), "MPI_Init");
  joined_ = true;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  rank_ = static_cast<std::size_t>(rank);
  size_ = static_cast<std::size_t>(size);
}

SearchRanks::~SearchRanks() {
  if (joined_) MPI_Finalize();
}

namespace {

// Lengths first, then the texts end to end; `everyone` chooses Allgather(v) over Gather(v) to rank 0.
std::vector<std::string> exchange(const std::string& text, std::size_t ranks, bool everyone, bool root) {
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(ranks), offsets(ranks);
  if (everyone)
    check(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  else
    check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::exclusive_scan(lengths.begin(), lengths.end(), offsets.begin(), 0);
  const bool receives = everyone || root;
  std::string all(receives ? static_cast<std::size_t>(offsets.back() + lengths.back()) : 0, '\0');
  if (everyone)
    check(MPI_Allgatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
                         MPI_COMM_WORLD),
          "MPI_Allgatherv");
  else
    check(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
                      MPI_COMM_WORLD),
          "MPI_Gatherv");
  std::vector<std::string> out;
  if (!receives) return out;
  for (std::size_t r = 0; r < ranks; ++r)
    out.push_back(all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lengths[r])));
  return out;
}

}  // namespace

std::vector<std::string> SearchRanks::gather(const std::string& text) const {
  return joined_ ? exchange(text, size_, false, rank_ == 0) : std::vector<std::string>{text};
}

std::vector<std::string> SearchRanks::all_gather(const std::string& text) const {
  return joined_ ? exchange(text, size_, true, rank_ == 0) : std::vector<std::string>{text};
}

}  // namespace act_llama
