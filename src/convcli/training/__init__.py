"""Training: the run's config, the run itself, batches, the loss, callbacks, checkpoints,
interruption. Kept empty, so that importing one module never imports the others."""
