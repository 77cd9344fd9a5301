#!/usr/bin/env bash
# The whole GPU proof in one go, on a host with an NVIDIA GPU, most important first:
#   1. the `gpu` tests (every CUDA kernel and engine op against the CPU reference),
#   2. the same tests under compute-sanitizer (memcheck), a process per tag,
#   3. the end-to-end training-throughput benchmark (every model, against the PyTorch figures), and the same
#      steps replayed as CUDA graphs,
#   4. a short real training run (the CNN, a few epochs on a CIFAR-10 subset), the same with --cuda_graph, and
#      NCCL under mpirun (a training run and the communicator's collectives, one rank),
#   5. the kernel benchmarks (each prints its ratio to cuBLAS/cuDNN or to the measured copy bandwidth),
#   6. where one training step's GPU time goes, by kernel (ncu), and the bf16 convnets with NCHW convolutions,
#   7. the scaling model's inputs on this GPU (ember scale --profile ResNet_18 and ViT: paste the YAML into
#      configs/scaling/h100_*.yaml) and its one-GPU check (ember scale --run of a 1-GPU layout).
# Results go to one folder: the first argument, else $EMBER_GPU_CHECK_OUT, else gpu_check_results.
# Uses an existing build in $EMBER_BUILD_DIR (default build/) or builds one.
# Time: every step has its own cap, and all of them together stop at $EMBER_GPU_CHECK_BUDGET seconds (default
# 480): a step gets what is left of the budget at most, and steps are skipped once under 15 s is left.
# $EMBER_GPU_CHECK_PACK=DIR: at the end, also put summary.txt and everything else as gpu_check.tgz (without
# checkpoints) into DIR -- two files, for transfer tools that bring back only a few.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${EMBER_GPU_CHECK_OUT:-gpu_check_results}}
build=${EMBER_BUILD_DIR:-build}
data=${EMBER_DATA_DIR:-data/samples/cifar-10}
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

if [ ! -x "$build/tests/ember_gpu_tests" ]; then
  [ "$build" = build ] || { note "no build in EMBER_BUILD_DIR=$build (tools/build.sh builds into build/)"; exit 1; }
  note "== building ($build)"
  bash tools/build.sh >"$out/build.log" 2>&1 || { note "build FAILED (see build.log)"; exit 1; }
fi

note "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$summary"

budget=${EMBER_GPU_CHECK_BUDGET:-480}
started=$SECONDS  # the budget counts the steps, not a build
step() {  # step NAME TIMEOUT_S LOGFILE COMMAND...
  local name=$1 limit=$2 log=$3
  shift 3
  local left=$((budget - (SECONDS - started)))
  if [ "$left" -lt 15 ]; then
    note "$(printf '%-28s SKIPPED (time budget of %ss spent)' "$name" "$budget")"
    return 124
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local start=$SECONDS buffering=(stdbuf -oL -eL)  # line-buffered: a step cut short keeps its output
  case "$(basename "$1")" in ncu | compute-sanitizer) buffering=() ;; esac  # they inject into the program
  timeout "$limit" "${buffering[@]}" "$@" >>"$log" 2>&1
  local rc=$?
  note "$(printf '%-28s rc=%-3s %4ss  (%s)' "$name" "$rc" "$((SECONDS - start))" "$(basename "$log")")"
  return $rc
}

missing=$(ldd "$build/tests/ember_gpu_tests" "$build/bin/ember" 2>&1 | grep "not found" | sort -u)
[ -n "$missing" ] && note "shared libraries not found (set LD_LIBRARY_PATH): $missing"

note "== gpu tests (a process per test file: a crash or a hung kernel costs that file only)"
# Code never run on a GPU before goes last: the CUDA graphs, then the wgmma GEMM (whose barriers could hang).
gpu_tests=$build/tests/ember_gpu_tests
never_run=("[#test_cuda_graph]" "[wgmma]")  # also under memcheck below, once they have passed
spec_name() { echo "$1" | sed 's/^\[#\{0,1\}//; s/\].*//'; }  # a test spec's file name, or its tag
mapfile -t files < <("$gpu_tests" -# --list-tags 2>/dev/null | grep -o '\[#[A-Za-z0-9_]*\]' |
  grep -v '#test_cuda_graph' | sort -u)
declare -A rc  # exit status by test spec
: >"$out/gpu_tests.log"
for spec in "${files[@]}" "${never_run[@]}"; do
  # -# tags each case with its file's name; the wgmma case leaves test_gemm's process for one of its own, last.
  [ "$spec" = "[#test_gemm]" ] && spec="[#test_gemm]~[wgmma]"
  name=$(spec_name "$spec")
  echo "### $spec" >>"$out/gpu_tests.log"
  step "gpu tests $name" 120 "$out/gpu_tests.log" "$gpu_tests" -# "$spec" --durations yes
  rc[$spec]=$?
  tail -3 "$out/gpu_tests.log" | grep -E "^(All tests passed|test cases:)" | sed "s/^/  $name: /" | tee -a "$summary"
