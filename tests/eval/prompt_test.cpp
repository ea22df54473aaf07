#include <act/eval/tasks/demonstrations.hpp>
#include <act/eval/tasks/example.hpp>
#include <act/eval/tasks/prompt.hpp>
#include <act/eval/tasks/protocol.hpp>

#include <catch2/catch.hpp>

#include <sstream>

using namespace act::eval;

namespace {

Example parse(const Task& task, const std::string& json) {
  std::istringstream in(json);
  act::io::JsonlReader reader(in, "row.jsonl");
  return parse_example(task, *reader.next());
}

}  // namespace

TEST_CASE("tasks: all 16 are known, unknown names list them", "[eval][task]") {
  CHECK(all_tasks().size() == 16);
  std::size_t classification = 0;
  for (const Task& t : all_tasks()) classification += t.kind == TaskKind::classification ? 1 : 0;
  CHECK(classification == 9);
  CHECK_THROWS_WITH(find_task("sst3"), Catch::StartsWith("act: unknown task 'sst3' (known: sst2, sst5, mr,") &&
                                           Catch::Contains("hellaswag, copa)"));
  CHECK(parse_task_list("all").size() == 16);
  CHECK(parse_task_list("multiple_choice").size() == 7);
  const auto list = parse_task_list("trec,sst2,trec");
  REQUIRE(list.size() == 2);
  CHECK(list[0]->name == "trec");
  CHECK_THROWS_AS(parse_task_list("sst2,"), act::Error);
}

TEST_CASE("prompts: the spec's templates, exactly", "[eval][prompt]") {
  const Task& sst2 = find_task("sst2");
  const Example s = parse(sst2, R"({"id": "a", "text": "a gorgeous film .", "label": 1})");
  CHECK(classification_prompt(sst2, s) ==
        "Classify the sentiment of the user's message into one of the following categories:'positive' or "
        "'negative'.\n\nSentence: a gorgeous film . \nSentiment: ");
  CHECK(sst2.label_words == std::vector<std::string_view>{" negative", " positive"});

  const Task& trec = find_task("trec");
  CHECK(classification_prompt(trec, parse(trec, R"({"id": "t", "text": "What is pneumonia ?", "label": 0})")) ==
        "Classify the given questions into the following categories of 'Description', 'Entity', 'Expression', "
        "'Person', 'Number', or 'Location'.\n\nQuestion: What is pneumonia ? \nType: ");
  CHECK(trec.label_words.size() == 6);
  CHECK(trec.label_words[2] == " Expression");

  const Task& agnews = find_task("agnews");
  CHECK(classification_prompt(agnews, parse(agnews, R"({"id": "n", "text": "Stocks fall.", "label": 2})")) ==
        "Classify the news articles into the categories of 'World', 'Sports', 'Business', or 'Technology'.\n\n"
        "Article: Stocks fall. \nCategory: ");
  CHECK(agnews.label_words[3] == " Technology");

  const Task& cb = find_task("cb");
  const Example c = parse(cb, R"({"id": "c", "premise": "It rained.", "hypothesis": "The street is wet", "label": 2})");
  CHECK(classification_prompt(cb, c) ==
        "Read the following paragraph and determine if the hypothesis is true.\n\n"
        "Premise: It rained. Hypothesis: The street is wet. Answer: ");
  CHECK(cb.label_words == std::vector<std::string_view>{"Yes", "No", "Maybe"});

  const Task& boolq = find_task("boolq");
  const Example b =
      parse(boolq, R"({"id": "b", "passage": "Cats -- Cats purr.", "question": "do cats purr", "label": 1})");
  CHECK(classification_prompt(boolq, b) ==
        "Read the text and answer the question by True or False.\n\n"
        "Text: Cats -- Cats purr. Question: do cats purr? \nAnswer: ");
  CHECK(boolq.label_words == std::vector<std::string_view>{" False", " True"});

  for (std::string_view name : {"sst2", "trec", "agnews", "cb", "boolq"}) CHECK(find_task(name).wording_from_spec);
  for (std::string_view name : {"sst5", "mr", "subj", "dbpedia", "copa"})
    CHECK_FALSE(find_task(name).wording_from_spec);
}

