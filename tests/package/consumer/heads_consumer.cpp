// act::heads from a downstream project: write a head-set file, load it, ask for a layer's mask.
#include <act/heads/head_set.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

int main() {
  const auto path = std::filesystem::temp_directory_path() / "act_heads_consumer.json";
  std::ofstream(path) << R"({"format": "act-head-set", "version": 1, "model": "consumer", "beta": 0.4, "tau": 0.1,
                             "heads": [[3, 5], [4, 0]]})";
  const act::HeadSet heads = act::HeadSet::load(path);
  std::filesystem::remove(path);
  const auto mask = heads.layer_mask(3, 9);
  if (heads.size() != 2 || mask.size() != 9 || !mask[5] || mask[0]) return std::puts("unexpected head set"), 1;
  std::puts("act consumer ok (heads)");
  return 0;
}
