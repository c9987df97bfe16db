#!/usr/bin/env bash
# B1 (../shared/BENCHMARKS.md): archives to training records, petprep side by side with the
# reference pipeline's preparation (../shared/peers/reference_prepare.py), in one run.
#
#   bench/b1_prepare.sh [--count 2000] [--runs 5]
#
# Input: `petprep synth --count N --seed 1` archives on /dev/shm (this disk is slow and noisy).
# petprep: `download --from` (verify, copy, extract, convert) then `partition --size 128`, with
#   --jobs 1 and 2, the petset and dataset removed before each run. Peer: reference_prepare.py
#   --archives with 1 and 2 processes (extract, warehouse, split: decode + resize to 128).
#   The halves are also compared alone: convert vs extract + warehouse, partition vs split.
#   Limit: build/bench/prepare_stages_bench, which also times each stage on one thread.
#   Each side runs --runs times; the table gives median, min and max.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=2000
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: bench/b1_prepare.sh [--count N] [--runs R]" >&2; exit 2 ;;
  esac
done

"$root/scripts/build.sh" --target petprep --target prepare_stages_bench >/dev/null
petprep="${PETPREP_BUILD_DIR:-$root/build}/petprep"
peer="$root/../shared/peers/reference_prepare.py"
if ! /usr/bin/python3 -c 'import PIL, numpy' 2>/dev/null; then
  echo "b1: installing python3-pil python3-numpy for the peer" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pil python3-numpy >/dev/null
fi

work=$(mktemp -d /dev/shm/petprep-b1.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "command: bench/b1_prepare.sh --count $count --runs $runs"
echo "machine: $(nproc) cores, $("$petprep" env | sed -n 's/^CPU: //p')"
"$petprep" -q synth --out "$work/synth" --count "$count" --seed 1 > "$work/synth.txt"
mean=$(sed -n 's/.*mean JPEG size: \([^,]*\),.*/\1/p' "$work/synth.txt")
echo "input: $count synthetic pets, images.tar.gz $(du -h "$work/synth/images.tar.gz" | cut -f1)," \
     "mean JPEG $mean (the real dataset: 792 MB for 7,390 images, about 107 KB each)"

# median / min / max of the numbers on stdin
stats() { sort -g | awk '{v[NR]=$1} END {printf "%.3f %.3f %.3f\n", v[int((NR+1)/2)], v[1], v[NR]}'; }
now() { date +%s.%N; }
calc() { awk "BEGIN {print $*}"; }

echo
printf '%-40s %6s %10s %10s %10s %10s\n' "side" "cores" "median s" "min s" "max s" "images/s"
row() { printf '%-40s %6d %10.2f %10.2f %10.2f %10.1f\n' "$1" "$2" "$3" "$4" "$5" "$(calc "$count / $3")"; }
for jobs in 1 2; do
  : > "$work/conv"; : > "$work/part"; : > "$work/total"
  for _ in $(seq "$runs"); do
    rm -rf "$work/data/petset" "$work/data/dataset"
    t0=$(now)
    "$petprep" -q download --from "$work/synth" --checksums "$work/synth/SHA256SUMS" \
      --out "$work/data" --jobs "$jobs" > /dev/null
    t1=$(now)
    "$petprep" -q partition --input "$work/data/petset" --output "$work/data/dataset" \
      --jobs "$jobs" > "$work/partition.txt"
    t2=$(now)
    calc "$t1 - $t0" >> "$work/conv"; calc "$t2 - $t1" >> "$work/part"; calc "$t2 - $t0" >> "$work/total"
  done
  read -r med min max < <(stats < "$work/total"); row "petprep download + partition" "$jobs" "$med" "$min" "$max"
  read -r med min max < <(stats < "$work/conv"); row "  download --from (convert)" "$jobs" "$med" "$min" "$max"
  read -r med min max < <(stats < "$work/part"); row "  partition" "$jobs" "$med" "$min" "$max"
done
for procs in 1 2; do
  : > "$work/conv"; : > "$work/part"; : > "$work/total"
  for _ in $(seq "$runs"); do
    rm -rf "$work/peer"
    TMPDIR="$work" /usr/bin/python3 "$peer" --archives "$work/synth" --out "$work/peer" \
      --procs "$procs" > "$work/peer.txt"
    ex=$(sed -n 's/^extract: \([0-9.]*\) s.*/\1/p' "$work/peer.txt")
    wh=$(sed -n 's/^warehouse: [0-9]* pets, \([0-9.]*\) s.*/\1/p' "$work/peer.txt")
    sp=$(sed -n 's/^split: [0-9]* pets, \([0-9.]*\) s.*/\1/p' "$work/peer.txt")
    calc "$ex + $wh" >> "$work/conv"; calc "$sp" >> "$work/part"; calc "$ex + $wh + $sp" >> "$work/total"
  done
  read -r med min max < <(stats < "$work/total"); row "peer reference_prepare.py" "$procs" "$med" "$min" "$max"
  read -r med min max < <(stats < "$work/conv"); row "  extract + warehouse" "$procs" "$med" "$min" "$max"
  read -r med min max < <(stats < "$work/part"); row "  split (decode + resize)" "$procs" "$med" "$min" "$max"
done
echo
echo "dataset $(tail -n 1 "$work/partition.txt") (the same for every run and --jobs)"
echo
"${PETPREP_BUILD_DIR:-$root/build}/bench/prepare_stages_bench" "$work/synth" | tail -n +2
