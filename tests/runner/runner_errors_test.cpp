// act-llama on bad input: a missing, unreadable, corrupt or unsupported model, a prompt longer than
// the context, bad flag values. Each run must exit with 1 (bad input) or 2 (bad usage), not by a
// signal, and print exactly one line on stderr, "act-llama: error: ..." naming the problem.
#include <act/heads/head_set.hpp>

#include <catch2/catch.hpp>

#include "tiny_llama.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using act::testing::TinyLlama;

struct Exit {
  std::optional<int> code;    // set when the runner exited
  std::optional<int> signal;  // set when a signal ended it
  std::string stderr_text;
};

const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::create_directories(ACT_RUNNER_SCRATCH);
    return fs::path(ACT_RUNNER_SCRATCH);
  }();
  return dir;
}

// Runs act-llama with `args`, stdout sent to `out_path` (discarded by default) and stderr kept; as
// user `uid` when given (root only: root reads files whatever their permissions).
Exit run_act_llama(const std::vector<std::string>& args, std::optional<uid_t> uid = std::nullopt,
                   const char* out_path = "/dev/null") {
  const fs::path err_file = scratch() / "stderr.txt";
  std::vector<char*> argv{const_cast<char*>(ACT_LLAMA)};
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int out = open(out_path, O_WRONLY);
    const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(120);
    if (uid && (setgid(*uid) != 0 || setuid(*uid) != 0)) _exit(121);
    execv(ACT_LLAMA, argv.data());
    _exit(122);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  Exit result;
  if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  std::ifstream in(err_file);
  result.stderr_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return result;
}

