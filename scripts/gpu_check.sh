#!/usr/bin/env bash
# The GPU check in one command (about 8 minutes): scripts/gpu_check.sh OUT [--dry-run].
# Data: NBCAP_DATA if set, else the ignored .gpu/ folder of the checkout (make gpu-data fills it:
# cifar10/cifar10-jpeg.tar.gz and nb201/nb201_merged.csv); the decoded cache goes beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
export NBCAP_DATA="${NBCAP_DATA:-$PWD/.gpu}"
export NBCAP_CACHE="${NBCAP_CACHE:-$NBCAP_DATA/cache}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" scripts/gpu_check.py "$@"
