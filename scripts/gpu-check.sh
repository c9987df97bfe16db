#!/usr/bin/env bash
# The CUDA backend's proof on a real GPU, in one prepared command (issue: the CUDA backend).
#
#   scripts/gpu-check.sh --pack DIR   here (Debian, the build machine): build with sm_90 among
#                                     the CUDA architectures and pack into DIR (git ignores
#                                     gpu-pack*/) the programs, the shared libraries a bare GPU
#                                     machine lacks, two small synthetic datasets, the PyTorch peer
#                                     and this script, compressed.
#   bash scripts/gpu-check.sh --run DIR
#                                     there (a GPU machine with nvcc, compute-sanitizer and
#                                     PyTorch, and none of petprep's libraries; no network): the
#                                     CUDA tests, again under compute-sanitizer memcheck, selftest
#                                     --device cuda, batches and a 50-step training run on cuda
#                                     against cpu, and B4 (the step time on cuda and cpu, the
#                                     fraction of the FP32 peak, the loader with GPU augmentation,
#                                     the PyTorch peer), printed as one table. Under 8 minutes.
#   scripts/gpu-check.sh              here, without a GPU: says so and proves what the simulated
#                                     device can (selftest and the backend tests on cuda-sim).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." 2>/dev/null && pwd)

die() { echo "gpu-check: $*" >&2; exit 1; }

