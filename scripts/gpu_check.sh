#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run (CI has no GPU; a lent GPU machine runs this):
#   1. the CUDA tests: test/test_cuda.py and the CUDA cases of test/test_backends.py;
#   2. skd-bench's model-only table on the GPU, as JSON that `skd-bench --reuse` merges into
#      docs/BENCHMARKS.md next to the CPU table measured elsewhere.
# It uses the machine's own python3 with CUDA PyTorch (PYTHON=... for another) and the repository on
# PYTHONPATH; ROS is not needed: test/conftest.py, which imports rclpy, is not loaded (--noconftest).
# Usage, from the repository root: scripts/gpu_check.sh OUT_DIR
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
python=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    "$python" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
        "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), torch.cuda.get_device_name())'
} 2>&1 | tee "$out/gpu.txt"

# Each step has its own time limit, so that a hung one leaves the others' results. At most 8 files
# are written under OUT_DIR (what the device tool brings back).
status=0
# cuda-graphs-fp16 first: it is the GPU's fast path and the one the target reads.
timeout 300 "$python" -m skd_tools.bench.cli --device cuda --gpu-only --skip-accuracy --skip-node \
    --backends cuda-graphs-fp16 eager torchscript onnxruntime onnxruntime-tensorrt torch-compile \
    --out "$out/BENCHMARKS_gpu.md" --figures "$out/figures" --json "$out/bench_gpu.json" \
    2>&1 | tee "$out/bench_gpu.log" || status=1

timeout 240 "$python" -m pytest -q -ra -p no:cacheprovider --noconftest -k cuda test/test_cuda.py test/test_backends.py \
    2>&1 | tee "$out/pytest_cuda.log" || status=1

# The user's path: skd-demo on its generated clip, on the GPU (it logs the backend race and the speed).
timeout 90 "$python" -m skd_tools.demo --device cuda --out "$(mktemp -d)" 2>&1 | tee "$out/demo_cuda.log" || status=1
exit $status
