#pragma once
// A head search split over several processes (the runner's MPI ranks), without any MPI here: which
// candidate heads a rank measures, the checkpoint file each rank resumes from, the text the ranks
// send their measurements to rank 0 in, and rank 0's merge. Every rank runs the ordinary search on its share, so
// each head's measurement is computed exactly as in a single process and the merge is bit-identical.
#include <act/eval/search/head_search.hpp>
#include <act/eval/search/search_checkpoint.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace act::eval {

// Every ranks-th candidate from the rank-th on. Candidates are in (layer, head) order and a head's
// cost depends on its layer only, so each rank gets about as many heads of every layer as the
// others: the shares cost the same to within one head per layer.
inline std::vector<HeadId> heads_for_rank(const std::vector<HeadId>& candidates, std::size_t rank, std::size_t ranks) {
  if (ranks == 0 || rank >= ranks)
    throw std::invalid_argument("act: heads_for_rank needs rank < ranks (got rank " + std::to_string(rank) + " of " +
                                std::to_string(ranks) + ")");
  std::vector<HeadId> out;
  for (std::size_t i = rank; i < candidates.size(); i += ranks) out.push_back(candidates[i]);
  return out;
}

// "<path>.rank<r>-of-<n>": a rank's own checkpoint, so a restart with as many ranks resumes each.
inline std::filesystem::path rank_checkpoint(const std::filesystem::path& path, std::size_t rank, std::size_t ranks) {
  return path.string() + ".rank" + std::to_string(rank) + "-of-" + std::to_string(ranks);
}

// One rank's share of a search as text for rank 0: its baseline (to check that every rank
// computed the same), its heads in the checkpoint's row layout, how many it resumed.
inline std::string share_text(const SearchResult& share) {
  nlohmann::json rows = nlohmann::json::array();
  for (const HeadEffect& e : share.heads) rows.push_back(effect_row(e));
  return nlohmann::json{{"baseline_correct", share.baseline.correct},
                        {"baseline_margin_sum", share.baseline.margin_sum},
                        {"resumed", share.resumed},
                        {"seconds", share.seconds},
                        {"heads", rows}}
      .dump();
}

namespace detail {

inline std::vector<HeadEffect> share_heads(const nlohmann::json& share, std::size_t prompts, const std::string& from) {
  std::vector<HeadEffect> out;
  for (const auto& row : share.at("heads")) {
    std::map<std::string, double> values;
    for (const auto& [key, value] : row.at("values").items()) values[key] = value.get<double>();
    try {
      out.push_back(HeadEffect::from_values({row.at("layer").get<std::uint32_t>(), row.at("head").get<std::uint32_t>()},
                                            values, prompts));
    } catch (const FormatError& e) {
      throw FormatError("act: " + from + ": " + e.what());
    }
  }
  return out;
}

}  // namespace detail

// Rank 0's merge of every rank's share_text (texts[r] from rank r) with its own result `own`: the
// union of the heads in (layer, head) order, as the single-process search lists them. Throws
// act::FormatError when a share is malformed, measures a head twice, or saw another baseline
// (a rank with another build, model or thread split computes other floats).
inline SearchResult merge_shares(const SearchResult& own, const std::vector<std::string>& texts, std::size_t prompts) {
  SearchResult merged;
  merged.baseline = own.baseline;
  std::map<HeadId, std::size_t> owner;
  for (std::size_t r = 0; r < texts.size(); ++r) {
    const std::string from = "rank " + std::to_string(r);
    const auto share = nlohmann::json::parse(texts[r], nullptr, false);
    try {
      if (share.at("baseline_correct").get<std::size_t>() != own.baseline.correct ||
          share.at("baseline_margin_sum").get<double>() != own.baseline.margin_sum)
        throw FormatError("act: " + from +
                          " computed another baseline than rank 0 (another build, model or --work-split?)");
      for (HeadEffect& e : detail::share_heads(share, prompts, from)) {
        if (!owner.emplace(e.id, r).second)
          throw FormatError("act: head " + std::to_string(e.id.layer) + ":" + std::to_string(e.id.head) +
                            " was measured by ranks " + std::to_string(owner.at(e.id)) + " and " + std::to_string(r));
        merged.heads.push_back(std::move(e));
      }
      merged.resumed += share.at("resumed").get<std::size_t>();
      merged.seconds = std::max(merged.seconds, share.at("seconds").get<double>());
    } catch (const nlohmann::json::exception& e) {
      throw FormatError("act: " + from + " sent a malformed share: " + e.what());
    }
  }
  std::sort(merged.heads.begin(), merged.heads.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return merged;
}

}  // namespace act::eval
