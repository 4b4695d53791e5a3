"""The warm daemon: a background process that imported Keras once and serves convcli commands."""
