#pragma once
// ggml's CPU flash attention (ggml_flash_attn_ext, the kernel llama.cpp decodes with) on the same
// problem as the act decode benchmark: one query row per head, K/V caches in f32 or f16, no mask
// (a decode row sees the whole cache). The graph, its plan and its work buffer are built once, so
// a timed call is one ggml_graph_compute, as in llama.cpp's decode loop.
#include <ggml-cpu.h>
#include <ggml.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace act_bench {

class GgmlFlashDecode {
 public:
  // q [heads][dim]; k, v [kv_heads][length][dim] (head-major, as the act benchmark stores them).
  GgmlFlashDecode(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                  std::size_t heads, std::size_t kv_heads, std::size_t length, std::size_t dim, ggml_type cache_type,
                  int threads) {
    const ggml_init_params params{256 * 1024 * 1024, nullptr, false};
    context_ = ggml_init(params);
    if (context_ == nullptr) throw std::runtime_error("ggml_init failed");
    const auto d = static_cast<std::int64_t>(dim), n = static_cast<std::int64_t>(length);
    ggml_tensor* query = ggml_new_tensor_3d(context_, GGML_TYPE_F32, d, 1, static_cast<std::int64_t>(heads));
    ggml_tensor* keys = ggml_new_tensor_3d(context_, cache_type, d, n, static_cast<std::int64_t>(kv_heads));
    ggml_tensor* values = ggml_new_tensor_3d(context_, cache_type, d, n, static_cast<std::int64_t>(kv_heads));
    fill(query, q);
    fill(keys, k);
    fill(values, v);
    output_ = ggml_flash_attn_ext(context_, query, keys, values, nullptr, 1.0f / std::sqrt(static_cast<float>(dim)),
                                  0.0f, 0.0f);
    graph_ = ggml_new_graph(context_);
    ggml_build_forward_expand(graph_, output_);
    plan_ = ggml_graph_plan(graph_, threads, nullptr);
    work_.resize(plan_.work_size);
    plan_.work_data = work_.data();
  }
  GgmlFlashDecode(const GgmlFlashDecode&) = delete;
  GgmlFlashDecode& operator=(const GgmlFlashDecode&) = delete;
  ~GgmlFlashDecode() { ggml_free(context_); }

  void run() {
    if (ggml_graph_compute(graph_, &plan_) != GGML_STATUS_SUCCESS) throw std::runtime_error("ggml compute failed");
  }
  // The result, [heads][dim] (ggml's [dim, heads, 1] is that layout).
  const float* output() const { return static_cast<const float*>(output_->data); }

 private:
  static void fill(ggml_tensor* tensor, const std::vector<float>& values) {
    if (tensor->type == GGML_TYPE_F32) {
      std::copy(values.begin(), values.end(), static_cast<float*>(tensor->data));
    } else {
      ggml_fp32_to_fp16_row(values.data(), static_cast<ggml_fp16_t*>(tensor->data),
                            static_cast<std::int64_t>(values.size()));
    }
  }

  ggml_context* context_ = nullptr;
  ggml_tensor* output_ = nullptr;
  ggml_cgraph* graph_ = nullptr;
  ggml_cplan plan_{};
  std::vector<std::uint8_t> work_;
};

}  // namespace act_bench
