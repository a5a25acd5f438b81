#!/usr/bin/env bash
# Create .venv and install odhelper's exact, tested dependency set (PyPI only).
#   scripts/setup.sh            CPU TensorFlow (default)
#   ODHELPER_GPU=1 scripts/setup.sh   TensorFlow with CUDA (tensorflow[and-cuda])
#   scripts/setup.sh --relock   re-resolve requirements/base.txt into base.lock
#   scripts/setup.sh --which-python   print the interpreter a new venv would use; install nothing
# Python: 3.11, 3.12 or 3.13. A new venv takes the first that works on this machine, in the
# order scripts/bench_python.py measured (training speed of the demo model; README, Install);
# PYTHON=/path/to/python3.12 (or PYTHON=3.12, a version to look for) chooses. An existing venv
# keeps its Python. ODHELPER_VENV=DIR puts the venv elsewhere (e.g. .venv-3.12).
# Re-running when nothing changed takes about a second (a stamp of the inputs).
set -euo pipefail
cd "$(dirname "$0")/.."
SUPPORTED="3.11 3.13 3.12"   # preferred first (scripts/bench_python.py); as requires-python says
VENV=${ODHELPER_VENV:-.venv}
TF_REQ="tensorflow-cpu==2.21.0" OTHER_TF="tensorflow"
[ "${ODHELPER_GPU:-0}" = "1" ] && TF_REQ="tensorflow[and-cuda]==2.21.0" OTHER_TF="tensorflow-cpu"

# "3.12 3.12.1 /real/path/python3.12" when $1 runs and has what a venv needs, nothing otherwise
# (a pyenv shim for a version that is not active fails here, and so does a Python without
# venv/ensurepip). A free-threaded build gets a "t" (3.13t): TensorFlow has no wheels for it.
python_version() {
  "$1" -c 'import sys, sysconfig, venv, ensurepip
t = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
print("%d.%d%s %s%s %s" % (*sys.version_info[:2], t, sys.version.split()[0], t, sys.executable))' \
    2>/dev/null </dev/null || true
}
is_supported() { case " $SUPPORTED " in *" $1 "*) return 0 ;; esac; return 1; }

cannot_use() {  # the message for "no usable Python"; $1 says what was wrong
  {
    echo "setup: $1"
    echo "setup: odhelper needs Python 3.11, 3.12 or 3.13 (with its venv and ensurepip modules)."
    echo "setup: point at one with PYTHON, e.g.  PYTHON=/path/to/python3.12 scripts/setup.sh"
    echo "setup: (PYTHON=3.12 looks for a working 3.12 on PATH and under pyenv.) Nothing was installed."
  } >&2
  exit 1
}

# Candidates for version $1: every python3.X on PATH (the first may be an inactive pyenv shim),
# then pyenv's own builds, newest patch release first.
candidates() {
  type -ap "python$1" || true
  ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1"*/bin/"python$1" 2>/dev/null | sort -rV || true
}

# Sets PY (the real executable) and PY_VERSION ("3.12.1") for a new venv, or stops with the message.
choose_python() {
  local want=${PYTHON:-} v cand mm full exe
  if [ -n "$want" ] && ! [[ "$want" =~ ^3\.[0-9]+$ ]]; then   # a command or a path
    read -r mm full exe <<<"$(python_version "$want")"
    [ -n "$mm" ] || cannot_use "PYTHON=$want does not run, or lacks the venv/ensurepip modules (an inactive pyenv shim does not run)."
    is_supported "$mm" || cannot_use "PYTHON=$want is Python $full."
    PY=$exe PY_VERSION=$full
    return
  fi
  local versions=$SUPPORTED
  if [ -n "$want" ]; then
    is_supported "$want" || cannot_use "PYTHON=$want is not a supported version."
    versions=$want
  fi
  for v in $versions; do
    while IFS= read -r cand; do
      [ -n "$cand" ] || continue
      read -r mm full exe <<<"$(python_version "$cand")"
      if [ "$mm" = "$v" ]; then
        PY=$exe PY_VERSION=$full
        return
      fi
    done < <(candidates "$v")
  done
  if [ -n "$want" ]; then
    cannot_use "no working Python $want found on PATH or under ${PYENV_ROOT:-$HOME/.pyenv}/versions."
  fi
  cannot_use "no working Python 3.13, 3.12 or 3.11 found on PATH or under ${PYENV_ROOT:-$HOME/.pyenv}/versions."
}

