//! Dump and load formats (tsv, jsonl, resp): streaming readers and writers.
