"""Loads an export with the real Hugging Face `datasets` library and prints what it got as JSON (test/dataset-export.test.ts).

  load-dataset.py folder DIR    load_dataset(DIR, split="train"): a dataset folder as it is, card and all
  load-dataset.py parquet FILE  load_dataset("parquet", data_files=FILE, split="train"): one Parquet file
"""
import json
import sys

from datasets import load_dataset

mode, location = sys.argv[1], sys.argv[2]
if mode == "folder":
    rows = load_dataset(location, split="train")
elif mode == "parquet":
    rows = load_dataset("parquet", data_files=location, split="train")
else:
    sys.exit(f"unknown mode {mode!r}: folder or parquet")

json.dump(
    {
        "numRows": rows.num_rows,
        "features": rows.features._to_yaml_list(),
        "splits": {name: split.num_examples for name, split in (rows.info.splits or {}).items()},
        "rows": rows.to_list(),
    },
    sys.stdout,
    ensure_ascii=False,
)
