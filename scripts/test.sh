#!/usr/bin/env bash
# Install (or verify) the pinned stack, then run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k tfrecord -x
# ODHELPER_VENV=DIR tests in that venv (as setup.sh installs there); one Python: scripts/test_python.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ODHELPER_VENV:-.venv}
scripts/setup.sh
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
# pytest exit 5 = no tests collected: a selection that matched nothing is not a failure of the code.
if [ "$status" -eq 5 ]; then
  echo "0 passed, 0 failed"
  exit 0
fi
exit "$status"
