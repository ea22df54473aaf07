#include <act/eval/harness/scoring.hpp>
#include <act/eval/harness/tally.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <map>

using namespace act::eval;

namespace {

// Whole words (with their leading space) are tokens; everything else is one token per byte.
// Ids: 0..255 bytes, then the words in order.
struct WordTokenizer {
  std::vector<std::string> words = {" negative", " positive", " A", " B", "A", " Twist", " the", " lid."};

  std::vector<std::int32_t> encode(std::string_view text, bool) const {
    std::vector<std::int32_t> ids;
    for (std::size_t i = 0; i < text.size();) {
      std::int32_t id = static_cast<unsigned char>(text[i]);
      std::size_t length = 1;
      for (std::size_t w = 0; w < words.size(); ++w)
        if (text.substr(i).starts_with(words[w]) && words[w].size() > length) {
          id = static_cast<std::int32_t>(256 + w);
          length = words[w].size();
        }
      ids.push_back(id);
      i += length;
    }
    return ids;
  }
  std::string token_text(std::int32_t id) const {
    return id < 256 ? std::string(1, static_cast<char>(id)) : words[static_cast<std::size_t>(id - 256)];
  }
  std::size_t size() const { return 256 + words.size(); }
};

// Tokenises everything to nothing and has no letter tokens.
struct Blank {
  std::vector<std::int32_t> encode(std::string_view, bool) const { return {}; }
  std::string token_text(std::int32_t) const { return "x"; }
  std::size_t size() const { return 4; }
};

Example example(std::string id, std::map<std::string, std::string, std::less<>> fields,
                std::vector<std::string> choices, std::size_t label) {
  return {std::move(id), std::move(fields), std::move(choices), label};
}

// Logits that are zero except the given tokens.
std::vector<float> row_with(std::size_t vocab, const std::map<std::int32_t, float>& values) {
  std::vector<float> row(vocab, 0.0f);
  for (const auto& [token, value] : values) row[static_cast<std::size_t>(token)] = value;
  return row;
}

}  // namespace

TEST_CASE("label words: last token of each, clear errors", "[eval][scoring]") {
  const WordTokenizer tok;
  CHECK(label_tokens(tok, find_task("sst2")) == std::vector<std::int32_t>{256, 257});
  // In bytes, sst5's words end in e, d, y, d, t: " bad" and " good" share their last token.
  CHECK_THROWS_WITH(label_tokens(tok, find_task("sst5")), Catch::Contains("\" good\" cannot be told apart"));
  CHECK_THROWS_WITH(label_tokens(Blank{}, find_task("sst2")),
                    "act: label word \" negative\" of task sst2 tokenises to nothing");
}

TEST_CASE("label protocol: log-softmax restricted to the label words", "[eval][scoring]") {
  const WordTokenizer tok;
  const Task& sst2 = find_task("sst2");
  const TaskTokens tokens = task_tokens(tok, sst2, Protocol::label);
  const Example ex = example("e1", {{"text", "fine"}}, {}, 1);
  const ScoringPlan plan = make_plan(tok, sst2, Protocol::label, tokens, ex);
  REQUIRE(plan.sequences.size() == 1);
  CHECK(plan.sequences[0] == tok.encode(classification_prompt(sst2, ex), true));
  const auto ranges = plan.row_ranges();
  CHECK(ranges[0].first == plan.sequences[0].size() - 1);
  CHECK(ranges[0].count == 1);

  // The best token overall (id 7) is no label word and does not matter.
  const std::vector<std::vector<float>> logits = {row_with(tok.size(), {{256, 1.0f}, {257, 3.0f}, {7, 50.0f}})};
  const ExampleOutcome out = score_example(plan, logits, tok.size());
  const double lse = std::log(std::exp(1.0) + std::exp(3.0));
  CHECK(out.scores[0] == Approx(1.0 - lse));
  CHECK(out.scores[1] == Approx(3.0 - lse));
  CHECK(out.predicted == 1u);
  CHECK(out.correct());
  CHECK(out.margin == Approx(2.0));

  const std::vector<std::vector<float>> wrong = {row_with(tok.size(), {{256, 2.5f}, {257, 2.0f}})};
  const ExampleOutcome miss = score_example(plan, wrong, tok.size());
  CHECK(miss.predicted == 0u);
  CHECK_FALSE(miss.correct());
  CHECK(miss.margin == Approx(-0.5));
  CHECK_THROWS_AS(score_example(plan, std::vector<std::vector<float>>{std::vector<float>(3)}, tok.size()),
                  std::invalid_argument);
}

