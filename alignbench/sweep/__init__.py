"""A sweep: planning its jobs, launching them resumably, and what it prints (the Hydra plugin in hydra_plugins/
only hands over to this package)."""
