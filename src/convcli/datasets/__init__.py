"""Training and test sets: IDX and .npz files (MNIST, Fashion-MNIST, EMNIST), canonical checksums,
image folders. Kept empty, so that importing one module never imports the others."""
