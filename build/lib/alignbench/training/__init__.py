"""Training: the methods registry (TRL trainers) and the caches a grid's runs share."""
