#pragma once
// Each subcommand lives in its own file and adds itself to the application through one function;
// main.cpp lists them. Adding a subcommand: a new file defining register_X, and one line in each
// of the two lists below (declaration here, entry in main.cpp's table).
#include <CLI/CLI.hpp>

namespace act_llama {

void register_generate(CLI::App& app);
void register_dump_logits(CLI::App& app);
void register_eval(CLI::App& app);
void register_search_heads(CLI::App& app);
void register_sinks(CLI::App& app);

}  // namespace act_llama
