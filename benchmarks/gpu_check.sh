#!/usr/bin/env bash
# GPU check, run as it is on a lent GPU machine (Python with torch + torchvision; no ray, no optuna, no
# internet). The four Fashion-MNIST IDX files are copied next to this script beforehand (or GANRATOR_DATA
# names their folder). Prints the throughput ratio against torchvision's DataLoader pipeline and the time
# to 94% test accuracy. Budget: under 8 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export GANRATOR_DATA=${GANRATOR_DATA:-$here}
export PYTHONPATH="$(dirname "$here")${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())'

echo "== throughput: same cnn, flip + translate, batch 512"
timeout 150 $PY "$here/throughput.py" --images 100000 --batch-size 512 --workers 8

echo "== time to 94% test accuracy (wrn16_4, bf16, channels_last; random erasing)"
timeout 300 $PY "$here/time_to_accuracy.py" --target 0.94 --ladder 10,20 \
    --model wrn16_4 --batch-size 512 --lr 0.2 --weight-decay 5e-4 --aug-translate 2 --aug-erase 0.5 \
    --warmup-epochs 1 --eval-batch-size 2048
