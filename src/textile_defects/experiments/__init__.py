"""Named experiments: recipes of params overrides run as one `dvc exp run` (docs/report.md)."""
