"""Kernels through one Keras Conv2D: kernel files, the convolution, bands of rows, output naming,
records, the pipeline. Kept empty, so that importing one module never imports the others."""
