#!/usr/bin/env bash
# One prepared check for a GPU machine (about 8 minutes on one 80+ GB GPU):
#   1. installs the project into the Python that has torch (vLLM too when it fits that torch),
#   2. SFT and GRPO steps at the Qwen2.5-0.5B and -1.5B shapes, random weights, configs built offline
#      (tokens/s, GRPO completion tokens/s, peak GPU memory), and generation alone (transformers,
#      and vLLM when it imports),
#   3. the miniature (python -m training.learn) at GPU speed.
# Figures land in $OUT_DIR (default runs/gpu_check): bench.json, learn/learning.json, learning.png.
#
#   bench/gpu_check.sh              # on the GPU machine
#   bench/gpu_check.sh --dry-run    # anywhere, CPU sizes, nothing installed: checks the script end to end
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
PY=${PYTHON:-python3}
[[ -x .venv/bin/python && -z "${PYTHON:-}" ]] && PY=.venv/bin/python
OUT=${OUT_DIR:-runs/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
started=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - started )) s)"; }

step "1. environment"
"$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available(),
      '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU')"
if [[ $DRY == 0 ]]; then
  TORCH=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
  # pinning the torch already there keeps pip from swapping it for another build
  "$PY" -m pip install -q -e . "torch==$TORCH"
  if timeout 240 "$PY" -m pip install -q vllm "torch==$TORCH"; then
    echo "vLLM installed"
  else
    echo "vLLM not installable next to torch $TORCH: GRPO generates with transformers"
  fi
else
  echo "dry run: nothing installed"
fi

step "2. SFT / GRPO steps and generation at Qwen2.5 shapes (random weights)"
if [[ $DRY == 0 ]]; then
  SIZES=(--sizes 0.5b,1.5b --seq-len 1024 --batch 8 --steps 3)
else
  SIZES=(--sizes tiny --seq-len 96 --batch 2 --steps 1)
fi
"$PY" bench/train.py "${SIZES[@]}" --modes sft,grpo,gen --checkpointing off --vllm --json "$OUT/bench.json" \
  || echo "some bench cases failed (see rows above)"

step "3. the miniature at this machine's speed"
if [[ $DRY == 0 ]]; then
  "$PY" -m training.learn --out "$OUT/learn"
else
  "$PY" -m training.learn --out "$OUT/learn" --questions 60 --eval_questions 8 --sft_steps 3 --reward_steps 3 --grpo_steps 2
fi

step "done"
echo "figures: $OUT/bench.json, $OUT/learn/learning.json, $OUT/learn/learning.png"
