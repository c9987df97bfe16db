#!/usr/bin/env bash
# B3 (../shared/BENCHMARKS.md): one training step of the reference U-Net, side by side with
# the peer ../shared/peers/torch_unet_step.py (PyTorch, use_deterministic_algorithms(True)).
#
#   bench/b3_train_step.sh [--steps 20]
#
# petprep: build/bench/train_step_bench (median step time on 1 and 2 threads, the weights'
# SHA-256 after 10 steps on each, the fraction of the measured FP32 FMA peak). Peer: the
# same network, batch and optimiser in PyTorch 1.13 (Debian's python3-torch, installed here
# when missing). Then bench/torch_compare.py feeds petprep's weights and batch to the peer's
# model and compares the loss and the gradients against float64. After the side-by-side lines, a
# per-op table of one step on 2 threads (forward and backward apart: ms and share of the step).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=20
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    *) echo "usage: bench/b3_train_step.sh [--steps N]" >&2; exit 2 ;;
  esac
done
if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  echo "installing Debian's python3-torch and python3-numpy for the peer" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    python3-torch python3-numpy >/dev/null
fi
"$root/scripts/build.sh" --target train_step_bench >/dev/null
bench="${PETPREP_BUILD_DIR:-$root/build}/bench/train_step_bench"
peers="$root/../shared/peers"
echo "command: bench/b3_train_step.sh --steps $steps"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"

echo
echo "== petprep"
ours=$("$bench" --steps "$steps" --warmup 3)
echo "$ours"

echo
echo "== peer: $peers/torch_unet_step.py --up tconv"
theirs=$(/usr/bin/python3 "$peers/torch_unet_step.py" --steps "$steps" --up tconv)
echo "$theirs"

echo
echo "== side by side (median step time)"
for t in 1 2; do
  a=$(echo "$ours" | sed -n "s/^threads=$t: median \([0-9.]*\) ms.*/\1/p")
  b=$(echo "$theirs" | sed -n "s/^time threads=$t: median \([0-9.]*\) ms.*/\1/p")
  awk -v t="$t" -v a="$a" -v b="$b" 'BEGIN { printf "threads %d: petprep %.1f ms, PyTorch %.1f ms, ratio %.2f\n", t, a, b, a / b }'
done

echo
echo "== where petprep's step goes (build/bench/train_step_bench --op-table 2 --steps $steps)"
"$bench" --op-table 2 --steps "$steps" --warmup 3

echo
echo "== conventions: the same weights and batch through PyTorch's model"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bench" --export "$work"
/usr/bin/python3 "$root/bench/torch_compare.py" "$work" --peers "$peers"