// The run failed cleanly with `code` and its one line of stderr names the problem.
void expect_failure(const std::vector<std::string>& args, int code, const std::string& problem,
                    std::optional<uid_t> uid = std::nullopt, const char* out_path = "/dev/null") {
  const Exit result = run_act_llama(args, uid, out_path);
  INFO("stderr: " << result.stderr_text);
  REQUIRE_FALSE(result.signal.has_value());
  REQUIRE(result.code == code);
  CHECK(result.stderr_text.rfind("act-llama: error: ", 0) == 0);
  CHECK(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n') == 1);
  CHECK_THAT(result.stderr_text, Catch::Contains(problem));
}

fs::path write_model(const std::string& name, const act::testing::Bytes& bytes) {
  const fs::path path = scratch() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
  return path;
}

fs::path tiny_model() { return write_model("tiny.gguf", TinyLlama{}.build()); }

// A raw float32 file, as dump-logits writes it.
std::vector<float> read_floats(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> values(fs::file_size(path) / sizeof(float));
  in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  return values;
}

std::vector<std::string> generate(const fs::path& model, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"generate", "-m", model.string(), "-p", "Once upon a time", "-n", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("runner: the tiny model itself runs", "[runner]") {
  const Exit result = run_act_llama(generate(tiny_model()));
  INFO("stderr: " << result.stderr_text);
  CHECK(result.code == 0);
}

TEST_CASE("runner: a missing or unreadable model", "[runner]") {
  SECTION("missing") { expect_failure(generate(scratch() / "no" / "such.gguf"), 1, "no/such.gguf"); }
  SECTION("a folder") { expect_failure(generate(scratch()), 1, scratch().string()); }
  SECTION("no read permission") {
    const fs::path model = tiny_model();
    fs::permissions(model, fs::perms::owner_write);
    // Root reads any file, so the run drops to user nobody for this case.
    const std::optional<uid_t> uid = geteuid() == 0 ? std::optional<uid_t>(65534) : std::nullopt;
    expect_failure(generate(model), 1, "Permission denied", uid);
    fs::permissions(model, fs::perms::owner_read | fs::perms::owner_write);
  }
}

TEST_CASE("runner: a corrupt GGUF", "[runner]") {
  const act::testing::Bytes model = TinyLlama{}.build();
  SECTION("empty file") { expect_failure(generate(write_model("empty.gguf", {})), 1, "not a GGUF file"); }
  SECTION("cut inside the metadata") {
    const act::testing::Bytes cut(model.begin(), model.begin() + 200);
    expect_failure(generate(write_model("cut-metadata.gguf", cut)), 1, "(at byte ");
  }
  SECTION("cut inside the tensor data") {
    const act::testing::Bytes cut(model.begin(), model.end() - 100);
    expect_failure(generate(write_model("cut-data.gguf", cut)), 1, "lies outside the file");
  }
  SECTION("a tensor count the file cannot hold") {
    act::testing::Bytes bad = model;
    bad[8] = std::byte{0xFF};  // the low byte of the u64 tensor count
    bad[15] = std::byte{0x7F};
    expect_failure(generate(write_model("bad-count.gguf", bad)), 1, "tensor count");
  }
}

TEST_CASE("runner: a model this library does not support", "[runner]") {
  SECTION("architecture") {
    TinyLlama model;
    model.architecture = "mamba";
    expect_failure(generate(write_model("mamba.gguf", model.build())), 1, "architecture 'mamba' is not supported");
  }
  SECTION("architecture with a NUL byte") {  // what() used to end at the NUL: "architecture 'lla"
    TinyLlama model;
    model.architecture = std::string("lla\0ma", 6);
    expect_failure(generate(write_model("nul.gguf", model.build())), 1,
                   "architecture 'lla\\x00ma' is not supported (only 'llama')");
  }
  SECTION("tensor type") {
    TinyLlama model;
    model.matrix_type = static_cast<std::uint32_t>(act::io::GgmlType::iq4_nl);
    expect_failure(generate(write_model("iq4_nl.gguf", model.build())), 1, "IQ4_NL");
  }
  SECTION("more layers than block_count") {  // would run without its last layer, unseen
    TinyLlama model;
    model.extra_block = true;
    expect_failure(generate(write_model("extra-block.gguf", model.build())), 1,
                   "block_count is 1 but the file holds tensors of 2 layers");
  }
}

TEST_CASE("runner: a prompt longer than the context", "[runner]") {
  const fs::path model = tiny_model();
  const std::string long_prompt(3 * TinyLlama::context, 'x');  // one byte token per character
  expect_failure({"generate", "-m", model.string(), "-p", long_prompt}, 1, "more than the context of 64");
  expect_failure(generate(model, {"--ctx", "4"}), 1, "the prompt is 17 tokens, more than the context of 4");
  expect_failure(generate(model, {"--ctx", "65"}), 1, "exceeds the model");
  // dump-logits honours --ctx too (it used to ignore it).
  expect_failure({"dump-logits", "-m", model.string(), "--tokens", "1,2,3", "--ctx", "2", "-o",
                  (scratch() / "logits.f32").string()},
                 1, "the prompt is 3 tokens, more than the context of 2");
}

TEST_CASE("runner: KV cache types", "[runner]") {
  const fs::path model = tiny_model();
  expect_failure(generate(model, {"--kv-type", "f8"}), 2, "--kv-type");
  expect_failure(generate(model, {"--attention-products", "bf16"}), 1, "needs --kv-type bf16");
  for (const char* type : {"f16", "bf16"}) {
    const Exit result =
        run_act_llama({"generate", "-m", model.string(), "-p", "Once upon a time", "-n", "4", "--kv-type", type,
                       "--attention-products", type == std::string("bf16") ? "bf16" : "fp32"});
    INFO("stderr: " << result.stderr_text);
    CHECK(result.code == 0);
    CHECK_THAT(result.stderr_text, Catch::Contains(std::string("kv cache: ") + type));
  }
}

// The GEMMs serve prompts of 8 tokens or more (shorter ones take the fused dot products).
TEST_CASE("runner: the matmul choice", "[runner]") {
  const fs::path model = tiny_model();
  expect_failure(generate(model, {"--matmul", "int8"}), 2, "--matmul");
  std::vector<std::vector<float>> logits;
  for (const char* precision : {"openblas", "bf16", "f32", "auto"}) {
    const fs::path out = scratch() / (std::string("logits-") + precision + ".f32");
    const Exit result = run_act_llama({"dump-logits", "-m", model.string(), "--tokens", "1,5,9,13,17,21,25,29,33,37",
                                       "--matmul", precision, "-o", out.string()});
    INFO("stderr: " << result.stderr_text);
    REQUIRE(result.code == 0);
    std::vector<float> values = read_floats(out);
    for (const float x : values) REQUIRE(std::isfinite(x));
    logits.push_back(std::move(values));
  }
  REQUIRE(logits[0].size() == logits[1].size());
  CHECK(logits[0] != logits[1]);  // the flag reaches the model: rounded operands change the sums
  // auto (the default) is OpenBLAS, or the library's float32 GEMM where OpenBLAS runs kernels for
  // older CPUs than this one: bit for bit one of the two.
  CHECK((logits[3] == logits[0] || logits[3] == logits[2]));
}

TEST_CASE("runner: generation that fills the context stops cleanly", "[runner]") {
  // "Once upon a time" is 17 tokens on the tiny vocabulary (BOS and byte fallback): a context of 17
  // holds the prompt and no more (one token is still sampled from its logits), 18 one more.
  const fs::path model = tiny_model();
  for (const char* context : {"17", "18"}) {
    const Exit result = run_act_llama(
        {"generate", "-m", model.string(), "-p", "Once upon a time", "--ctx", context, "-n", "10", "--ignore-eos"});
    INFO("stderr: " << result.stderr_text);
    CHECK(result.code == 0);
    CHECK_THAT(result.stderr_text, Catch::Contains(std::string("the context of ") + context + " tokens is full"));
  }
}

// The NaN weight is reported at load (one warning line naming the tensor), then the NaN logit it
// makes stops the run as an error, greedy or sampled.
TEST_CASE("runner: non-finite logits are an error, greedy or sampled", "[runner]") {
  TinyLlama model;
  model.nan_logit = true;
  const fs::path path = write_model("nan-logit.gguf", model.build());
  for (const auto& extra : {std::vector<std::string>{"--temperature", "1"}, std::vector<std::string>{}}) {
    const Exit result = run_act_llama(generate(path, extra));
    INFO("stderr: " << result.stderr_text);
    REQUIRE(result.code == 1);
    const std::string first_line = result.stderr_text.substr(0, result.stderr_text.find('\n') + 1);
    CHECK(first_line == "act-llama: warning: " + path.string() +
                            ": tensor 'token_embd.weight' (F32) has 1 non-finite weight(s), the first at element " +
                            std::to_string((TinyLlama::vocabulary().size() - 1) * TinyLlama::width) + "\n");
    const std::string rest = result.stderr_text.substr(first_line.size());
    CHECK(rest.rfind("act-llama: error: ", 0) == 0);
    CHECK(std::count(rest.begin(), rest.end(), '\n') == 1);
    CHECK_THAT(rest, Catch::Contains("is nan: the model produced a non-finite value"));
  }
}

TEST_CASE("runner: outputs that cannot be written fail the run", "[runner]") {
  const fs::path model = tiny_model();
  // Devices are refused rather than replaced by the atomic rename.
  expect_failure(generate(model, {"--timing-json", "/dev/full"}), 1,
                 "--timing-json: cannot write /dev/full: not a regular file");
  expect_failure({"dump-logits", "-m", model.string(), "--tokens", "1,2", "-o", "/dev/full"}, 1, "not a regular file");
  // Generated text that never reached stdout.
  expect_failure(generate(model, {"--ignore-eos"}), 1, "standard output", std::nullopt, "/dev/full");
  expect_failure({"generate", "-m", model.string(), "-p", "hi", "-n", "0"}, 1, "standard output", std::nullopt,
                 "/dev/full");
  // An empty path read as "not given": the run wrote nothing and said nothing.
  expect_failure(generate(model, {"--timing-json", ""}), 2, "--timing-json: must not be empty");
  expect_failure({"dump-logits", "-m", model.string(), "--tokens", "1,2", "-o", ""}, 2, "--output: must not be empty");
}

TEST_CASE("runner: head-set files are checked like the model", "[runner]") {
  const fs::path model = tiny_model();
  SECTION("not regular files") {
    expect_failure(generate(model, {"--act-heads", "/dev/zero"}), 1, "not a regular file");
    const fs::path fifo = scratch() / "heads.fifo";
    fs::remove(fifo);
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    expect_failure(generate(model, {"--act-heads", fifo.string()}), 1, "not a regular file");  // no hang
    fs::remove(fifo);
  }
  SECTION("tau outside [0, 1]") {
    const fs::path heads = scratch() / "tau.json";
    std::ofstream(heads) << R"({"format": "act-head-set", "version": 1, "beta": 0.4, "tau": 7, "heads": [[0, 1]]})";
    expect_failure(generate(model, {"--act-heads", heads.string()}), 1, "\"tau\" must be in [0, 1]");
  }
  SECTION("made for another model") {
    const fs::path heads = scratch() / "other-model.json";
    std::ofstream(heads) << R"({"format": "act-head-set", "version": 1, "model": "stories260K", "beta": 0.4,
                               "tau": 0.1, "heads": [[0, 1]]})";
    expect_failure(generate(model, {"--act-heads", heads.string()}), 1,
                   "made for model 'stories260K', not 'tiny-llama' (pass --heads-any-model");
    const Exit forced = run_act_llama(generate(model, {"--act-heads", heads.string(), "--heads-any-model"}));
    INFO("stderr: " << forced.stderr_text);
    CHECK(forced.code == 0);
  }
  SECTION("control characters in a file's strings stay one escaped line") {
    const fs::path heads = scratch() / "escapes.json";
    std::ofstream(heads) << R"({"format": "act-head-set", "version": 1, "model": "a\nb\u001b[31m", "beta": 0.4,
                               "tau": 0.1, "heads": [[0, 1]]})";
    expect_failure(generate(model, {"--act-heads", heads.string()}), 1, "made for model 'a\\x0ab\\x1b[31m'");
  }
}

