// The layer blocks of a GGUF file (gguf_blocks.hpp): "blk.N." names, and block_count against them.
#include <act/io/gguf_blocks.hpp>

#include <catch2/catch.hpp>

#include "gguf_builder.hpp"

#include <optional>

using act::io::block_index;
using act::testing::GgufBuilder;

TEST_CASE("io.gguf.blocks: the layer index of a tensor name", "[gguf]") {
  CHECK(block_index("blk.0.attn_q.weight") == std::optional<std::size_t>{0});
  CHECK(block_index("blk.29.ffn_down.weight") == std::optional<std::size_t>{29});
  for (const char* other : {"token_embd.weight", "blk.x.attn", "blk.3", "blk..a", "blkk.1.a", "blk.-1.a", "blk.1x.a",
                            "blk.99999999999999999999999.a", ""}) {
    CAPTURE(other);
    CHECK_FALSE(block_index(other).has_value());
  }
}

TEST_CASE("io.gguf.blocks: block_count must cover every layer the tensors name", "[gguf]") {
  const act::testing::Bytes four(16, std::byte{0});
  const auto file = act::io::GgufFile::parse(GgufBuilder()
                                                 .tensor({"token_embd.weight", 0, {4}, four, {}})
                                                 .tensor({"blk.0.attn_norm.weight", 0, {4}, four, {}})
                                                 .tensor({"blk.3.attn_norm.weight", 0, {4}, four, {}})
                                                 .build(),
                                             "blocks.gguf");
  CHECK(act::io::blocks_in_tensors(file) == 4);
  CHECK_NOTHROW(act::io::check_block_count(file, 4));
  CHECK_NOTHROW(act::io::check_block_count(file, 5));  // a missing layer fails where it is read
  CHECK_THROWS_WITH(act::io::check_block_count(file, 3),
                    Catch::Contains("blocks.gguf: block_count is 3 but the file holds tensors of 4 layers"));
}
