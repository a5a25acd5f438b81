#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: install the GPU build into .venv-gpu, run doctor, then
# train SSD MobileNet v2 for 200 steps from scratch on the demo's synthetic pictures four
# ways (--steps-per-loop 1 / 100, float32 / mixed_float16) and write steps/s of each to
# ONE file (default gpu_check.txt). Unattended; about 5-8 minutes.
#   scripts/gpu_check.sh [OUTPUT_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-gpu_check.txt}")
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU on this machine (nvidia-smi finds none); nothing measured." >&2
    echo "gpu_check: run it on a machine with an NVIDIA GPU and its driver installed." >&2
    exit 2
fi
export ODHELPER_GPU=1 ODHELPER_VENV="${ODHELPER_VENV:-.venv-gpu}"
scripts/setup.sh
odhelper="$ODHELPER_VENV/bin/odhelper"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
    echo "# odhelper gpu_check $(date -u +%FT%TZ) on $(hostname)"
    nvidia-smi -L
    "$odhelper" doctor 2>&1 | grep -v "^\[" || true
} > "$out"
"$odhelper" doctor >/dev/null  # exits 1 with the reason when the stack is broken
"$odhelper" demo --generate-only --out "$work/demo" --count 1600 --validate 100 >/dev/null
"$odhelper" tfrecord -i "$work/demo/synthetic/images" -o "$work/dataset" -sr 0.94 >/dev/null
echo "model ssd_mobilenet_v2 (300 px, from scratch), batch 32, 200 steps; steps/s without the first loop" >> "$out"
for precision in float32 mixed_float16; do
    for loop in 1 100; do
        run="$work/run-$precision-$loop"
        "$odhelper" run --model ssd_mobilenet_v2 --from-scratch --dataset "$work/dataset" \
            --run-dir "$run" --steps 200 --batch-size 32 --eval-mode none --no-export \
            --no-report --steps-per-loop "$loop" --precision "$precision" >/dev/null 2>&1 \
            || { echo "precision $precision steps-per-loop $loop: FAILED:" >> "$out"
                 grep -E "ERROR|Error" "$run/odhelper.log" | tail -n 3 >> "$out"; continue; }
        "$ODHELPER_VENV/bin/python" - "$run/timings.jsonl" "$precision" "$loop" >> "$out" <<'PY'
import json, sys
stage = [json.loads(line) for line in open(sys.argv[1]) if '"Transfer learning"' in line][-1]
print(f"precision {sys.argv[2]:14} steps-per-loop {sys.argv[3]:>3}: {stage['steps/s']:.2f} steps/s "
      f"(first loop {stage.get('first step s', '?')} s, training {stage['seconds']:.0f} s)")
PY
    done
done
cat "$out"