TEST_CASE("runner: a prompt file, and a thread count above the cores", "[runner]") {
  const fs::path model = tiny_model(), prompt = scratch() / "prompt.txt";
  std::ofstream(prompt) << "Once upon a time";
  const Exit from_file = run_act_llama({"generate", "-m", model.string(), "--prompt-file", prompt.string(), "-n", "2"});
  INFO("stderr: " << from_file.stderr_text);
  CHECK(from_file.code == 0);
  // Too many threads only warn: the run goes on.
  const std::string threads = std::to_string(std::thread::hardware_concurrency() + 1);
  const Exit many = run_act_llama(generate(model, {"-t", threads}));
  CHECK(many.code == 0);
  CHECK_THAT(many.stderr_text, Catch::Contains("act-llama: warning: -t " + threads + " is more than the"));
}

TEST_CASE("runner: search-heads refuses one file as checkpoint and output", "[runner]") {
  const std::string out = (scratch() / "heads-out.json").string();
  expect_failure({"search-heads", "--tasks", "sst2", "-o", out, "--checkpoint", out}, 1, "are the same file");
}

TEST_CASE("runner: bad flag values", "[runner]") {
  const fs::path model = tiny_model();
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"-t", "0"}, "--threads"},
      {{"-t", "many"}, "--threads"},
      {{"--beta", "1.5"}, "--beta"},
      {{"--tau", "-0.5"}, "--tau"},
      {{"--ctx", "0"}, "--ctx"},
      {{"--ctx", "-1"}, "--ctx"},
      {{"-n", "ten"}, "--max-tokens"},
      {{"--top-p", "1.5"}, "--top-p"},
      {{"--top-p", "0"}, "--top-p"},
      {{"--temperature", "-1"}, "--temperature"},
      {{"--temperature", "inf"}, "--temperature"},
      {{"--beta", "nan"}, "--beta"},
      {{"--tau", "nan"}, "--tau"},
      {{"--seed", "x"}, "--seed"},
      {{"--act-heads"}, "--act-heads"},
      {{"--bogus"}, "--bogus"},
  };
  for (const auto& [flags, named] : cases) {
    CAPTURE(flags);
    expect_failure(generate(model, flags), 2, named);
  }
  // A head file's own beta and tau are checked by the library when it reads the file: exit code 1.
  const fs::path heads = scratch() / "heads.json";
  std::ofstream(heads) << R"({"format": "act-head-set", "version": 1, "beta": 1.5, "tau": 0.1, "heads": [[0, 1]]})";
  expect_failure(generate(model, {"--act-heads", heads.string()}), 1, "beta");
  expect_failure({"dump-logits", "-m", model.string(), "--tokens", "", "-o", (scratch() / "x.f32").string()}, 2,
                 "--tokens");
  expect_failure({"generate", "-m", "", "-p", "hi"}, 2, "--model");  // not the default model
  expect_failure({}, 2, "subcommand");
  expect_failure({"translate"}, 2, "unknown subcommand 'translate'");
}