done
grep -E "^bf16 step, CUDA vs CPU" "$out/gpu_tests.log" | tee -a "$summary"  # gradient agreement per model

note "== compute-sanitizer memcheck (a process per tag)"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
# Every kernel and engine-op test; not the seven-model step ([models]) nor the 2^32-element sum ([big]),
# which would take minutes at memcheck's slowdown. The code never run before comes last, once its tests have
# passed (the wgmma GEMM last of all: instrumentation adds registers, and its setmaxnreg waits for them).
memcheck_specs=("[allocator]" "[attention]" "[batchnorm]" "[bias_act]" "[conv]" "[core]" "[cross_entropy]"
  "[deterministic]" "[dropout]" "[engine_cuda]" "[gemm]~[wgmma]" "[layernorm]" "[optim]" "[pool]" "[softmax]"
  "[sync_bn]" "[transpose]" "[bf16]~[models]")
for spec in "${never_run[@]}"; do [ "${rc[$spec]:-1}" = 0 ] && memcheck_specs+=("$spec"); done
memcheck_end=$((SECONDS + ${EMBER_GPU_CHECK_MEMCHECK_S:-150}))  # its share of the budget: the benchmarks follow
for spec in "${memcheck_specs[@]}"; do
  name=$(spec_name "$spec")
  left=$((memcheck_end - SECONDS))
  if [ "$left" -lt 10 ]; then
    note "memcheck: $spec and the tags after it skipped (memcheck's ${EMBER_GPU_CHECK_MEMCHECK_S:-150}s spent)"
    break
  fi
  echo "### $spec" >>"$out/sanitizer.log"
  [ "$spec" = "[#test_cuda_graph]" ] && spec="[#test_cuda_graph]~[models]"
  step "memcheck $name" $((left < 60 ? left : 60)) "$out/sanitizer.log" "$sanitizer" --tool memcheck \
    --error-exitcode 9 "$gpu_tests" -# "$spec~[big]"
  tail -4 "$out/sanitizer.log" | grep -E "ERROR SUMMARY|^(All tests passed|test cases:)" | sed "s/^/  $name: /" |
    tee -a "$summary"
done

if [ -x "$build/bin/bench_train_throughput" ]; then
  note "== end-to-end training throughput"
  step "bench_train_throughput" 240 "$out/e2e.log" "$build/bin/bench_train_throughput" --device cuda --steps 10 --warmup 3
  grep -E "^\|" "$out/e2e.log" | tee -a "$summary"
  # The same steps replayed as CUDA graphs (a separate run: a crash there cannot cost the table above).
  step "bench_train_throughput graph" 120 "$out/e2e_graph.log" "$build/bin/bench_train_throughput" --device cuda \
    --models CNN,ResNet_18,ViT_tiny,ViT_simple --precision tf32 --steps 10 --warmup 3 --cuda_graph
  grep -E "^\| [A-Z]" "$out/e2e_graph.log" | tee -a "$summary"
fi

note "== short training run (CNN, CIFAR-10 sample, cuda)"
cnn_run=(train --device cuda --model CNN --data_dir "$data" --normalization N1_aug --val_size 10 --batch_size 128
  --lr 0.001 --optimization Adam --epochs 4 --num_workers 4 --out_dir "$out/results")
step "ember train" 180 "$out/train.log" "$build/bin/ember" "${cnn_run[@]}" --experiment_name gpu_check_CNN
grep -E "^Epoch" "$out/train.log" | tee -a "$summary"
# The same run with --cuda_graph: its epochs should print the same figures (unless cuDNN's timed search picked
# other deterministic algorithms in this second process; tests/gpu/test_cuda_graph.cpp compares within one).
step "ember train --cuda_graph" 120 "$out/train_graph.log" "$build/bin/ember" "${cnn_run[@]}" \
  --experiment_name gpu_check_CNN_graph --cuda_graph
grep -E "^Epoch|cuda_graph" "$out/train_graph.log" | sed 's/^/graph: /' | tee -a "$summary"
mpirun_cmd=$(command -v mpirun || echo mpiexec)
step "ember train (nccl, 1 rank)" 120 "$out/train_nccl.log" sh tests/gpu/train_nccl.sh "$out/results_nccl" \
  "$mpirun_cmd" -np 1 --allow-run-as-root "$build/bin/ember" train --device cuda --dist_backend nccl --model CNN \
  --subset 80 --batch_size 16 --epochs 1 --num_workers 0 --data_dir "$data"