TEST_CASE("letter protocol: greedy token compared with the letter", "[eval][scoring]") {
  const WordTokenizer tok;
  const Task& arc = find_task("arc_easy");
  // The tokenizer has " A", "A" and the byte 'A' for A, " B" and the byte 'B' for B, only bytes for C.
  const TaskTokens tokens{{}, letter_tokens(tok, 3)};
  CHECK(tokens.letters[0].front() == 258);  // " A" preferred for scoring
  CHECK(tokens.letters[0].size() == 3);
  CHECK_THROWS_WITH(letter_tokens(Blank{}, 2), "act: the vocabulary has no token for the letter A");

  const Example ex = example("q", {{"question", "Q?"}}, {"x", "y", "z"}, 1);
  const ScoringPlan plan = make_plan(tok, arc, Protocol::letter, tokens, ex);
  CHECK(plan.choices.size() == 3);
  CHECK(plan.greedy_tokens.size() == 3);

  const auto score = [&](const std::map<std::int32_t, float>& values) {
    return score_example(plan, std::vector<std::vector<float>>{row_with(tok.size(), values)}, tok.size());
  };
  const ExampleOutcome right = score({{259, 5.0f}});  // " B" is the greedy token
  CHECK(right.predicted == 1u);
  CHECK(right.correct());
  CHECK(score({{'B', 5.0f}}).predicted == 1u);                    // so is a bare "B"
  const ExampleOutcome none = score({{'x', 9.0f}, {259, 5.0f}});  // greedy token is no letter
  CHECK_FALSE(none.predicted.has_value());
  CHECK_FALSE(none.correct());
  CHECK(none.margin > 0.0);  // the letter scores still rank B first
}

TEST_CASE("log-likelihood protocols: summed and per-token", "[eval][scoring]") {
  const WordTokenizer tok;
  const Task& piqa = find_task("piqa");
  const Example ex = example("p", {{"question", "Q"}}, {"Twist the lid.", "Zz"}, 0);
  const ScoringPlan sum = make_plan(tok, piqa, Protocol::loglik, {}, ex);
  const ScoringPlan mean = make_plan(tok, piqa, Protocol::loglik_norm, {}, ex);
  REQUIRE(sum.sequences.size() == 2);
  const auto context = tok.encode(loglik_context(piqa, ex), true);
  CHECK(sum.sequences[0].size() == context.size() + 3);  // " Twist", " the", " lid."
  CHECK(sum.sequences[1].size() == context.size() + 3);  // ' ', 'Z', 'z'
  CHECK(sum.choices[0][0].row == context.size() - 1);
  CHECK(sum.choices[0][2].token == 263);

  // Every row: logit 2 for the token read, 0 elsewhere.
  std::vector<std::vector<float>> logits;
  for (std::size_t s = 0; s < 2; ++s) {
    std::vector<float> rows;
    for (const TokenRead& r : sum.choices[s]) {
      const auto row = row_with(tok.size(), {{r.token, 2.0f}});
      rows.insert(rows.end(), row.begin(), row.end());
    }
    logits.push_back(rows);
  }
  const double per_token = 2.0 - std::log(std::exp(2.0) + static_cast<double>(tok.size() - 1));
  const ExampleOutcome s = score_example(sum, logits, tok.size());
  CHECK(s.scores[0] == Approx(3 * per_token));
  CHECK(s.scores[1] == Approx(3 * per_token));
  CHECK(s.predicted == 0u);  // a tie goes to the first choice
  CHECK(s.margin == Approx(0.0));
  const ExampleOutcome m = score_example(mean, logits, tok.size());
  CHECK(m.scores[0] == Approx(per_token));
}

TEST_CASE("tally: accuracy, unanswered and mean margin", "[eval][tally]") {
  std::vector<ExampleOutcome> outcomes(4);
  outcomes[0] = {"a", 1, 1u, {}, 0.5};
  outcomes[1] = {"b", 0, 1u, {}, -1.0};
  outcomes[2] = {"c", 0, std::nullopt, {}, 0.25};
  outcomes[3] = {"d", 2, 2u, {}, 2.0};
  const Tally t = tally(outcomes);
  CHECK(t.examples == 4);
  CHECK(t.correct == 2);
  CHECK(t.unanswered == 1);
  CHECK(t.accuracy() == 0.5);
  CHECK(t.mean_margin() == Approx(0.4375));
  CHECK(Tally{}.accuracy() == 0.0);
}
