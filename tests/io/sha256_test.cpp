#include <act/io/sha256.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using act::io::sha256_hex;

TEST_CASE("sha256: FIPS 180-4 test vectors", "[io][sha256]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: the digest does not depend on how the input is split", "[io][sha256]") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>(i * 7);
  for (std::size_t piece : {1u, 3u, 63u, 64u, 65u, 500u}) {
    act::io::Sha256 hash;
    for (std::size_t at = 0; at < text.size(); at += piece) hash.update(std::string_view(text).substr(at, piece));
    CHECK(hash.hex_digest() == sha256_hex(text));
  }
}

TEST_CASE("sha256: files, and a digest file beside a model", "[io][sha256]") {
  const auto dir = std::filesystem::temp_directory_path();
  const auto model = dir / "act_sha_model.bin";
  { std::ofstream(model, std::ios::binary) << "abc"; }
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  CHECK(act::io::file_sha256(model) == abc);
  std::filesystem::remove(model.string() + ".sha256");
  CHECK(act::io::model_sha256(model) == abc);
  const std::string other = std::string(64, 'A');
  { std::ofstream(model.string() + ".sha256") << other << "  act_sha_model.bin\n"; }
  CHECK(act::io::model_sha256(model) == std::string(64, 'a'));
  { std::ofstream(model.string() + ".sha256") << "not a digest\n"; }
  CHECK(act::io::model_sha256(model) == abc);
  std::filesystem::remove(model.string() + ".sha256");
  std::filesystem::remove(model);
  CHECK_THROWS_AS(act::io::file_sha256(model), act::Error);
}
