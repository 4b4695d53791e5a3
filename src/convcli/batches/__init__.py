"""Batches at scale: input lists, shards, existing outputs, and what every input became."""
