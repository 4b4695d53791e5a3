"""Models: the layer spec, its checks, presets, building, the metadata a model file carries,
summary, inspection. Kept empty, so that importing one module never imports the others."""