TEST_CASE("runner: a bad policy is a usage error in every subcommand", "[runner][policy]") {
  const fs::path model = tiny_model();
  const std::vector<std::string> subcommands[] = {
      {"generate", "-p", "hi"},    {"dump-logits", "--tokens", "1,2", "-o", (scratch() / "x.f32").string()},
      {"eval", "--tasks", "sst2"}, {"search-heads", "--tasks", "sst2", "-o", (scratch() / "h.json").string()},
      {"sinks", "-p", "hi"},
  };
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--detector", "top-k:0"}, "K must be a whole number >= 1 (got '0')"},
      {{"--detector", "column-mean:2"}, "TAU must be a finite number in [0, 1] (got '2')"},
      {{"--detector", "colum-mean:0.1"}, "unknown detector 'colum-mean:0.1' (known: column-mean:TAU"},
      {{"--detector", "column-mean:0.1:last"}, "the kept sink must be first, token0 or none"},
      {{"--rescaler", "redistribute:nan"}, "BETA must be a finite number in [0, 1]"},
      {{"--rescaler", "scale"}, "unknown rescaler 'scale'"},
      {{"--detector", "top-k:2", "--tau", "0.2"}, "--tau"},  // two spellings of the detector
      {{"--rescaler", "scale-only:0.5", "--beta", "0.2"}, "--beta"},
  };
  for (const auto& command : subcommands) {
    for (const auto& [flags, message] : cases) {
      std::vector<std::string> args = command;
      args.insert(args.end(), {"-m", model.string()});
      args.insert(args.end(), flags.begin(), flags.end());
      CAPTURE(args);
      expect_failure(args, 2, message);
    }
  }
}

