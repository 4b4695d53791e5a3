"""Predictions on pictures: digit and number preparation, predict, what the model saw, evaluation
metrics. Kept empty, so that importing one module never imports the others."""
