"""Training data: the packed store, splits, window sampling, augmentation, and the encoding."""
