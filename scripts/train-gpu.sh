#!/usr/bin/env bash
# Train zoo/clip-eval and the unCLIP models side by side on one CUDA GPU, each with a time limit.
# A run that hits its limit leaves runs/<name>/checkpoint.pt; continue it anywhere with
#   clipspace train <model> --config configs/gpu/<name>.json --resume [--device cpu]
# Usage: scripts/train-gpu.sh [LIMIT_SECONDS] [LOG_DIR]     (python3 must import clipspace)
set -u
LIMIT=${1:-420}
LOGS=${2:-runs/gpu-logs}
mkdir -p "$LOGS"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, transformers, diffusers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'diffusers', diffusers.__version__)"
# render the cached splits once, with every core, before the trainers read them
python3 -c "import os; from clipspace.world.datasets import cached_split as c; n=os.cpu_count(); c('train', 240000, workers=n); c('val', 5000, workers=n)"
echo "rendered: $(date +%T)"
pids=()
for m in decoder prior upsampler prior-ar; do
  PYTHONUNBUFFERED=1 python3 -m clipspace.cli train "$m" --config "configs/gpu/$m.json" --time-limit "$LIMIT" > "$LOGS/$m.log" 2>&1 &
  pids+=($!)
done
PYTHONUNBUFFERED=1 python3 -m clipspace.cli train clip --config configs/gpu/clip-eval.json --time-limit "$LIMIT" > "$LOGS/clip-eval.log" 2>&1 &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; echo "pid $p exit $?"; done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
for f in "$LOGS"/*.log; do echo "== $f"; tr '\r' '\n' < "$f" | grep -v '^\s*$' | tail -3; done
