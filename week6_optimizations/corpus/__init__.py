"""Your own corpus: text files to token shards that any config trains on (`data.corpus: <name>`).

    make prepare DATA=<folder, file or glob> NAME=<corpus> [CFG=configs/tiny.yaml] [OVERWRITE=1]
    make train CFG=configs/tiny.yaml ARGS="data.corpus=<corpus>"

    documents.py  the files: .txt, .md, .jsonl ("text"), gzipped or not; UTF-8; newlines
    split.py      train or validation by each document's hash
    shards.py     token shards of at most prepare.shard_tokens tokens, with their records
    manifest.py   manifest.json: what the corpus folder holds, written last
    prepare.py    the pipeline, with worker processes, a progress bar and a summary table
    tokens.py     `ShardedTokens`: the shards as one stream, memory-mapped, checked by hash
    source.py     the `shards` corpus format, week 4's reader of these folders
    config.py     the `prepare` section of a config

See the lesson, week6_optimizations/README.md, "Your own corpus".
"""
