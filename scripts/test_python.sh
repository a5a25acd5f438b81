#!/usr/bin/env bash
# Check odhelper on one supported Python in its own venv (.venv-3.12 for 3.12, ...):
# install (or verify) the pinned stack there, run `odhelper doctor`, then the fast tests.
#   scripts/test_python.sh 3.12                 doctor + pytest -m "not slow"
#   scripts/test_python.sh 3.12 -k tfrecord -x  extra arguments go to pytest
# PYTHON=/path/to/python3.12 chooses the interpreter; otherwise setup.sh looks for a working 3.12
# on PATH and under pyenv. No such interpreter on this machine: says SKIPPED and exits 0.
# Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-}
case "$version" in
  3.11|3.12|3.13) shift ;;
  *) echo "usage: scripts/test_python.sh 3.11|3.12|3.13 [pytest arguments]" >&2; exit 2 ;;
esac
venv=.venv-$version
say() { echo "test_python $version: $*"; }

if [ ! -x "$venv/bin/python" ]; then   # only a new venv needs an interpreter
  if [ -n "${PYTHON:-}" ]; then   # the one asked for must work
    py=$(scripts/setup.sh --which-python) || { say "FAILED: PYTHON=$PYTHON cannot be used" >&2; exit 1; }
  elif ! py=$(PYTHON=$version scripts/setup.sh --which-python 2>/dev/null); then
    say "SKIPPED: no working Python $version on this machine (PYTHON=/path/to/python$version to point at one)"
    exit 0
  fi
  export PYTHON=$py
  got=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$got" != "$version" ]; then
    say "FAILED: PYTHON=$PYTHON is Python $got, not $version" >&2
    exit 1
  fi
fi

started=$(date +%s)
ODHELPER_VENV=$venv scripts/setup.sh
installed=$(date +%s)
have=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$have" != "$version" ]; then
  say "FAILED: $venv holds Python $have, not $version; remove it (rm -rf $venv) and run again" >&2
  exit 1
fi

say "odhelper doctor"
"$venv/bin/odhelper" doctor
doctored=$(date +%s)

say "pytest -m \"not slow\""
status=0
"$venv/bin/python" -m pytest -m "not slow" -q "$@" || status=$?
say "setup $(( installed - started )) s, doctor $(( doctored - installed )) s, fast tests $(( $(date +%s) - doctored )) s, pytest exit $status"
# pytest exit 5 = no tests collected: a selection that matched nothing is not a failure of the code.
if [ "$status" -eq 5 ]; then
  echo "0 passed, 0 failed"
  exit 0
fi
exit "$status"
