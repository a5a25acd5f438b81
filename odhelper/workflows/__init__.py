"""What strings stages together: each module is the library behind one command
(`odhelper run` -> run.py, ...) and returns a result object, never an exit code."""
