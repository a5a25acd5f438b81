#!/usr/bin/env bash
# Install (or verify) the pinned stack, then run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k tfrecord -x
# ODHELPER_VENV=DIR tests in that venv (as setup.sh installs there); one Python: scripts/test_python.sh
# Two test processes (pytest-xdist), each test file whole in one of them (its module fixtures are
# built once): most tests keep about one core busy. ODHELPER_TEST_PROCESSES=1 runs them in one.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ODHELPER_VENV:-.venv}
scripts/setup.sh
status=0
processes=${ODHELPER_TEST_PROCESSES:-2}
parallel=()
if [ "$processes" -gt 1 ]; then
  parallel=(-n "$processes" --dist loadfile)
fi
"$VENV/bin/python" -m pytest "${parallel[@]}" "$@" || status=$?
# pytest exit 5 = no tests collected: a selection that matched nothing is not a failure of the code.
if [ "$status" -eq 5 ]; then
  echo "0 passed, 0 failed"
  exit 0
fi
exit "$status"
