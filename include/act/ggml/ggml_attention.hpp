#pragma once
// act inside a ggml graph, without patching ggml: views of ggml tensors as the library's
// HeadsView, and act::attention (ACT included) as a ggml custom op whose work ggml's own threads
// share, one slice of KV-head groups per thread (ggml_custom_4d hands each thread its (ith, nth)).
//
// Layouts follow ggml_flash_attn_ext, so the op can stand in for it: q [head_dim, n_q, n_head, 1],
// k and v [head_dim, n_kv, n_head_kv, 1] (f32, rows contiguous), result [head_dim, n_head, n_q, 1]
// (permuted, as ggml_flash_attn_ext's). Masking is act's (AttentionOptions: causal or none, valid
// keys), not a ggml mask tensor. Needs ggml.h: include it only when ggml is found.
#include <act/kernels/fused_attention.hpp>

#include <ggml.h>

#include <exception>
#include <mutex>
#include <string>
#include <vector>

namespace act::ggml {

namespace detail {

inline std::ptrdiff_t float_stride(const ggml_tensor& t, int dim) {
  if (t.nb[dim] % sizeof(float) != 0)
    act::detail::shape_error(std::string("ggml tensor ") + t.name +
                             " has a stride that is not a whole number of floats");
  return static_cast<std::ptrdiff_t>(t.nb[dim] / sizeof(float));
}

inline void check_f32_rows(const ggml_tensor& t) {
  if (t.type != GGML_TYPE_F32 || t.nb[0] != sizeof(float) || t.ne[3] != 1)
    act::detail::shape_error(std::string("ggml tensor ") + t.name +
                             " must be f32 with contiguous rows and ne[3] = 1 (type " + ggml_type_name(t.type) +
                             ", ne[3] = " + std::to_string(t.ne[3]) + ")");
}

}  // namespace detail

// A ggml tensor [cols, rows, heads, 1] as heads x rows x cols. Throws std::invalid_argument for
// another type or layout. The view is valid while the tensor's data is.
template <class T = float>
HeadsView<T> heads_view(const ggml_tensor& t) {
  detail::check_f32_rows(t);
  return {static_cast<T*>(t.data),           static_cast<std::size_t>(t.ne[2]), static_cast<std::size_t>(t.ne[1]),
          static_cast<std::size_t>(t.ne[0]), detail::float_stride(t, 2),        detail::float_stride(t, 1)};
}

// A ggml tensor [cols, heads, rows, 1] (ggml_flash_attn_ext's result) as heads x rows x cols.
inline HeadsView<float> permuted_heads_view(const ggml_tensor& t) {
  detail::check_f32_rows(t);
  return {static_cast<float*>(t.data),       static_cast<std::size_t>(t.ne[1]), static_cast<std::size_t>(t.ne[2]),
          static_cast<std::size_t>(t.ne[0]), detail::float_stride(t, 1),        detail::float_stride(t, 2)};
}

// What the op computes, and what it reports back. It must outlive the graph's computation.
// Exceptions cannot cross ggml's C frames: a failure is stored and rethrown by finish().
template <CalibrationPolicy Cal = NoCalibration>
class AttentionOp {
 public:
  explicit AttentionOp(Cal calibration = {}, AttentionOptions options = {},
                       std::vector<std::uint8_t> calibrated_heads = {})
      : calibration_(std::move(calibration)), options_(options), calibrated_heads_(std::move(calibrated_heads)) {
    options_.threads = 1;  // ggml's threads are the parallelism: one slice each
  }

  // After ggml computed the graph: rethrows a failure, returns the summed report and resets it.
  CalibrationReport finish() {
    const std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return std::exchange(report_, CalibrationReport{});
  }

  // Checks the shapes as act::attention will; throws std::invalid_argument while the graph is built.
  void check(const ggml_tensor& q, const ggml_tensor& k, const ggml_tensor& v) const {
    const AttentionGeometry g = act::detail::resolve_geometry(heads_view<const float>(q), heads_view<const float>(k),
                                                              heads_view<const float>(v), options_);
    AttentionExtras all_heads;
    all_heads.calibrated_heads = calibrated_heads_;
    act::detail::check_extras(all_heads, g.q_heads, g.q_len);
  }

  // ggml_custom_op_t: KV-head groups [ith * kv / nth, (ith + 1) * kv / nth) of dst = attention(src 0, 1, 2).
  static void compute(ggml_tensor* dst, int ith, int nth, void* user_data) {
    auto& op = *static_cast<AttentionOp*>(user_data);
    try {
      op.compute_slice(*dst, static_cast<std::size_t>(ith), static_cast<std::size_t>(nth));
    } catch (...) {
      const std::lock_guard lock(op.mutex_);
      if (!op.error_) op.error_ = std::current_exception();
    }
  }

 private:
  AttentionExtras extras(std::size_t first_head, std::size_t heads) const {
    AttentionExtras e;
    if (!calibrated_heads_.empty()) e.calibrated_heads = std::span(calibrated_heads_).subspan(first_head, heads);
    return e;
  }

  template <class T>
  static HeadsView<T> head_range(HeadsView<T> view, std::size_t first, std::size_t count) {
    view.data += static_cast<std::ptrdiff_t>(first) * view.head_stride;
    view.heads = count;
    return view;
  }

  void compute_slice(const ggml_tensor& dst, std::size_t ith, std::size_t nth) {
    const auto q = heads_view<const float>(*dst.src[0]), k = heads_view<const float>(*dst.src[1]),
               v = heads_view<const float>(*dst.src[2]);
    const std::size_t group = q.heads / k.heads, first = ith * k.heads / nth, last = (ith + 1) * k.heads / nth;
    if (first == last) return;
    const CalibrationReport r = act::attention(
        head_range(q, first * group, (last - first) * group), head_range(k, first, last - first),
        head_range(v, first, last - first), head_range(permuted_heads_view(dst), first * group, (last - first) * group),
        options_, calibration_, extras(first * group, (last - first) * group));
    const std::lock_guard lock(mutex_);
    report_ += r;
  }

  Cal calibration_;
  AttentionOptions options_;
  std::vector<std::uint8_t> calibrated_heads_;  // per query head; empty: all
  std::mutex mutex_;
  std::exception_ptr error_;
  CalibrationReport report_;
};

// The graph node: act::attention(q, k, v) with `op`'s calibration and options, laid out as
// ggml_flash_attn_ext's result. Throws std::invalid_argument for shapes that do not fit.
template <CalibrationPolicy Cal>
ggml_tensor* attention(ggml_context* ctx, ggml_tensor* q, ggml_tensor* k, ggml_tensor* v, AttentionOp<Cal>& op) {
  op.check(*q, *k, *v);
  ggml_tensor* args[] = {q, k, v};
  return ggml_custom_4d(ctx, GGML_TYPE_F32, q->ne[0], q->ne[2], q->ne[1], 1, args, 3, &AttentionOp<Cal>::compute,
                        GGML_N_TASKS_MAX, &op);
}

}  // namespace act::ggml
