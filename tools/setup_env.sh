#!/usr/bin/env bash
# One-shot, idempotent environment setup for mmsemi (Python 3.8+; verified on
# Python 3.11 with torch 2.13.0 + torchvision 0.28.0 on CPU). Installs into
# the current Python environment (activate a venv/conda env first if you want
# isolation); steps that are already satisfied return in seconds, so
# re-running is cheap. pip caches the built mmcv wheel, and downloads where
# the index allows it, outside the clone (~/.cache/pip, or PIP_CACHE_DIR).
#
#   bash tools/setup_env.sh
#
# Environment variables:
#   PYTHON            interpreter to install into (default: python)
#   TORCH_SPEC        torch requirement (default: torch===2.13.0)
#   TORCHVISION_SPEC  torchvision requirement (default: torchvision===0.28.0)
#   TORCH_PIP_ARGS    extra pip arguments for torch and torchvision, e.g. an
#                     index URL for another CUDA version (GPU machines):
#                       TORCH_SPEC=torch==2.13.0 TORCHVISION_SPEC=torchvision==0.28.0
#                       TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu128"
#   MMCV_WHEEL_DIR    folder with a prebuilt mmcv wheel (default: ../shared/wheels
#                     next to the clone, when it exists and no GPU is visible)
#   MAX_JOBS          parallel compile jobs for the mmcv build
#
# Why the steps look the way they do:
# * setuptools must keep pkg_resources (removed in 82): mmcv's setup.py,
#   openmim and mmengine 0.10.7's `mmseg::` config lookup import it.
# * torch and torchvision must be a matching pair of the same build:
#   mmpretrain imports torchvision unconditionally, and torchvision's compiled
#   ops only load against the torch build they were made for (otherwise
#   `operator torchvision::nms does not exist`). PyPI serves CUDA builds of
#   both (torch 2.13.0 <-> torchvision 0.28.0), which also run on CPU-only
#   machines. The `===` (exact string) specifiers reject a local CPU build
#   such as `2.13.0+cpu`, for which no torchvision exists on PyPI: an
#   environment that has it is switched to the PyPI pair, and pip never
#   prefers a `+cpu` wheel from a `find-links` folder.
# * mmcv 2.1.0 (mmseg 1.2.2 rejects 2.2.0) is on PyPI only as source and must
#   be compiled against the installed torch, hence torch first and
#   --no-build-isolation (an isolated build sees neither torch nor an old
#   setuptools and yields an mmcv without ops, or fails). The CPU build takes
#   ~15 min on 2 cores; pip caches the built wheel (~/.cache/pip), so it is
#   built once per machine. mmseg cannot import with mmcv-lite. A CPU-only
#   mmcv built for torch 2.13.0 (e.g. the wheel in ../shared/wheels) loads
#   with either 2.13.0 build (same C++ ABI).
# * GPU machines: the default PyPI pair is a CUDA 13 build (driver >= 580);
#   for another CUDA version use the pytorch index (TORCH_* above). mmcv then
#   needs CUDA ops: either
#     - `mim install mmcv==2.1.0` (OpenMMLab's prebuilt CUDA wheels; they exist
#       only for the torch/CUDA pairs OpenMMLab published, torch <= 2.1), or
#     - build here with CUDA ops: the build picks CUDA when torch sees a GPU;
#       on a GPU-less builder set FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="8.0;9.0"
#       (nvcc's major version must match torch.version.cuda).
#   The prebuilt wheel in ../shared/wheels has CPU ops only and is not used
#   when torch sees a GPU.
# * mmengine already depends on opencv-python; no second (headless) OpenCV.
# * mmseg imports ftfy and regex without declaring them.
# * openmim's dependency chain (opendatalab -> openxlab) downgrades
#   setuptools/requests/rich; mim never imports it, so openmim is installed
#   with --no-deps plus its light requirements.
set -euo pipefail

PYTHON=${PYTHON:-python}
TORCH_SPEC=${TORCH_SPEC:-torch===2.13.0}
TORCHVISION_SPEC=${TORCHVISION_SPEC:-torchvision===0.28.0}
TORCH_PIP_ARGS=${TORCH_PIP_ARGS:-}
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PIP=("$PYTHON" -m pip install --quiet --disable-pip-version-check)
export PIP_ROOT_USER_ACTION=ignore

step() { echo; echo "==> $*"; }

step "build tools (setuptools with pkg_resources)"
"${PIP[@]}" "setuptools>=77,<81" wheel

step "torch and torchvision ($TORCH_SPEC, $TORCHVISION_SPEC)"
# shellcheck disable=SC2086  # TORCH_PIP_ARGS is a list of options
"${PIP[@]}" "$TORCH_SPEC" "$TORCHVISION_SPEC" ${TORCH_PIP_ARGS}

step "mmengine"
"${PIP[@]}" "mmengine==0.10.7" numpy

step "mmcv 2.1.0 with compiled ops (first time without a prebuilt wheel: ~15 min compile)"
MMCV_ARGS=(--no-build-isolation)
GPU_VISIBLE=$("$PYTHON" -c "import torch; print(int(torch.cuda.is_available()))")
MMCV_WHEEL_DIR=${MMCV_WHEEL_DIR:-"$REPO_ROOT/../shared/wheels"}
if [[ "$GPU_VISIBLE" == "0" && -d "$MMCV_WHEEL_DIR" ]]; then
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
if ! "$PYTHON" -c "import torch, torchvision; torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5); import mmpretrain.models" ; then
    echo >&2
    echo "ERROR: torchvision or 'import mmpretrain.models' failed: torch and" \
        "torchvision are not a matching pair of the same build. Reinstall" \
        "both from one index, e.g.:" >&2
    echo "  $PYTHON -m pip install 'torch===2.13.0' 'torchvision===0.28.0'" >&2
    exit 1
fi
"$PYTHON" - <<'EOF'
import sys

import mmcv
import mmengine
import mmpretrain
import mmseg
import numpy
import setuptools
import torch
import torchvision

print(f'python        {sys.version.split()[0]}')
for module in (torch, torchvision, numpy, setuptools, mmengine, mmcv, mmseg,
               mmpretrain):
    print(f'{module.__name__:<13} {module.__version__}')
print(f'cuda          {torch.version.cuda} '
      f'(available: {torch.cuda.is_available()})')
EOF
