// SearchRanks for a runner built without MPI: one process, rank 0 of 1.
#include "../search_ranks.hpp"

namespace act_llama {

SearchRanks::SearchRanks() = default;
SearchRanks::~SearchRanks() = default;

std::vector<std::string> SearchRanks::gather(const std::string& text) const { return {text}; }

std::vector<std::string> SearchRanks::all_gather(const std::string& text) const { return {text}; }

}  // namespace act_llama
