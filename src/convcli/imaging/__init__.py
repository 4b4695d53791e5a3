"""Pictures in and out: reading (orientation, alpha, depth), decoding, encoding, PNG streaming,
text matrices, samples, colour. Kept empty, so that importing one module never imports the
others."""
