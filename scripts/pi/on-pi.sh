#!/bin/bash
# What scripts/pi-check runs inside the emulated Raspberry Pi (Debian bookworm arm64, Python 3.11), from
# /opt/pi-check holding: dist/edgewise-*.whl, wheels/<venv>/ (arm64 wheels), bundle/, sample.png.
#   on-pi.sh install VENV EXTRAS   python3 -m venv + offline pip install of edgewise[EXTRAS]
#   on-pi.sh check VENV OUT        raw outputs, `edgewise bench --json`, `edgewise predict` -> OUT
# `check` records each command's exit code in OUT/<command>.rc for parity.py rather than stopping.
set -uo pipefail
shopt -s nullglob
cd /opt/pi-check

install() {
  local venv=$1 extras=$2 wheel
  wheel=$(ls dist/edgewise-*.whl)
  set -e
  python3 -m venv "/opt/venv-$venv"
  "/opt/venv-$venv/bin/pip" install --quiet --no-index --find-links "wheels/$venv" "$wheel[$extras]"
  "/opt/venv-$venv/bin/pip" list --format=freeze
}

check() {
  local venv=$1 out=$2 model rc
  export PATH="/opt/venv-$venv/bin:$PATH"
  mkdir -p "$out"
  if [ "$venv" = tflite ]; then
    python outputs.py bundle "$out" --format tflite --expect tflite=tflite_runtime 2>"$out/outputs.log"
  else
    python outputs.py bundle "$out" --expect tflite=litert --expect onnx=onnxruntime 2>"$out/outputs.log"
  fi
  echo $? >"$out/outputs.rc"

  edgewise bench bundle --json >"$out/bench.json" 2>"$out/bench.log"
  echo $? >"$out/bench.rc"

  rc=0
  for model in bundle/model_*.tflite bundle/model_*.onnx; do
    [ "$venv" = tflite ] && [ "${model##*.}" = onnx ] && continue
    edgewise predict "$model" sample.png >"$out/predict-$(basename "$model").txt" 2>>"$out/predict.log" || rc=$?
  done
  echo $rc >"$out/predict.rc"
}

"$@"