TEST_CASE("prompts: every classification task has one label word per class of its data", "[eval][prompt]") {
  const std::vector<std::pair<std::string_view, std::size_t>> classes = {{"sst2", 2}, {"sst5", 5},   {"mr", 2},
                                                                         {"subj", 2}, {"agnews", 4}, {"trec", 6},
                                                                         {"cb", 3},   {"boolq", 2},  {"dbpedia", 14}};
  for (const auto& [name, count] : classes) {
    INFO(name);
    CHECK(find_task(name).label_words.size() == count);
    CHECK(find_task(name).instruction.ends_with("\n\n"));
  }
}

TEST_CASE("prompts: k-shot classification puts answered demonstrations before the query", "[eval][prompt]") {
  const Task& sst2 = find_task("sst2");
  const std::vector<Example> demos = {parse(sst2, R"({"id": "d1", "text": "dull .", "label": 0})"),
                                      parse(sst2, R"({"id": "d2", "text": "fun .", "label": 1})")};
  const Example q = parse(sst2, R"({"id": "q", "text": "ok .", "label": 1})");
  CHECK(classification_prompt(sst2, q, demos) ==
        std::string(sst2.instruction) +
            "Sentence: dull . \nSentiment: negative\n\nSentence: fun . \nSentiment: positive\n\n"
            "Sentence: ok . \nSentiment: ");
  // CB's template ends without a space before the label word "Yes": nothing is removed.
  const Task& cb = find_task("cb");
  const Example c = parse(cb, R"({"id": "c", "premise": "P.", "hypothesis": "H", "label": 0})");
  CHECK(classification_demo(cb, c) == "Premise: P. Hypothesis: H. Answer: Yes\n\n");
}

TEST_CASE("prompts: the letter protocol", "[eval][prompt]") {
  const Task& arc = find_task("arc_easy");
  const Example q =
      parse(arc, R"({"id": "q", "question": "Which is a metal?", "choices": ["wood", "iron", "glass"], "label": 1})");
  CHECK(letter_prompt(arc, q) ==
        "Answer the following science question by choosing the correct option.\n\n"
        "Which is a metal?\nA. wood\nB. iron\nC. glass\nAnswer:");
  const Example d = parse(arc, R"({"id": "d", "question": "2+2?", "choices": ["3", "4"], "label": 1})");
  CHECK(letter_prompt(arc, q, std::vector<Example>{d}) ==
        std::string(arc.instruction) +
            "\n\n2+2?\nA. 3\nB. 4\nAnswer: B\n\nWhich is a metal?\nA. wood\nB. iron\nC. glass\nAnswer:");
}

TEST_CASE("prompts: log-likelihood contexts and continuations", "[eval][prompt]") {
  const Task& piqa = find_task("piqa");
  const Example p = parse(
      piqa, R"({"id": "p", "question": "Open a jar.", "choices": ["Twist the lid.", "Eat the lid."], "label": 0})");
  CHECK(loglik_context(piqa, p) == std::string(piqa.instruction) + "\n\nQuestion: Open a jar.\nAnswer:");
  CHECK(continuation(piqa, p.choices[0]) == " Twist the lid.");

  const Task& hellaswag = find_task("hellaswag");
  const Example h =
      parse(hellaswag, R"({"id": "h", "question": "A man walks. he", "choices": ["sits.", "runs."], "label": 1})");
  CHECK(loglik_context(hellaswag, h) == std::string(hellaswag.instruction) + "\n\nA man walks. he");
  CHECK(loglik_context(hellaswag, h, std::vector<Example>{h}) ==
        std::string(hellaswag.instruction) + "\n\nA man walks. he runs.\n\nA man walks. he");
}