TEST_CASE("runner: a policy on the command line runs", "[runner][policy]") {
  const fs::path model = tiny_model();
  const fs::path heads = scratch() / "policy_heads.json";
  std::ofstream(heads) << R"({"format": "act-head-set", "version": 2, "beta": 0.4, "tau": 0.1, "heads": [[0, 1]],
                              "detector": "initial-token", "rescaler": "scale-only:0.5"})";
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--act-heads", heads.string()},
        {"--act-heads", heads.string(), "--detector", "top-k:2", "--rescaler", "redistribute:0.3"}}) {
    CAPTURE(flags);
    const Exit result = run_act_llama(generate(model, flags));
    INFO("stderr: " << result.stderr_text);
    CHECK(result.code == 0);
  }
}

TEST_CASE("runner: sinks writes readable figures and the calibrated summary", "[runner][figures]") {
  const fs::path model = tiny_model();
  const fs::path heads = scratch() / "figure_heads.json";
  std::ofstream(heads)
      << R"({"format": "act-head-set", "version": 1, "beta": 0.4, "tau": 0.05, "heads": [[0, 1], [0, 3]]})";
  const fs::path dir = scratch() / "figures";
  fs::remove_all(dir);
  const Exit result =
      run_act_llama({"sinks", "-m", model.string(), "-p", "Once upon a time", "--act-heads", heads.string(),
                     "--figures", dir.string(), "-o", (scratch() / "sinks.json").string()});
  INFO("stderr: " << result.stderr_text);
  REQUIRE(result.code == 0);
  for (const char* name : {"overview.svg", "head_0_1.svg", "head_0_3.svg", "sink_tokens.svg"}) {
    CAPTURE(name);
    std::ifstream in(dir / name);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.rfind("<svg ", 0) == 0);
    CHECK(text.find("</svg>") != std::string::npos);
  }
  std::ifstream json(scratch() / "sinks.json");
  const std::string doc((std::istreambuf_iterator<char>(json)), std::istreambuf_iterator<char>());
  CHECK(doc.find("\"mean_sink_mass_before\"") != std::string::npos);
}

