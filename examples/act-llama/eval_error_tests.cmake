# Error cases of the evaluation subcommands (eval, search-heads, sinks), run by error_tests.cmake
# with its expect_error(): each must exit non-zero with one "act-llama: error: ..." line.
get_filename_component(shared_dir ${STORIES} DIRECTORY)
get_filename_component(shared_dir ${shared_dir} DIRECTORY)
set(data ${shared_dir}/data)

expect_error(eval_unknown_task "unknown task 'sst3' \\(known: sst2, sst5" eval --task sst3)
expect_error(eval_unknown_protocol "unknown protocol 'greedy'" eval --task sst2 --protocol greedy)
expect_error(eval_protocol_not_applicable "none of the requested protocols applies to task 'sst2'"
             eval --task sst2 --protocol letter)
expect_error(eval_negative_shots "shots" eval --task sst2 --shots -1)
expect_error(eval_bad_work_split "work-split" eval --task sst2 --work-split everything)
expect_error(eval_bad_control "control" eval --task sst2 --control some)
expect_error(search_missing_out "out" search-heads --tasks sst2)
expect_error(search_zero_prompts "prompts" search-heads --tasks sst2 --prompts 0 -o ${WORK}/h.json)

file(MAKE_DIRECTORY ${WORK}/bad_data/copa)
file(WRITE ${WORK}/bad_data/copa/dev.jsonl
     "{\"id\": \"a\", \"question\": \"Q.\", \"choices\": [\"x\", \"y\"], \"label\": 0, \"relation\": \"cause\"}\n"
     "{\"id\": \"b\", \"question\": \"Q.\", \"choices\": [\"x\", \"y\"], \"label\": 0, \"relation\": \n")
file(WRITE ${WORK}/bad_data/copa/calib.jsonl
     "{\"id\": \"a\", \"question\": \"Q.\", \"choices\": [\"x\", \"y\"], \"label\": 5, \"relation\": \"cause\"}\n")

if(EXISTS ${STORIES})
  set(model -m ${STORIES})
  expect_error(eval_malformed_jsonl "bad_data/copa/dev.jsonl:2: invalid JSON at column"
               eval ${model} --data ${WORK}/bad_data --task copa --protocol letter)
  expect_error(eval_bad_row "bad_data/copa/calib.jsonl:1: field \"label\" must be an integer in \\[0, 2\\)"
               eval ${model} --data ${WORK}/bad_data --task copa --split calib --protocol letter)
  expect_error(eval_missing_data "evaluation data not found at .*nowhere" eval ${model} --data ${WORK}/nowhere --task copa)
  expect_error(eval_missing_split "no test split for task copa" eval ${model} --data ${data} --task copa --split test)
  expect_error(eval_label_clash "label words of task sst2 share their last token" eval ${model} --data ${data} --task sst2)
  expect_error(eval_random_without_heads "--control random needs --act-heads"
               eval ${model} --data ${data} --task copa --control random)
  file(WRITE ${WORK}/no_heads.json
       "{\"format\": \"act-head-set\", \"version\": 1, \"beta\": 0.4, \"tau\": 0.1, \"heads\": []}")
  expect_error(eval_random_empty_heads "--control random: .*no_heads.json names no heads"
               eval ${model} --data ${data} --task copa --control random --act-heads ${WORK}/no_heads.json)
  expect_error(search_bad_select "unknown selection rule 'best'"
               search-heads ${model} --data ${data} --tasks copa --select best -o ${WORK}/h.json)
  expect_error(search_bad_layers "--exclude-layers: 'x' is not a layer number"
               search-heads ${model} --data ${data} --tasks copa --exclude-layers 1,x -o ${WORK}/h.json)
  expect_error(search_label_protocol "--protocol is the multiple-choice protocol"
               search-heads ${model} --data ${data} --tasks copa --protocol label -o ${WORK}/h.json)
  expect_error(search_early_stop_margin "--early-stop needs --select accuracy"
               search-heads ${model} --data ${data} --tasks copa --select margin --early-stop -o ${WORK}/h.json)
  file(WRITE ${WORK}/other.ckpt "{\"format\": \"act-head-search-checkpoint\", \"version\": 1, \"search\": {}}\n")
  expect_error(search_foreign_checkpoint "was written for a different search"
               search-heads ${model} --data ${data} --tasks copa --prompts 2 -q --checkpoint ${WORK}/other.ckpt -o ${WORK}/h.json)
  expect_error(sinks_no_input "sinks needs -p PROMPT or --task NAME" sinks ${model})
  expect_error(sinks_bad_head "--heads: '3-5' is not a layer:head pair" sinks ${model} -p hi --heads 3-5)
  expect_error(sinks_head_outside "--heads: 9:0 is outside the model" sinks ${model} -p hi --heads 9:0)
  expect_error(sinks_unknown_task "unknown task 'nope'" sinks ${model} --data ${data} --task nope)

  # --ctx bounds every subcommand's prompts; the error names the row.
  expect_error(eval_row_over_ctx "copa row 1 \\(id .*\\) is [0-9]+ tokens, more than the context of 8"
               eval ${model} --data ${data} --task copa --protocol letter --limit 2 --ctx 8 -q)
  expect_error(search_row_over_ctx "copa row 1 .* more than the context of 8"
               search-heads ${model} --data ${data} --tasks copa --prompts 2 --ctx 8 -q -o ${WORK}/h.json)
  expect_error(sinks_prompt_over_ctx "the prompt is [0-9]+ tokens, more than the context of 2"
               sinks ${model} -p "Once upon a time" --ctx 2)
  expect_error(sinks_row_over_ctx "copa dev row 1 is [0-9]+ tokens, more than the context of 8"
               sinks ${model} --data ${data} --task copa --limit 2 --ctx 8 -q)
  expect_error(eval_ctx_above_model "exceeds the model" eval ${model} --data ${data} --task copa --ctx 100000)
  # An empty split would otherwise report accuracy 0.0000 and exit 0.
  file(MAKE_DIRECTORY ${WORK}/empty_data/copa)
  file(WRITE ${WORK}/empty_data/copa/dev.jsonl "")
  expect_error(eval_empty_split "the dev split of copa has no rows"
               eval ${model} --data ${WORK}/empty_data --task copa --protocol letter)
  expect_error(search_layer_outside "--exclude-layers: layer 99 is outside the model"
               search-heads ${model} --data ${data} --tasks copa --exclude-layers 0,99 -o ${WORK}/h.json)
endif()