TEST_CASE("prompts: COPA turns premise and relation into the question", "[eval][prompt]") {
  const Task& copa = find_task("copa");
  const Example cause = parse(
      copa,
      R"({"id": "c", "question": "The man fell.", "choices": ["He tripped.", "I pushed him."], "label": 0, "relation": "cause"})");
  const Example effect = parse(
      copa,
      R"({"id": "e", "question": "The man fell.", "choices": ["He cried.", "He laughed."], "label": 0, "relation": "effect"})");
  CHECK(cause.fields.at("question") == "The man fell because");
  CHECK(effect.fields.at("question") == "The man fell so");
  CHECK(letter_prompt(copa, cause) ==
        std::string(copa.instruction) + "\n\nThe man fell because\nA. He tripped.\nB. I pushed him.\nAnswer:");
  CHECK(continuation(copa, cause.choices[0]) == " he tripped.");
  CHECK(continuation(copa, cause.choices[1]) == " I pushed him.");
  CHECK_THROWS_WITH(
      parse(copa, R"({"id": "x", "question": "Q.", "choices": ["a", "b"], "label": 0, "relation": "why"})"),
      Catch::Contains("row.jsonl:1: field \"relation\" must be \"cause\" or \"effect\""));
}

TEST_CASE("examples: rows that do not fit the task are reported with their line", "[eval][example]") {
  const Task& sst2 = find_task("sst2");
  CHECK_THROWS_WITH(parse(sst2, R"({"id": "a", "text": "x", "label": 2})"),
                    Catch::Contains("row.jsonl:1: field \"label\" must be an integer in [0, 2)"));
  CHECK_THROWS_WITH(parse(find_task("cb"), R"({"id": "a", "text": "x", "label": 0})"),
                    Catch::Contains("missing field \"premise\""));
  CHECK_THROWS_WITH(parse(find_task("piqa"), R"({"id": "a", "question": "x", "choices": ["one"], "label": 0})"),
                    Catch::Contains("\"choices\" must hold 2 to 26 strings (got 1)"));
  // Braces in the data are text, not placeholders.
  const Example braces = parse(sst2, R"({"id": "a", "text": "{label} {text}", "label": 0})");
  CHECK(classification_query(sst2, braces) == "Sentence: {label} {text} \nSentiment: ");
}

TEST_CASE("demonstrations: seeded, fixed per seed, never the query itself", "[eval][demos]") {
  std::vector<Example> pool;
  for (int i = 0; i < 20; ++i) pool.push_back({"row" + std::to_string(i), {{"text", "t"}}, {}, 0});
  const Demonstrations a(pool, 4, 7), b(pool, 4, 7), c(pool, 4, 8);
  const auto first = a.for_query({"other", {}, {}, 0});
  REQUIRE(first.size() == 4);
  const auto ids = [](const std::vector<Example>& d) {
    std::vector<std::string> out;
    for (const auto& e : d) out.push_back(e.id);
    return out;
  };
  CHECK(ids(first) == ids(b.for_query({"other", {}, {}, 0})));
  CHECK(ids(first) != ids(c.for_query({"other", {}, {}, 0})));
  const auto without = ids(a.for_query(first[1]));
  CHECK(without.size() == 4);
  CHECK(std::find(without.begin(), without.end(), first[1].id) == without.end());
  CHECK(Demonstrations().for_query(first[0]).empty());
  CHECK_THROWS_WITH(Demonstrations(std::span(pool).first(3), 3, 1), Catch::Contains("at least 4 rows"));
}

TEST_CASE("protocols: names, lists and which tasks they fit", "[eval][protocol]") {
  CHECK(parse_protocol("loglik-norm") == Protocol::loglik_norm);
  CHECK_THROWS_WITH(parse_protocol("greedy"), Catch::Contains("unknown protocol 'greedy'"));
  const auto list = parse_protocol_list("label,letter,label");
  CHECK(list == std::vector<Protocol>{Protocol::label, Protocol::letter});
  CHECK(protocols_for(find_task("sst2"), list) == std::vector<Protocol>{Protocol::label});
  CHECK(protocols_for(find_task("copa"), list) == std::vector<Protocol>{Protocol::letter});
  CHECK_THROWS_WITH(protocols_for(find_task("copa"), {Protocol::label}), Catch::Contains("task 'copa'"));
}
