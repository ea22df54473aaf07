// act::llama from a downstream project: the model's layers and the io helpers, no model file needed.
#include <act/io/sha256.hpp>
#include <act/model/rms_norm.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const std::vector<float> x = {3.0f, 4.0f}, weight = {1.0f, 1.0f};
  std::vector<float> y(2);
  act::model::rms_norm_row(x.data(), weight.data(), y.data(), 2, 0.0f);  // rms of (3, 4) is sqrt(12.5)
  const bool norm_ok = std::fabs(y[0] - 3.0f / std::sqrt(12.5f)) < 1e-6f;
  const bool hash_ok = act::io::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  if (!norm_ok || !hash_ok) return std::puts("unexpected llama-layer result"), 1;
  std::puts("act consumer ok (llama)");
  return 0;
}
