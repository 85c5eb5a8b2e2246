"""Reading Slippi replays and archives into the dataset: rollback finalisation, manifest, Parquet."""
