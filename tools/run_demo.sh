#!/usr/bin/env bash
# The README's main job on a fresh machine: set up the environment, generate
# the ToyShapes demo data, train on its 1/64 labeled split on the CPU
# supervised-only, UniMatch, CorrMatch, U2PL, RankMatch, CSS and an
# all-labels arm from the shipped ResNet stand-in, and supervised-only,
# UniMatch and UniMatch V2 from the shipped ViT stand-in (one arm per CPU
# core at a time), print the comparison table and draw the picture.
#
#   bash tools/run_demo.sh [run_demo.py args]     # e.g. --seeds 0 1
#
# MMSEMI_SKIP_SETUP=1 skips the setup step.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
cd "$REPO_ROOT"
if [[ "${MMSEMI_SKIP_SETUP:-0}" != "1" ]]; then
    bash "$REPO_ROOT/tools/setup_env.sh"
fi
exec "$PYTHON" "$REPO_ROOT/tools/misc/run_demo.py" "$@"
