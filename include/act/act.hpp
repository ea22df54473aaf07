#pragma once
// What an engine includes: views and options, calibration policies, and the kernels (core,
// simd, policies, kernels; xsimd and optionally OpenMP). Head-set files are act/heads/head_set.hpp
// (target act::heads), the reference Llama model and the evaluation are act::llama and act::eval.
#include <act/core/attention_options.hpp>
#include <act/core/calibration_report.hpp>
#include <act/core/column_stats.hpp>
#include <act/core/error.hpp>
#include <act/core/heads_view.hpp>
#include <act/core/mask_view.hpp>
#include <act/kernels/attention_extras.hpp>
#include <act/kernels/correct.hpp>
#include <act/kernels/engine.hpp>
#include <act/kernels/fused_attention.hpp>
#include <act/kernels/map_calibration.hpp>
#include <act/kernels/reference.hpp>
#include <act/kernels/sink_state.hpp>
#include <act/kernels/stages.hpp>
#include <act/policies/calibration.hpp>
#include <act/policies/column_mean_threshold.hpp>
#include <act/policies/concepts.hpp>
#include <act/policies/identity.hpp>
#include <act/policies/keep_sink.hpp>
#include <act/policies/no_sinks.hpp>
#include <act/policies/redistribute.hpp>
#include <act/policies/scale_only.hpp>
#include <act/policies/top_k_columns.hpp>
