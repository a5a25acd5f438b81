"""Active learning: turn image-level labels (a folder per class) into boxes."""