// --decode-activations int8 rounds decode's activations for Q4_1 and Q8_0 weights only: the tiny
// model's F32 weights give the same logits either way. --one-at-a-time makes every position a
// decode step, which matches the whole-prompt pass up to float rounding.
TEST_CASE("runner: decode activations and dump-logits one token at a time", "[runner]") {
  const fs::path model = tiny_model();
  expect_failure(generate(model, {"--decode-activations", "int4"}), 2, "--decode-activations");
  const auto dump = [&](std::vector<std::string> extra) {
    const fs::path out = scratch() / "logits-decode.f32";
    std::vector<std::string> args{"dump-logits", "-m", model.string(), "--tokens", "1,5,9,13,17", "-o", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const Exit result = run_act_llama(args);
    INFO("stderr: " << result.stderr_text);
    REQUIRE(result.code == 0);
    return read_floats(out);
  };
  const std::vector<float> whole = dump({}), f32 = dump({"--one-at-a-time", "--decode-activations", "f32"}),
                           int8 = dump({"--one-at-a-time", "--decode-activations", "int8"});
  CHECK(int8 == f32);
  REQUIRE(whole.size() == f32.size());
  for (std::size_t i = 0; i < whole.size(); ++i)
    REQUIRE(std::abs(whole[i] - f32[i]) < 1e-4f * (1 + std::abs(whole[i])));
}

// List options read every item in order: several occurrences add up, and an empty item (which
// CLI11's own delimiter dropped) is an error.
TEST_CASE("runner: list options", "[runner]") {
  const fs::path model = tiny_model();
  const auto dump = [&](std::vector<std::string> tokens) {
    const fs::path out = scratch() / "logits-list.f32";
    std::vector<std::string> args{"dump-logits", "-m", model.string(), "-o", out.string()};
    for (std::string& t : tokens) args.insert(args.end(), {"--tokens", std::move(t)});
    const Exit result = run_act_llama(args);
    INFO("stderr: " << result.stderr_text);
    REQUIRE(result.code == 0);
    return read_floats(out);
  };
  const std::vector<float> one_list = dump({"1,5,9"}), two_lists = dump({"1,5", "9"}), reordered = dump({"1,9,5"});
  REQUIRE(!one_list.empty());
  CHECK(one_list.size() % 3 == 0);
  CHECK(two_lists == one_list);
  CHECK(reordered != one_list);
  expect_failure({"dump-logits", "-m", model.string(), "--tokens", "1,,5", "-o", (scratch() / "x.f32").string()}, 2,
                 "--tokens: empty item in the list \"1,,5\"");
}
