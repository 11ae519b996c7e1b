"""Training data and training loop for compact MEMatte models (synthetic mattes, Composition-1K reader)."""
