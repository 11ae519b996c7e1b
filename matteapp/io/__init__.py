"""Image and file I/O: reading photos (``images``), writing results atomically (``export``) and the
list of recently used files and checkpoints (``recent``)."""
