#!/usr/bin/env bash
# Train zoo models side by side on one CUDA GPU, each with a time limit (python3 must import clipspace).
# Each run resumes its checkpoint if there is one. A run that hits its limit checkpoints runs/<name>/checkpoint.pt
# (the unCLIP trainers also export their EMA so far); continue it anywhere with
#   clipspace train <model> --config <config> --resume [--device cpu]
# Usage: scripts/train-gpu.sh [LIMIT_SECONDS] [LOG_DIR] [MODEL=CONFIG ...]
#   default runs: zoo/clip-eval and the four unCLIP models with configs/gpu/*.json
#   e.g. scripts/train-gpu.sh 400 runs/gpu-logs decoder=configs/gpu/decoder.json clip=configs/gpu/clip-eval.json
# Extra trainer options, e.g. a dry run on a machine without a GPU: TRAIN_ARGS="--device cpu".
set -u
LIMIT=${1:-420}
LOGS=${2:-runs/gpu-logs}
shift $(( $# < 2 ? $# : 2 ))
RUNS=("$@")
if [ ${#RUNS[@]} -eq 0 ]; then
  RUNS=(decoder=configs/gpu/decoder.json prior=configs/gpu/prior.json upsampler=configs/gpu/upsampler.json
        prior-ar=configs/gpu/prior-ar.json clip=configs/gpu/clip-eval.json)
fi
mkdir -p "$LOGS"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python3 -c "import torch, transformers, diffusers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'diffusers', diffusers.__version__)" || exit 1
# render the cached splits and the zoo CLIP's image embeddings once, with every core, before the trainers read them
python3 - <<'EOF' || exit 1
import os, torch
from clipspace.models.clip import ClipSpace
from clipspace.train.unclip import embedding_memo, image_embeddings
from clipspace.world.datasets import cached_split
n = os.cpu_count()
cache = cached_split("train", 240000, workers=n)
cached_split("val", 5000, workers=n)
clip = ClipSpace.from_pretrained("clip").eval().to("cuda" if torch.cuda.is_available() else "cpu")
image_embeddings(clip, cache, memo=embedding_memo("clip", "train", 240000))
EOF
echo "data ready: $(date +%T)"
pids=()
for run in "${RUNS[@]}"; do
  model=${run%%=*}; config=${run#*=}; name=$(basename "$config" .json)
  # shellcheck disable=SC2086
  PYTHONUNBUFFERED=1 python3 -m clipspace.cli train "$model" --config "$config" --time-limit "$LIMIT" --resume ${TRAIN_ARGS:-} > "$LOGS/$name.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; echo "pid $p exit $?"; done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
for f in "$LOGS"/*.log; do echo "== $f"; tr '\r' '\n' < "$f" | grep -v '^\s*$' | tail -3; done