pack() {
  local dir=$1
  [ -n "$dir" ] || die "--pack needs a folder"
  export CMAKE_CUDA_ARCHITECTURES="${CMAKE_CUDA_ARCHITECTURES:-80;90}"
  case ";$CMAKE_CUDA_ARCHITECTURES;" in *";90;"*|*";90-real;"*) ;; *) die "CMAKE_CUDA_ARCHITECTURES must include 90";; esac
  local build="${PETPREP_BUILD_DIR:-$root/build}"
  "$root/scripts/setup.sh" >/dev/null
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CUDA_ARCHITECTURES=$CMAKE_CUDA_ARCHITECTURES" >/dev/null || die "cmake failed"
  PETPREP_BUILD_DIR="$build" "$root/scripts/build.sh" || die "the build failed"
  [ -f "$build/CMakeFiles/petprep_gpu.dir/gpu/cuda_backend.cu.o" ] ||
    die "this build has no CUDA backend (nvcc not found?)"
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/lib" "$stage/data" "$stage/peers"
  local programs="petprep tests/backend_ops_test tests/unet_test tests/loader_test tests/mathfn_test
    tests/cuda_info_test tests/selftest_test bench/train_step_bench"
  for p in $programs; do
    [ -x "$build/$p" ] || die "$build/$p is missing"
    cp "$build/$p" "$stage/bin/"
    strip --strip-debug "$stage/bin/$(basename "$p")" 2>/dev/null || true
  done
  # The shared libraries they load, but glibc and the CUDA driver (the GPU machine's own).
  for p in "$stage"/bin/*; do ldd "$p"; done | awk '/=> \// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|libresolv|libutil)\.so|/ld-linux|/libcuda\.so|/libnvidia' |
    while read -r lib; do cp -L "$lib" "$stage/lib/"; done
  # Datasets: 120 synthetic pets, partitioned at 128 px (the loader) and 64 px (training).
  local work
  work=$(mktemp -d)
  "$build/petprep" -q synth --out "$work/synth" --count 120 --seed 7 >/dev/null || die "synth failed"
  "$build/petprep" -q download --from "$work/synth" --checksums "$work/synth/SHA256SUMS" \
    --out "$work/data" >/dev/null || die "download --from failed"
  "$build/petprep" -q partition --input "$work/data/petset" --output "$stage/data/dataset128" \
    --size 128 >/dev/null || die "partition failed"
  "$build/petprep" -q partition --input "$work/data/petset" --output "$stage/data/dataset64" \
    --size 64 >/dev/null || die "partition failed"
  rm -rf "$work"
  if [ -f "$root/../shared/peers/torch_unet_step.py" ]; then
    cp "$root/../shared/peers/torch_unet_step.py" "$stage/peers/"
  else
    echo "gpu-check: note: ../shared/peers/torch_unet_step.py not found; the PyTorch peer is left out" >&2
  fi
  mkdir -p "$dir"
  rm -f "$dir/bundle.tar.gz"
  tar -C "$stage" -czf "$dir/bundle.tar.gz" . || die "packing failed"
  cp "$0" "$dir/gpu-check.sh"
  rm -rf "$stage"
  local size
  size=$(du -sm "$dir" | cut -f1)
  echo "gpu-check: packed $dir (${size} MiB): $(cd "$dir" && ls | tr '\n' ' ')"
  [ "$size" -lt 60 ] || echo "gpu-check: warning: $dir is ${size} MiB; with the working tree it must stay under 64 MiB" >&2
  echo "run there: bash scripts/gpu-check.sh --run $dir"
}

# ---------------------------------------------------------------- --run, on the GPU machine

results=()
row() { results+=("$(printf '| %-44s | %-10s | %s |' "$1" "$2" "$3")"); }

run_checks() {
  local dir=$1
  [ -f "$dir/bundle.tar.gz" ] || die "$dir/bundle.tar.gz not found (pack it with --pack $dir)"
  local x
  x=$(mktemp -d "${TMPDIR:-/tmp}/petprep-gpu-check.XXXXXX")
  tar -C "$x" -xzf "$dir/bundle.tar.gz" || die "cannot unpack $dir/bundle.tar.gz"
  export LD_LIBRARY_PATH="$x/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PETPREP_TEST_BINARY="$x/bin/petprep"
  local P="$x/bin/petprep" B="$x/bin" log="$x/log"
  mkdir -p "$log"
  local t0=$SECONDS
  echo "== machine"
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  "$P" env | grep -i -E "cuda|cpu" | head -5

  echo "== the CUDA tests"
  local tests=(
    "cuda_info_test:*"
    "mathfn_test:*Cuda*"
    "backend_ops_test:*Reference/cuda_*-*Reference/cuda_sim_*"
    "unet_test:*Cuda*"
    "loader_test:*CudaAugmentation*"
    "selftest_test:*Cuda*"
  )
  local all_ok=1
  for t in "${tests[@]}"; do
    local prog=${t%%:*} filter=${t#*:}
    if timeout 240 "$B/$prog" --gtest_filter="$filter" >"$log/$prog.txt" 2>&1; then
      local summary result=pass
      summary=$(grep -E '^\[  PASSED  \]|SKIPPED \] [0-9]' "$log/$prog.txt" | tr '\n' ' ' |
        sed 's/, listed below://')
      if grep -q 'SKIPPED \] [0-9]' "$log/$prog.txt"; then
        result=skipped
        all_ok=0
        summary="$summary: $(grep -m1 -A1 'Skipped' "$log/$prog.txt" | tail -1 | cut -c1-80)"
      fi
      row "$prog ($filter)" "$result" "$summary"
    else
      row "$prog ($filter)" "FAIL" "$(grep -E 'FAILED|Failure|error' "$log/$prog.txt" | head -2 | tr '\n' ' ')"
      all_ok=0
    fi
  done

  echo "== the CUDA tests under compute-sanitizer memcheck"
  if command -v compute-sanitizer >/dev/null; then
    for t in "backend_ops_test:*Reference/cuda_*-*Reference/cuda_sim_*" "unet_test:*CudaGives*"; do
      local prog=${t%%:*} filter=${t#*:}
      if timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 "$B/$prog" \
          --gtest_filter="$filter" >"$log/memcheck-$prog.txt" 2>&1; then
        row "memcheck $prog" "pass" "$(grep -E 'ERROR SUMMARY' "$log/memcheck-$prog.txt" | tail -1)"
      else
        local rc=$?
        if grep -q -i "unable to\|failed to attach\|not supported" "$log/memcheck-$prog.txt"; then
          row "memcheck $prog" "n/a" "compute-sanitizer could not attach: $(grep -i -m1 'unable\|fail' "$log/memcheck-$prog.txt")"
        else
          row "memcheck $prog" "FAIL (rc $rc)" "$(grep -E 'ERROR SUMMARY|Invalid|FAILED' "$log/memcheck-$prog.txt" | head -2 | tr '\n' ' ')"
          all_ok=0
        fi
      fi
    done
  else
    row "memcheck" "n/a" "compute-sanitizer not on PATH"
  fi

  echo "== selftest --device cuda"
  if "$P" selftest --device cuda >"$log/selftest.txt" 2>&1; then
    row "selftest --device cuda" "pass" "$(grep 'selftest fingerprint' "$log/selftest.txt")"
  else
    row "selftest --device cuda" "FAIL" "$(grep -E 'error|differs|fingerprint' "$log/selftest.txt" | head -2 | tr '\n' ' ')"
    all_ok=0
  fi

  echo "== batches: cuda against cpu (128 px, with crop, rotation and colour jitter)"
  local spec="$x/augment.json"
  printf '{"flip_p": 0.5, "crop_scale": [0.5, 1], "rotate_deg": 15, "brightness": 0.2, "contrast": 0.2, "saturation": 0.2}\n' >"$spec"
  local t_a t_b cpu_s gpu_s fp_cpu fp_gpu
  t_a=$(date +%s.%N)
  "$P" -q batches --data "$x/data/dataset128" --augment "$spec" --epochs 4 --batch 8 --device cpu \
    >"$log/batches-cpu.txt" 2>&1
  t_b=$(date +%s.%N)
  cpu_s=$(python3 -c "print($t_b - $t_a)")
  t_a=$(date +%s.%N)
  "$P" -q batches --data "$x/data/dataset128" --augment "$spec" --epochs 4 --batch 8 --device cuda \
    >"$log/batches-cuda.txt" 2>&1
  t_b=$(date +%s.%N)
  gpu_s=$(python3 -c "print($t_b - $t_a)")
  fp_cpu=$(grep 'batches fingerprint' "$log/batches-cpu.txt")
  fp_gpu=$(grep 'batches fingerprint' "$log/batches-cuda.txt")
  # Samples: the pet ids on the batch lines (each line: epoch, step, hash, then the ids).
  local samples rate_cpu rate_gpu
  samples=$(grep -v fingerprint "$log/batches-cpu.txt" | awk '{n += NF - 3} END {print n + 0}')
  rate_cpu=$(python3 -c "print(f'{$samples / $cpu_s:.0f}')")
  rate_gpu=$(python3 -c "print(f'{$samples / $gpu_s:.0f}')")
  if [ -n "$fp_gpu" ] && [ "$fp_cpu" = "$fp_gpu" ]; then
    row "batches --device cuda = cpu" "pass" "$fp_gpu"
  else
    row "batches --device cuda = cpu" "FAIL" "cpu: $fp_cpu; cuda: $fp_gpu"
    all_ok=0
  fi
  if [ -n "$fp_gpu" ]; then
    row "loader samples/s (decode + augment, 128 px)" "measured" "cpu $rate_cpu/s, cuda augmentation $rate_gpu/s ($samples samples, process start included)"
  else
    row "loader samples/s (decode + augment, 128 px)" "measured" "cpu $rate_cpu/s; cuda: none ($(tail -1 "$log/batches-cuda.txt" | cut -c1-80))"
  fi

  echo "== 50 training steps on cuda against cpu (64 px, widths 16-32-64-128, batch 8)"
  local w_cpu w_gpu
  "$P" -q train --data "$x/data/dataset64" --out "$x/runs/cpu" --max-steps 50 --epochs 100 \
    --steps-per-epoch 25 --batch 8 --device cpu >"$log/train-cpu.txt" 2>&1
  "$P" -q train --data "$x/data/dataset64" --out "$x/runs/cuda" --max-steps 50 --epochs 100 \
    --steps-per-epoch 25 --batch 8 --device cuda >"$log/train-cuda.txt" 2>&1
  w_cpu=$(sed -n 's/^weights sha256: //p' "$log/train-cpu.txt")
  w_gpu=$(sed -n 's/^weights sha256: //p' "$log/train-cuda.txt")
  if [ -n "$w_gpu" ] && [ "$w_cpu" = "$w_gpu" ]; then
    row "train 50 steps: cuda weights = cpu" "pass" "$w_gpu"
  else
    row "train 50 steps: cuda weights = cpu" "FAIL" "cpu: ${w_cpu:-none}; cuda: ${w_gpu:-none} ($(tail -1 "$log/train-cuda.txt"))"
    all_ok=0
  fi

  echo "== B4: the B3 step (128 px, batch 8) on cuda and on the CPU here"
  "$B/train_step_bench" --device cuda --steps 30 --warmup 5 >"$log/b4-cuda.txt" 2>&1
  cat "$log/b4-cuda.txt"
  local cuda_line
  cuda_line=$(grep -E '^cuda: median' "$log/b4-cuda.txt")
  if [ -n "$cuda_line" ]; then
    row "B4 step on cuda" "measured" "$cuda_line"
  else
    row "B4 step on cuda" "FAIL" "$(grep -m1 'train_step_bench:' "$log/b4-cuda.txt" | cut -c1-100)"
    all_ok=0
  fi
  if grep -q "vs cpu bitwise identical: True" "$log/b4-cuda.txt"; then
    row "B4 10-step weights cuda = cpu" "pass" "$(grep '^hash cuda:' "$log/b4-cuda.txt" | cut -c1-60)"
  else
    row "B4 10-step weights cuda = cpu" "FAIL" "$(grep 'bitwise' "$log/b4-cuda.txt")"
    all_ok=0
  fi
  "$B/train_step_bench" --steps 5 --warmup 1 >"$log/b4-cpu.txt" 2>&1
  row "B4 step on the CPU here" "measured" "$(grep -E '^threads=2' "$log/b4-cpu.txt")"

  echo "== the PyTorch peer on this GPU"
  if [ -f "$x/peers/torch_unet_step.py" ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    timeout 240 python3 "$x/peers/torch_unet_step.py" --device cuda >"$log/torch.txt" 2>&1
    cat "$log/torch.txt"
    row "PyTorch deterministic step on cuda" "measured" "$(grep -E '^time cuda' "$log/torch.txt")"
    row "PyTorch cuda run-to-run identical" "measured" "$(grep -E 'run-to-run' "$log/torch.txt")"
  else
    row "PyTorch peer" "n/a" "no torch with CUDA here, or the peer was not packed"
  fi

  echo
  echo "gpu-check: $(date -u +%Y-%m-%d), $(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1), $((SECONDS - t0)) s"
  printf '| %-44s | %-10s | %s |\n' "check" "result" "details"
  printf '|%s|%s|%s|\n' "----------------------------------------------" "------------" "---------"
  printf '%s\n' "${results[@]}"
  rm -rf "$x"
  [ "$all_ok" = 1 ] && return 0 || return 1
}

# ---------------------------------------------------------------- no argument: here

sim_checks() {
  "$root/scripts/build.sh" >/dev/null || die "the build failed"
  local build="${PETPREP_BUILD_DIR:-$root/build}"
  local reason
  if reason=$("$build/petprep" selftest --device cuda 2>&1 >/dev/null); then
    echo "gpu-check: a CUDA device is here; run the full check: scripts/gpu-check.sh --pack DIR && bash scripts/gpu-check.sh --run DIR"
    return 0
  fi
  reason=$(echo "$reason" | sed -n 's/.*error: no CUDA device: //p' | head -1)
  echo "gpu-check: no CUDA device (${reason:-unknown})"
  echo "gpu-check: proving the CUDA backend's code on the simulated device instead"
  local ok=1
  "$build/petprep" selftest --device cuda-sim | tail -2 || ok=0
  "$build/tests/backend_ops_test" --gtest_filter='*Reference/cuda_sim_*' | tail -1 || ok=0
  "$build/tests/unet_test" --gtest_filter='*CudaSim*:*ADeviceStep*' | tail -1 || ok=0
  "$build/tests/loader_test" --gtest_filter='*CudaSim*' | tail -1 || ok=0
  [ "$ok" = 1 ] || die "a cuda-sim check failed"
  return 0
}

case "${1:-}" in
  --pack) pack "${2:-}" ;;
  --run) run_checks "${2:-}" ;;
  "") sim_checks ;;
  -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown argument '$1' (try --help)" ;;
esac
