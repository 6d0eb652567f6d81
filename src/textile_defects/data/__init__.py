"""Data: the sample generator, ingest and validation, manifests, splitting, loaders."""
