#!/usr/bin/env bash
# Create .venv and install odhelper's exact, tested dependency set (PyPI only).
#   scripts/setup.sh            CPU TensorFlow (default)
#   ODHELPER_GPU=1 scripts/setup.sh   TensorFlow with CUDA (tensorflow[and-cuda])
#   scripts/setup.sh --relock   re-resolve requirements/base.txt into base.lock
# Re-running when nothing changed takes about a second (a stamp of the inputs).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=${ODHELPER_VENV:-.venv}
TF_REQ="tensorflow-cpu==2.21.0" OTHER_TF="tensorflow"
[ "${ODHELPER_GPU:-0}" = "1" ] && TF_REQ="tensorflow[and-cuda]==2.21.0" OTHER_TF="tensorflow-cpu"

stamp_of_inputs() {
  { echo "$TF_REQ"; cat requirements/base.lock requirements/nodeps.txt pyproject.toml; } | sha256sum | cut -d' ' -f1
}

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
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
  echo "setup: $VENV is up to date"
  exit 0
fi
started=$(date +%s)
# Switching CPU <-> GPU: the two builds share the `tensorflow` package folder.
if "$VENV/bin/python" -m pip show -q "$OTHER_TF" >/dev/null 2>&1; then
  echo "setup: removing $OTHER_TF (switching TensorFlow build)"
  "${PIP[@]}" uninstall -y "$OTHER_TF"
fi
echo "setup: installing $TF_REQ and requirements/base.lock"
"${PIP[@]}" install "$TF_REQ" -r requirements/base.lock
echo "setup: installing requirements/nodeps.txt without their (wrong) declared pins"
"${PIP[@]}" install --no-deps -r requirements/nodeps.txt
"${PIP[@]}" install --no-deps -e .
echo "$stamp" > "$VENV/.odhelper-stamp"
echo "setup: done in $(( $(date +%s) - started )) s, venv $(du -sh "$VENV" | cut -f1)"
