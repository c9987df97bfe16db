#!/usr/bin/env bash
# petprep's main job: synth -> download -> partition -> batches -> train -> eval -> predict ->
# calibrate -> report:
#   scripts/demo.sh          the synthetic dataset (fully offline, a few minutes on 2 cores)
#   scripts/demo.sh --real   the real Oxford-IIIT Pet archives (about 810 MB from the network):
#                            download, partition at 128x128, train, calibrate, eval, report
# Options of --real:
#   --mirror URL       a base URL holding both archives (repeatable; default: the Oxford site)
#   --checksums FILE   SHA256SUMS to verify the archives against (default: the known ones)
#   --epochs N         training epochs (default 10: about 30 min on 2 cores)
#   --max-steps N      stop training at step N (a short trial)
# Outputs go to demo-out/ (or $PETPREP_DEMO_DIR). PETPREP_NO_BUILD=1 uses the petprep already
# built in $PETPREP_BUILD_DIR (default build/) instead of building first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
real=0
mirrors=()
checksums=""
epochs=10
max_steps=""
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "demo.sh: $*" >&2; exit 2; }
value() {  # value NAME VALUE: VALUE must be present and not another option
  if [ -z "$2" ] || [ "${2#--}" != "$2" ]; then die "$1 needs a value (try --help)"; fi
}
positive() {
  case "$2" in '' | *[!0-9]* | 0) die "$1 takes a positive whole number, not '$2'" ;; esac
}
while [ $# -gt 0 ]; do
  case "$1" in
    --real) real=1 ;;
    --mirror) value "$1" "${2:-}"; mirrors+=(--mirror "$2"); shift ;;
    --mirror=*) mirrors+=(--mirror "${1#*=}") ;;
    --checksums) value "$1" "${2:-}"; checksums=$2; shift ;;
    --checksums=*) checksums=${1#*=} ;;
    --epochs) value "$1" "${2:-}"; positive "$1" "$2"; epochs=$2; shift ;;
    --epochs=*) epochs=${1#*=}; positive --epochs "$epochs" ;;
    --max-steps) value "$1" "${2:-}"; positive "$1" "$2"; max_steps=$2; shift ;;
    --max-steps=*) max_steps=${1#*=}; positive --max-steps "$max_steps" ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
if [ "$real" -eq 0 ] && { [ ${#mirrors[@]} -gt 0 ] || [ -n "$checksums" ] || [ -n "$max_steps" ] ||
  [ "$epochs" != 10 ]; }; then
  die "--mirror, --checksums, --epochs and --max-steps go with --real"
fi
if [ -n "$checksums" ]; then
  [ -f "$checksums" ] || die "--checksums: no such file: $checksums"
  checksums=$(cd "$(dirname "$checksums")" && pwd)/$(basename "$checksums")
fi

if [ "${PETPREP_NO_BUILD:-0}" != 1 ]; then
  "$root/scripts/build.sh" --target petprep --target print_record
fi
petprep="${PETPREP_BUILD_DIR:-$root/build}/petprep"
[ -x "$petprep" ] || die "no petprep binary at $petprep (build it: scripts/build.sh)"
out="${PETPREP_DEMO_DIR:-$root/demo-out}"
mkdir -p "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "petprep env: where every result will say it came from"
"$petprep" env | tee "$out/env.txt"

if [ "$real" -eq 1 ]; then
  data="$out/real"
  run="$data/runs/unet128"
  device=cpu
  if ! tail -n 1 "$out/env.txt" | grep -q '^CUDA: no'; then device=cuda; fi

  step "petprep download: the real archives (about 810 MB; resumable, rerun after an interruption)"
  "$petprep" download --out "$data" "${mirrors[@]}" ${checksums:+--checksums "$checksums"}

  step "petprep partition: MD5 10-fold splits into sharded records at 128x128"
  if "$petprep" -q verify "$data/dataset" >/dev/null 2>&1 &&
     [ "$data/dataset" -nt "$data/petset" ]; then
    echo "reusing $data/dataset (verified; newer than the petset)"
  else
    "$petprep" partition --input "$data/petset" --output "$data/dataset" --size 128 --force
  fi

  step "petprep train: the U-Net at 128x128, $epochs epochs, batch 8, lr 0.002, on $device"
  if [ -d "$run/checkpoints" ] && [ ! -f "$run/summary.json" ]; then
    echo "an interrupted run is in $run: resuming it"
    "$petprep" train --out "$run" --resume --device "$device" ${max_steps:+--max-steps "$max_steps"}
  else
    rm -rf "$run"
    "$petprep" train --data "$data/dataset" --out "$run" --epochs "$epochs" --batch 8 --lr 0.002 \
      --hash-every 50 --device "$device" ${max_steps:+--max-steps "$max_steps"}
  fi

  step "petprep calibrate: a temperature from the calibration split, NLL and ECE before and after"
  "$petprep" calibrate "$run" --device "$device"

  step "petprep eval: the test split (IoU per class, F1, pixel accuracy; calibrated NLL and ECE)"
  "$petprep" eval "$run" --split test --device "$device"

  step "petprep report: one page about the run"
  "$petprep" report "$run" --out "$data/report.html" --device "$device"
  echo
  echo "The report (open it in a browser; it loads nothing from the network): $data/report.html"
  exit 0
fi

step "petprep synth: 1,000 pets in the Oxford-IIIT Pet layout (seed 7)"
start=$(date +%s%N)
"$petprep" synth --out "$out/synth" --count 1000 --seed 7
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'took %d.%01d s on %d cores\n' $((ms / 1000)) $((ms % 1000 / 100)) "$(nproc)"

step "again with one thread: the archives must be byte-identical"
"$petprep" synth --out "$out/synth-1thread" --count 1000 --seed 7 --jobs 1 --quiet >/dev/null
if cmp -s "$out/synth/SHA256SUMS" "$out/synth-1thread/SHA256SUMS"; then
  echo "identical SHA256SUMS:"
  sed 's/^/  /' "$out/synth/SHA256SUMS"
else
  echo "MISMATCH between $out/synth and $out/synth-1thread" >&2
  exit 1
fi

step "petprep download --from: archives verified into DATA/raw, converted into DATA/petset"
"$petprep" download --from "$out/synth" --checksums "$out/synth/SHA256SUMS" --out "$out/data"
echo "one pet folder: $(ls "$out/data/petset/Abyssinian_1" | tr '\n' ' ')"

step "again with --jobs 1 into another folder: the petset must be byte-identical"
"$petprep" download --from "$out/synth" --checksums "$out/synth/SHA256SUMS" --out "$out/data-1job" \
  --jobs 1 --quiet | tail -n 1

step "petprep partition: MD5 10-fold splits into sharded records (128x128)"
"$petprep" partition --input "$out/data/petset" --output "$out/data/dataset" --force

step "again with --jobs 1: the same fingerprint"
"$petprep" partition --input "$out/data/petset" --output "$out/data/dataset-1job" --jobs 1 \
  --force --quiet | tail -n 1
"$petprep" verify "$out/data/dataset" --deep --quiet

step "petprep batches: the loader's order and augmentation, the same for 1 and 2 threads"
cat > "$out/augment.json" <<'JSON'
{"flip_p": 0.5, "crop_scale": [0.5, 1.0], "rotate_deg": 15, "brightness": 0.2, "contrast": 0.2, "saturation": 0.2}
JSON
for threads in 1 2; do
  printf 'threads %d: ' "$threads"
  "$petprep" -q batches --data "$out/data/dataset" --batch 8 --epochs 2 --seed 7 \
    --augment "$out/augment.json" --threads "$threads" | tail -n 1
done
"$petprep" -q preview --data "$out/data/dataset" --count 16 --seed 7 --augment "$out/augment.json" \
  --out "$out/preview.png" >/dev/null
echo "a grid of 16 augmented samples with their masks: $out/preview.png"

step "petprep selftest: this machine computes petprep's canonical arithmetic"
"$petprep" selftest --threads 2 | tail -n 1

step "petprep train: the U-Net on a 64x64 partition, 5 epochs on 2 threads"
"$petprep" partition --input "$out/data/petset" --output "$out/data/dataset64" --size 64 --force --quiet | tail -n 1
rm -rf "$out/runs"
"$petprep" train --data "$out/data/dataset64" --out "$out/runs/a" --epochs 5 --batch 8 --lr 0.002 \
  --threads 2 --hash-every 20
grep '"validation"' "$out/runs/a/metrics.jsonl" | sed 's/.*"step":\([0-9]*\).*"mean_iou":\([0-9.]*\).*/  step \1: validation mean IoU \2/'

step "again on 1 thread, stopped at step 40: the same weights as the first run's at step 40"
"$petprep" train --data "$out/data/dataset64" --out "$out/runs/b" --epochs 5 --batch 8 --lr 0.002 \
  --threads 1 --hash-every 20 --max-steps 40 --quiet | tail -n 1
first=$(grep '"step":40,' "$out/runs/a/metrics.jsonl" | sed 's/.*"weights_sha256":"\([0-9a-f]*\)".*/\1/')
echo "first run at step 40:   $first"
second=$(sed -n 's/.*"weights_sha256": "\([0-9a-f]*\)".*/\1/p' "$out/runs/b/summary.json")
echo "second run at step 40:  $second"
if [ "$first" != "$second" ]; then echo "MISMATCH" >&2; exit 1; fi

step "resume the second run to the end: the first run's final weights"
"$petprep" train --out "$out/runs/b" --resume --threads 2 --quiet | tail -n 1
if cmp "$out/runs/a/metrics.jsonl" "$out/runs/b/metrics.jsonl"; then
  echo "metrics.jsonl identical, step by step"
else
  echo "MISMATCH in metrics.jsonl" >&2
  exit 1
fi

step "petprep eval and predict"
"$petprep" eval "$out/runs/a" --split test
# shellcheck disable=SC2046
"$petprep" predict "$out/runs/a" --out "$out/predictions" --image $(ls "$out"/data/petset/*/image.* | head -n 3)
echo "masks (class ids) and overlays (pet orange, border yellow) of three pictures: $out/predictions"

step "petprep calibrate: a temperature from the calibration split, NLL and ECE before and after"
"$petprep" calibrate "$out/runs/a" --threads 2

step "petprep report: the run on one page (curves, per-class metrics, reliability, predictions)"
"$petprep" report "$out/runs/a" --out "$out/report.html" --threads 2

step "petprep synth --defects: every defect kind of the real archives, listed in defects.json"
"$petprep" synth --out "$out/synth-defects" --count 100 --seed 7 --defects --quiet
grep -o '"defect": "[a-z_]*"' "$out/synth-defects/defects.json" | sort | uniq -c | sed 's/"defect": //'

step "converting it repairs what can be repaired and reports every defect with its action"
"$petprep" download --from "$out/synth-defects" --checksums "$out/synth-defects/SHA256SUMS" \
  --out "$out/data-defects" >/dev/null
awk -F'"' '/"kind":/ {kind = $4} /"action":/ {print kind " -> " $4}' \
  "$out/data-defects/petset/conversion_report.json" | sort | uniq -c

step "what was produced"
ls -l "$out/synth" "$out/data/raw"
echo "petset: $(ls "$out/data/petset" | wc -l) entries (pet folders and conversion_report.json)"
echo "dataset:"; ls -l "$out/data/dataset" "$out/data/dataset/train" | sed 's/^/  /'
echo "the first training record (examples/print_record.cc):"
"${PETPREP_BUILD_DIR:-$root/build}/print_record" "$out/data/dataset" train 0 | sed 's/^/  /'

echo
echo "Look inside: tar tzf $out/synth/images.tar.gz | head"
echo "The run's report (open it in a browser; it loads nothing from the network): $out/report.html"