tail -1 "$out/train_nccl.log" | tee -a "$summary"
[ -x "$build/tests/ember_mpi_tests" ] && step "nccl collectives (1 rank)" 60 "$out/nccl_collectives.log" \
  "$mpirun_cmd" -np 1 --allow-run-as-root -x EMBER_TEST_BACKEND=nccl "$build/tests/ember_mpi_tests" "[.nccl]"
tail -2 "$out/nccl_collectives.log" | grep -E "^(All tests passed|test cases:)" | tee -a "$summary"

note "== kernel benchmarks"
wgmma_spec="[wgmma]"
[ "${rc[$wgmma_spec]:-1}" = 0 ] || export EMBER_BENCH_SKIP_WGMMA=1  # its test failed or hung: keep bench_gemm's rows
for bench in "$build"/bin/bench_*; do
  name=$(basename "$bench")
  case "$name" in bench_cpu_* | bench_loader | bench_allreduce | bench_train_throughput) continue ;; esac
  echo "### $name" >>"$out/benchmarks.log"
  limit=60
  [ "$name" = bench_conv ] && limit=150  # 75 cuDNN searches (15 layers x 5 maths/layouts, 3 passes each)
  step "$name" "$limit" "$out/benchmarks.log" "$bench" --json "$out/benchmarks.jsonl"
done

note "== one training step's GPU time by kernel (ncu)"
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for run in "CNN 256 tf32" "ResNet_18 256 bf16" "ViT_tiny 256 tf32"; do
  read -r model batch precision <<<"$run"
  csv="$out/kernels_${model}_b${batch}_$precision.csv"
  step "ncu $model b$batch $precision" 120 "$csv" "$ncu" --profile-from-start off --metrics gpu__time_duration.sum \
    --csv --print-units base "$build/bin/bench_train_throughput" --device cuda --models "$model" --batches "$batch" \
    --precision "$precision" --steps 1 --warmup 2
  if grep -q ERR_NVGPUCTRPERM "$csv"; then
    note "ncu: no permission to read the GPU's counters here (ERR_NVGPUCTRPERM); skipping the other profiles"
    break
  fi
  python3 tools/kernel_times.py "$csv" 25 >"${csv%.csv}.txt" 2>&1
  head -4 "${csv%.csv}.txt" | tee -a "$summary"
done

note "== bf16 convnets with NCHW convolutions (the default is NHWC)"
# bf16 convolutions run on NHWC copies by default; the same rows with NCHW ones, to see what that buys.
step "bf16 convnets, NCHW convs" 90 "$out/e2e_nchw.log" env EMBER_CUDA_CONV_LAYOUT=nchw \
  "$build/bin/bench_train_throughput" --device cuda --models CNN,ResNet_18 --batches 256 --precision bf16 \
  --steps 10 --warmup 3
grep -E "^\| (CNN|ResNet)" "$out/e2e_nchw.log" | sed 's/$/ convs NCHW/' | tee -a "$summary"

note "== scaling: layer groups on this GPU, and the model against a 1-GPU run"
for model in ResNet_18 ViT; do
  step "profile $model b256" 120 "$out/profile_$model.yaml" sh -c '"$@" 2>>"$0"' "$out/profile_$model.err" \
    "$build/bin/ember" scale --profile "$model" --device cuda --batch_size 256 --steps 5
  head -1 "$out/profile_$model.yaml" | tee -a "$summary"
done
{
  echo "job_name: gpu_check_scale"
  echo "command: $build/bin/ember train --device cuda --model ResNet_18 --batch_size 256 --epochs 2 --subset 3000 --num_workers 4 --data_dir $data"
  echo "layouts: [{nodes: 1, gpus_per_node: 1}]"
  sed -n '/^model:/,$p' "$out/profile_ResNet_18.yaml"
} >"$out/scale_layouts.yaml"
step "ember scale --run (1 GPU)" 180 "$out/scale.log" "$build/bin/ember" scale --layouts "$out/scale_layouts.yaml" \
  --run --max_local_ranks 1 --out "$out/scale"
grep -E "^\| 1 \|" "$out/scale/scaling.md" | head -1 | tee -a "$summary"

note "== done in ${SECONDS}s"
if [ -n "${EMBER_GPU_CHECK_PACK:-}" ]; then
  mkdir -p "$EMBER_GPU_CHECK_PACK"
  cp "$summary" "$EMBER_GPU_CHECK_PACK/summary.txt"
  tar czf "$EMBER_GPU_CHECK_PACK/gpu_check.tgz" --exclude='*.safetensors' -C "$(dirname "$out")" "$(basename "$out")"
fi
