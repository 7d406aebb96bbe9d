"""Fine-tuning: from a model that continues text to one that answers (make finetune).

template.py    the chat template: role and end-of-turn tokens, render/parse, the target mask
jsonl.py       the two line formats (prompt/completion, messages), checked line by line
vocabulary.py  the template's tokens added to a tokenizer, and rows for them in a model
examples.py    conversations to masked batches: fit to the context, the held-out split, sampler
evaluate.py    the held-out answers' loss
training.py    week 4's loop with the base weights, the examples and the answer loss swapped in
setup.py       the base, the config, the examples of a new or resumed run
chat.py        answering with a fine-tuned model: make sample, make chat, the history window
speakers.py    make sft-data: a speaker-attribution set built from tiny shakespeare
attribution.py make sft-eval: the fine-tuned model's accuracy vs the base model's and the majority's
cli.py         `python -m week5_generation.finetune train|sft-data|accuracy`
"""