stamp_of_inputs() {
  { echo "$TF_REQ"; cat requirements/base.lock requirements/nodeps.txt pyproject.toml; } | sha256sum | cut -d' ' -f1
}

if [ "${1:-}" = "--which-python" ]; then
  choose_python
  echo "$PY"
  echo "setup: Python $PY_VERSION ($PY)" >&2
  exit 0
fi

if [ -e "$VENV/bin/python" ] || [ -L "$VENV/bin/python" ]; then
  # An existing venv keeps its Python, whatever PYTHON says or whatever newer Python appeared.
  read -r have_mm have _ <<<"$(python_version "$VENV/bin/python")"
  if [ -z "$have_mm" ]; then
    echo "setup: $VENV/bin/python does not run (was its Python removed or upgraded?)." >&2
    echo "setup: remove the venv (rm -rf $VENV) and run scripts/setup.sh again." >&2
    exit 1
  fi
  if ! is_supported "$have_mm"; then
    echo "setup: $VENV uses Python $have; odhelper needs 3.11, 3.12 or 3.13." >&2
    echo "setup: remove it (rm -rf $VENV) and run again, or use another venv: ODHELPER_VENV=.venv-3.12" >&2
    exit 1
  fi
  if [ -n "${PYTHON:-}" ]; then
    # Still refuse an unsupported PYTHON=, and say when it is not the Python this venv has.
    choose_python
    [ "$PY_VERSION" = "$have" ] ||
      echo "setup: note: $VENV already exists with Python $have; PYTHON=$PYTHON ($PY_VERSION) is used only for a new venv (rm -rf $VENV to rebuild with it)"
  fi
  PY_USED="Python $have"
else
  choose_python
  echo "setup: creating $VENV with Python $PY_VERSION ($PY)"
  "$PY" -m venv "$VENV"
  PY_USED="Python $PY_VERSION"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

if [ "${1:-}" = "--relock" ]; then
  "${PIP[@]}" install "$TF_REQ" -r requirements/base.txt
  "$VENV/bin/python" -m pip freeze --exclude-editable |
    grep -v -i -E '^(tensorflow|tensorflow[-_]cpu|tf[-_]keras|tf-object-detection-api|tf-models-official|nvidia-.*)==' \
    > requirements/base.lock
  echo "setup: wrote requirements/base.lock"
fi

stamp="$(stamp_of_inputs)"
if [ -f "$VENV/.odhelper-stamp" ] && [ "$(cat "$VENV/.odhelper-stamp")" = "$stamp" ]; then
  echo "setup: $VENV is up to date ($PY_USED)"
  exit 0
fi
started=$(date +%s)
# Switching CPU <-> GPU: the two builds share the `tensorflow` package folder.
if "$VENV/bin/python" -m pip show -q "$OTHER_TF" >/dev/null 2>&1; then
  echo "setup: removing $OTHER_TF (switching TensorFlow build)"
  "${PIP[@]}" uninstall -y "$OTHER_TF"
fi
echo "setup: installing $TF_REQ and requirements/base.lock into $VENV ($PY_USED)"
"${PIP[@]}" install "$TF_REQ" -r requirements/base.lock
echo "setup: installing requirements/nodeps.txt without their (wrong) declared pins"
"${PIP[@]}" install --no-deps -r requirements/nodeps.txt
"${PIP[@]}" install --no-deps -e .
echo "$stamp" > "$VENV/.odhelper-stamp"
echo "setup: done in $(( $(date +%s) - started )) s, venv $(du -sh "$VENV" | cut -f1)"
