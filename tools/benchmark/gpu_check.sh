#!/usr/bin/env bash
# GPU checks on one CUDA machine; needs neither datasets nor weights:
#
#   1. the equality tests against the official re-statements (the tests
#      marked `device`: UniMatch, CorrMatch and RankMatch steps, U2PL's and
#      CSS's contrastive losses) on the GPU (pytest --device cuda, TF32 off);
#   2. step time, peak memory and CUDA synchronisations per step of every
#      method at Pascal VOC size (crop 513, ResNet-101, each recipe's batch
#      per GPU) in float32 and with AMP, as a table
#      (tools/benchmark/gpu_benchmark.py, on mini datasets and random
#      weights).
#
#   bash tools/benchmark/gpu_check.sh [gpu_benchmark.py args]   # e.g. --iters 20
#
# Env: PYTHON (python), OUT (work_dirs/gpu_check) for the logs and the table
# (benchmark.md). Exits with 2 without CUDA, with 1 when a test or a
# benchmark row failed.
set -uo pipefail
REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON=${PYTHON:-python}
OUT=${OUT:-$REPO_ROOT/work_dirs/gpu_check}
cd "$REPO_ROOT"

if ! "$PYTHON" - <<'EOF'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit(f'gpu_check.sh: no CUDA GPU (torch {torch.__version__}, '
             f'CUDA build: {torch.version.cuda}); it runs the GPU checks '
             'only. On a CPU: python tools/benchmark/gpu_benchmark.py '
             '--device cpu --tiny')
print(f'GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, '
      f'CUDA {torch.version.cuda}')
EOF
then
    exit 2
fi
mkdir -p "$OUT"
status=0

echo "==> 1/2 equality tests against the official re-statements on CUDA"
"$PYTHON" -m pytest tests/test_models -m device --device cuda -q \
    -p no:cacheprovider 2>&1 | tee "$OUT/equality_tests.log" | tail -n 5
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1

echo "==> 2/2 step time and peak memory at VOC size, fp32 and AMP"
if ! "$PYTHON" tools/benchmark/gpu_benchmark.py --device cuda \
        --out "$OUT/benchmark.md" "$@" > "$OUT/benchmark.log" 2>&1; then
    status=1
    tail -n 20 "$OUT/benchmark.log"
fi
[[ -f "$OUT/benchmark.md" ]] && cat "$OUT/benchmark.md"
echo "logs and table: $OUT"
exit $status
