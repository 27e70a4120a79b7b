"""The release stage: `python -m curation.release` builds a versioned Parquet release; `verify` re-checks one."""
