// A downstream project: include the library, run one calibrated attention call, check it.
#include <act/act.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const std::size_t heads = 2, n = 16, d = 8;
  std::vector<float> q(heads * n * d), k(heads * n * d), v(heads * n * d), out(heads * n * d);
  for (std::size_t i = 0; i < q.size(); ++i) {
    q[i] = std::sin(0.37f * static_cast<float>(i));
    k[i] = std::cos(0.11f * static_cast<float>(i));
    v[i] = 1.0f;  // every output element is a row sum of the calibrated map
  }
  const auto report = act::attention(act::head_major<const float>(q.data(), heads, n, d),
                                     act::head_major<const float>(k.data(), heads, n, d),
                                     act::head_major<const float>(v.data(), heads, n, d),
                                     act::head_major(out.data(), heads, n, d), {}, act::paper_calibration());
  for (float x : out)
    if (std::fabs(x - 1.0f) > 1e-5f) return std::printf("row sum %f != 1\n", static_cast<double>(x)), 1;
  std::printf("act consumer ok (%zu rows calibrated)\n", report.rows_calibrated);
  return 0;
}
