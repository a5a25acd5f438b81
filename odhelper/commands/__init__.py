"""Thin sub-command front-ends. Each module defines NAME, HELP,
add_arguments(parser) and main(args) -> exit code, and imports the heavy
library parts (TensorFlow) only inside main()."""
