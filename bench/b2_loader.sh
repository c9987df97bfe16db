#!/usr/bin/env bash
# B2 (../shared/BENCHMARKS.md): the loader, shards to augmented batches.
#
#   bench/b2_loader.sh [--count 2000] [--runs 5]
#
# Input: `petprep synth --count N --seed 1` → download --from → partition at 128x128, once
# with png records (the default) and once with raw records, on /dev/shm. Measured: `petprep
# batches --batch 8` over the train split for 3 epochs with flip + crop/scale + colour jitter,
# --threads 1 and 2: samples/s (median, min, max of the runs) and the batches fingerprint,
# which must be the same for every thread count. Then the same from Python: petprep.Loader
# with those options, 3 epochs, each batch's numpy arrays built (float32 images without a
# copy, int64 masks widened from the bytes), timed from the Loader's construction to the last
# batch and as a whole process (the interpreter's start-up included), against the command.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=2000
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: bench/b2_loader.sh [--count N] [--runs R]" >&2; exit 2 ;;
  esac
done
"$root/scripts/build.sh" --target petprep >/dev/null
petprep="${PETPREP_BUILD_DIR:-$root/build}/petprep"
work=$(mktemp -d /dev/shm/petprep-b2.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "command: bench/b2_loader.sh --count $count --runs $runs"
echo "machine: $(nproc) cores, $("$petprep" env | sed -n 's/^CPU: //p')"
"$petprep" -q synth --out "$work/synth" --count "$count" --seed 1 >/dev/null
"$petprep" -q download --from "$work/synth" --checksums "$work/synth/SHA256SUMS" --out "$work/data" >/dev/null
for codec in png raw; do
  "$petprep" -q partition --input "$work/data/petset" --output "$work/ds-$codec" --codec "$codec" >/dev/null
done
cat > "$work/spec.json" <<'JSON'
{"flip_p": 0.5, "crop_scale": [0.5, 1.0], "crop_ratio": [0.75, 1.3333], "brightness": 0.2,
 "contrast": 0.2, "saturation": 0.2}
JSON
echo "augmentation: $(tr -d '\n' < "$work/spec.json")"
stats() { sort -g | awk '{v[NR]=$1} END {printf "%.0f %.0f %.0f\n", v[int((NR+1)/2)], v[1], v[NR]}'; }
now() { date +%s.%N; }
echo
printf '%-8s %8s %10s %10s %10s  %s\n' codec threads "median/s" "min/s" "max/s" "batches fingerprint"
for codec in png raw; do
  for threads in 1 2; do
    : > "$work/rates"
    for _ in $(seq "$runs"); do
      t0=$(now)
      "$petprep" -q batches --data "$work/ds-$codec" --batch 8 --epochs 3 --seed 0 \
        --augment "$work/spec.json" --threads "$threads" > "$work/out.txt"
      t1=$(now)
      samples=$(($(grep -c '^[0-9]' "$work/out.txt") ))
      n=$(awk 'NF > 3 {s += NF - 3} END {print s}' "$work/out.txt")
      awk "BEGIN {print $n / ($t1 - $t0)}" >> "$work/rates"
    done
    read -r med min max < <(stats < "$work/rates")
    echo "$codec $threads $med" >> "$work/cli_rates"
    printf '%-8s %8d %10s %10s %10s  %s\n' "$codec" "$threads" "$med" "$min" "$max" \
      "$(tail -n 1 "$work/out.txt" | cut -d' ' -f3)"
  done
done
echo
echo "(samples/s counts whole runs of the command, start-up included: $(awk 'NF > 3 {s += NF - 3} END {print s}' "$work/out.txt") samples each)"

build="${PETPREP_BUILD_DIR:-$root/build}"
if [ -d "$build/python" ]; then
  "$root/scripts/build.sh" --target petprep_python >/dev/null
  echo
  echo "From Python (petprep.Loader, the same options; loop/s times the loop from the Loader's"
  echo "construction to the last batch, numpy already imported; process/s the whole process with"
  echo "the interpreter's start-up):"
  printf '%-8s %8s %10s %10s %10s %10s %8s  %s\n' codec threads "loop/s" "min/s" "max/s" "process/s" "vs cmd" "batches fingerprint"
  for codec in png raw; do
    for threads in 1 2; do
      : > "$work/rates"
      : > "$work/whole"
      for _ in $(seq "$runs"); do
        t0=$(now)
        PYTHONPATH="$build/python" /usr/bin/python3 - "$work/ds-$codec" "$work/spec.json" "$threads" \
          > "$work/py.txt" <<'PY'
import hashlib, json, sys, time
import numpy  # imported before the clock starts, as in any program that trains on the arrays
import petprep
path, spec, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
loader = petprep.Loader(path, batch=8, seed=0, augment=json.load(open(spec)), threads=threads)
fingerprint, samples = hashlib.sha256(), 0
for _ in range(3):
    for b in loader:
        fingerprint.update(bytes.fromhex(b.sha256))
        samples += b.images.shape[0]
print(samples, fingerprint.hexdigest(), time.perf_counter() - start)
PY
        t1=$(now)
        read -r n fp loop < "$work/py.txt"
        awk "BEGIN {print $n / $loop}" >> "$work/rates"
        awk "BEGIN {print $n / ($t1 - $t0)}" >> "$work/whole"
      done
      read -r med min max < <(stats < "$work/rates")
      read -r whole _ _ < <(stats < "$work/whole")
      cmd=$(awk -v c="$codec" -v t="$threads" '$1 == c && $2 == t {print $3}' "$work/cli_rates")
      printf '%-8s %8d %10s %10s %10s %10s %8s  %s\n' "$codec" "$threads" "$med" "$min" "$max" "$whole" \
        "$(awk -v a="$med" -v b="$cmd" 'BEGIN {printf "%.2f", a / b}')" "$fp"
    done
  done
  echo "(vs cmd: the loop's median over the command's median, each on its own clock)"
fi
