#!/usr/bin/env bash
# One-shot, idempotent environment setup for mmsemi (Python 3.8+; verified on
# Python 3.11 with torch 2.13.0 CPU). Installs into the current Python
# environment (activate a venv/conda env first if you want isolation); steps
# that are already satisfied return in seconds, so re-running is cheap.
#
#   bash tools/setup_env.sh
#
# Environment variables:
#   PYTHON          interpreter to install into (default: python)
#   TORCH_SPEC      torch requirement (default: torch==2.13.0)
#   TORCH_PIP_ARGS  extra pip arguments for torch, e.g. an index URL:
#                   CPU: --index-url https://download.pytorch.org/whl/cpu
#                   GPU: --index-url https://download.pytorch.org/whl/cu128
#   MMCV_WHEEL_DIR  folder with a prebuilt mmcv wheel (default: ../shared/wheels
#                   next to the clone, when it exists and torch is a CPU build)
#   MAX_JOBS        parallel compile jobs for the mmcv build
#
# Why the steps look the way they do:
# * setuptools must keep pkg_resources (removed in 82): mmcv's setup.py,
#   openmim and mmengine 0.10.7's `mmseg::` config lookup import it.
# * mmcv 2.1.0 (mmseg 1.2.2 rejects 2.2.0) is on PyPI only as source and must
#   be compiled against the installed torch, hence torch first and
#   --no-build-isolation (an isolated build sees neither torch nor an old
#   setuptools and yields an mmcv without ops, or fails). The CPU build takes
#   ~15 min on 2 cores; pip caches the built wheel (~/.cache/pip), so it is
#   built once per machine. mmseg cannot import with mmcv-lite.
# * GPU machines: install a CUDA torch (TORCH_PIP_ARGS above), then either
#     - `mim install mmcv==2.1.0` (OpenMMLab's prebuilt CUDA wheels; they exist
#       only for the torch/CUDA pairs OpenMMLab published, torch <= 2.1), or
#     - build here with CUDA ops: the build picks CUDA when torch sees a GPU;
#       on a GPU-less builder set FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="8.0;9.0"
#       (nvcc's major version must match torch.version.cuda).
#   The prebuilt wheel in ../shared/wheels is for torch 2.13.0+cpu only and is
#   not used when torch is a CUDA build.
# * mmengine already depends on opencv-python; no second (headless) OpenCV.
# * mmseg imports ftfy and regex without declaring them.
# * openmim's dependency chain (opendatalab -> openxlab) downgrades
#   setuptools/requests/rich; mim never imports it, so openmim is installed
#   with --no-deps plus its light requirements.
set -euo pipefail

PYTHON=${PYTHON:-python}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TORCH_PIP_ARGS=${TORCH_PIP_ARGS:-}
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PIP=("$PYTHON" -m pip install --quiet --disable-pip-version-check)
export PIP_ROOT_USER_ACTION=ignore

step() { echo; echo "==> $*"; }

step "build tools (setuptools with pkg_resources)"
"${PIP[@]}" "setuptools>=77,<81" wheel

step "torch ($TORCH_SPEC)"
# shellcheck disable=SC2086  # TORCH_PIP_ARGS is a list of options
"${PIP[@]}" "$TORCH_SPEC" ${TORCH_PIP_ARGS}

step "mmengine"
"${PIP[@]}" "mmengine==0.10.7" numpy

step "mmcv 2.1.0 with compiled ops (first time without a prebuilt wheel: ~15 min compile)"
MMCV_ARGS=(--no-build-isolation)
TORCH_CUDA=$("$PYTHON" -c "import torch; print(torch.version.cuda or '')")
MMCV_WHEEL_DIR=${MMCV_WHEEL_DIR:-"$REPO_ROOT/../shared/wheels"}
if [[ -z "$TORCH_CUDA" && -d "$MMCV_WHEEL_DIR" ]]; then
    echo "using prebuilt wheels from $MMCV_WHEEL_DIR"
    MMCV_ARGS+=(--find-links "$MMCV_WHEEL_DIR")
fi
"${PIP[@]}" "${MMCV_ARGS[@]}" "mmcv==2.1.0"

step "mmsegmentation, mmpretrain and undeclared mmseg dependencies, pytest"
"${PIP[@]}" "mmsegmentation==1.2.2" "mmpretrain==1.2.0" ftfy regex pytest

step "openmim 0.3.9 (without openxlab)"
"${PIP[@]}" --no-deps "openmim==0.3.9"
"${PIP[@]}" click colorama model-index pandas requests rich tabulate

step "check"
if ! "$PYTHON" -c "import mmcv.ops, mmseg" ; then
    echo >&2
    echo "ERROR: 'import mmcv.ops, mmseg' failed. mmcv was probably built" \
        "without its compiled ops (torch missing at build time, or" \
        "mmcv-lite). Reinstall it with:" >&2
    echo "  $PYTHON -m pip uninstall -y mmcv mmcv-lite &&" \
        "$PYTHON -m pip install --no-build-isolation --no-cache-dir" \
        "mmcv==2.1.0" >&2
    exit 1
fi
"$PYTHON" - <<'EOF'
import sys

import mmcv
import mmengine
import mmseg
import numpy
import setuptools
import torch

print(f'python        {sys.version.split()[0]}')
for module in (torch, numpy, setuptools, mmengine, mmcv, mmseg):
    print(f'{module.__name__:<13} {module.__version__}')
print(f'cuda          {torch.version.cuda} '
      f'(available: {torch.cuda.is_available()})')
EOF
