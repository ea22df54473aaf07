#pragma once
// Each subcommand lives in its own file and adds itself to the application through one function;
// main.cpp lists them. Adding a subcommand: a new file defining register_X, and one line in each
// of the two lists below (declaration here, entry in main.cpp's table).
#include <CLI/CLI.hpp>

#include <stdexcept>

namespace act_llama {

// A failure whose message is already on stderr (a search over MPI ranks prints it before the
// ranks exit, so mpirun cannot stop rank 0 before it speaks): main exits 1 and prints nothing.
struct ReportedFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void register_generate(CLI::App& app);
void register_dump_logits(CLI::App& app);
void register_eval(CLI::App& app);
void register_search_heads(CLI::App& app);
void register_sinks(CLI::App& app);

}  // namespace act_llama
