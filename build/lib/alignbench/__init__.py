"""alignbench."""
