#!/usr/bin/env bash
# Testing on a slurm cluster (one task per GPU).
#
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
#
# Environment: GPUS (4, total), GPUS_PER_NODE (4), CPUS_PER_TASK (5),
# SRUN_ARGS (extra srun options; "--gres=none" on CPU-only nodes, where GPUS
# is the number of processes), PYTHON (python).
set -euo pipefail
set -x

if [[ $# -lt 4 ]]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
# One GPU per task unless SRUN_ARGS requests its own generic resources:
# SRUN_ARGS=--gres=none runs on CPU-only nodes (partitions without GPUs
# reject --gres=gpu:N).
GRES_ARGS=(--gres=gpu:"$GPUS_PER_NODE")
if [[ " ${SRUN_ARGS} " == *" --gres"* ]]; then
    GRES_ARGS=()
fi
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(dirname "$TOOLS_DIR")"

# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
PYTHONPATH="${REPO_ROOT}${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES_ARGS[@]+"${GRES_ARGS[@]}"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${PYTHON:-python}" -u "$TOOLS_DIR/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher="slurm" "${@:5}"
