"""Evaluation of a trained adapter: held-out preference metrics, generation, judges, scorers, benchmarks."""
