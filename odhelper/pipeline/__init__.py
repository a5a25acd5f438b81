"""Pipeline templates, the model registry, config filling and the model zoo cache."""
