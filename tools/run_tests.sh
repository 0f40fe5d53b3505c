#!/usr/bin/env bash
# Set up the environment (tools/setup_env.sh, idempotent) and run the test
# suite on CPU:
#
#   bash tools/run_tests.sh [pytest args]        # default: tests -q --durations=30
#
# MMSEMI_SKIP_SETUP=1 skips the setup step. pytest's exit code is returned;
# "no tests collected" (exit code 5) is a failure too.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
cd "$REPO_ROOT"

if [[ "${MMSEMI_SKIP_SETUP:-0}" != "1" ]]; then
    bash "$REPO_ROOT/tools/setup_env.sh"
fi

if [[ $# -eq 0 ]]; then
    set -- tests -q --durations=30
fi
echo
echo "==> $PYTHON -m pytest $*"
status=0
"$PYTHON" -m pytest "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "ERROR: pytest collected no tests" >&2
fi
exit $status
