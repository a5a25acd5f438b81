"""Thin sub-command front-ends. Each module defines NAME, HELP, OPTIONS (the
options dataclass, or None), add_arguments(parser) when OPTIONS is None, and
run(options) -> exit code. TensorFlow is imported only inside run()."""
