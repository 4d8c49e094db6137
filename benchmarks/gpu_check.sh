#!/usr/bin/env bash
# GPU check, run as it is on a GPU machine (Python with torch + torchvision; no ray, no optuna, no
# internet). The four Fashion-MNIST IDX files are copied next to this script beforehand (or GANRATOR_DATA
# names their folder). Prints the throughput ratios against torchvision's DataLoader pipeline and the time
# to 94% test accuracy. Budget: under 8 minutes.
#
#   bash benchmarks/gpu_check.sh            # the check itself, on the GPU machine
#   bash benchmarks/gpu_check.sh --quick    # the same steps at toy sizes, any machine (tests run this on CPU)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export GANRATOR_DATA=${GANRATOR_DATA:-$here}
export PYTHONPATH="$(dirname "$here")${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
quick=0
case "${1:-}" in
    --quick) quick=1 ;;
    "") ;;
    *) echo "usage: bash benchmarks/gpu_check.sh [--quick]" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ]; then
    throughput=(--images 512 --batch-size 128 --workers 2)
    # tests/claims.py's small cnn on a fifth of the data for one epoch (GPU_QUICK there; its margin is measured)
    accuracy=(--target 0.5 --ladder 1 --model cnn --model-kwargs '{"width": 16, "depth": 1}' --data-fraction 0.2
              --batch-size 128 --lr 0.1 --optimizer nesterov --lr-schedule onecycle --aug-strength 0 --ema 0
              --eval-batch-size 2500)
else
    throughput=(--images 100000 --batch-size 512 --workers 8)
    accuracy=(--target 0.94 --ladder 10,20 --model wrn16_4 --batch-size 512 --lr 0.2 --weight-decay 5e-4
              --aug-strength 1 --aug-translate 2 --aug-erase 0.5 --warmup-epochs 1 --ema 0
              --eval-batch-size 2048)  # as measured (benchmarks/README.md), whatever the trainer's defaults
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
    torch.cuda.get_device_name() if torch.cuda.is_available() else "(no GPU visible)")'

echo "== throughput: same cnn, flip + translate"
timeout 180 $PY "$here/throughput.py" "${throughput[@]}"

echo "== time to ${accuracy[1]} test accuracy"
timeout 300 $PY "$here/time_to_accuracy.py" "${accuracy[@]}"
