#!/usr/bin/env bash
# docs/task2.md section 4: an imbalanced CIFAR-10 (one class kept at a fraction of its training images) and the
# CNN trained five ways against it: plain, class weights, focal loss, balanced oversampling, and GAN samples of
# the minority class (`ember gan` on exactly the minority images the classifier keeps, then `ember train
# --extra_images`). Prints a markdown table of the minority class's test recall and the test accuracy (best
# model by validation loss, from each run's test_best/report.csv) and copies the GAN's sample grid.
#
#   bash tools/gan_imbalance_experiment.sh OUT_DIR [DEVICE]
# Sizes from the environment (defaults: the CPU run of docs/task2.md, ~35 min on 2 busy cores):
#   SUBSET=3000 EPOCHS=4 BATCH=32 CLASS=cat RATIO=0.1 GAN_EPOCHS=300 GAN_BATCH=16 GAN_FEATURES=32 TEST_SUBSET=2000
#   SEED=1 DATA_DIR=../shared/data/cifar-10-batches-bin
# Full size on a GPU: SUBSET=0 EPOCHS=30 BATCH=128 GAN_EPOCHS=300 GAN_BATCH=64 GAN_FEATURES=64 TEST_SUBSET=0 \
#   bash tools/gan_imbalance_experiment.sh OUT cuda
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: gan_imbalance_experiment.sh OUT_DIR [DEVICE]}
DEVICE=${2:-cpu}
SUBSET=${SUBSET:-3000} EPOCHS=${EPOCHS:-4} BATCH=${BATCH:-32} CLASS=${CLASS:-cat} RATIO=${RATIO:-0.1}
TEST_SUBSET=${TEST_SUBSET:-2000}
GAN_EPOCHS=${GAN_EPOCHS:-300} GAN_BATCH=${GAN_BATCH:-16} GAN_FEATURES=${GAN_FEATURES:-32} SEED=${SEED:-1}
DATA_DIR=${DATA_DIR:-../shared/data/cifar-10-batches-bin}
EMBER=${EMBER:-./build/bin/ember}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
mkdir -p "$OUT"

common=(--model CNN --data_dir "$DATA_DIR" --subset "$SUBSET" --imbalance "$CLASS:$RATIO" --seed "$SEED"
        --epochs "$EPOCHS" --batch_size "$BATCH" --lr 0.001 --normalization N1 --device "$DEVICE" --out_dir "$OUT")

run() {  # name, extra flags: trains, then evaluates the best model (lowest validation loss) on the test set
  local name=$1 dir
  shift
  "$EMBER" train "${common[@]}" --experiment_name "$name" "$@" > "$OUT/$name.txt"
  dir=$(sed -n 's/^results: //p' "$OUT/$name.txt" | head -1)
  "$EMBER" evaluate --model CNN --checkpoint "$dir/best.safetensors" --data_dir "$DATA_DIR" --device "$DEVICE" \
    --subset "$TEST_SUBSET" > "$OUT/$name.test.txt"
  echo "$dir"
}
# The GAN learns from the minority images the imbalanced run keeps (same subset, split, imbalance and seed) and
# generates as many as the imbalance removed, so the minority class is back to its original count.
gan_log="$OUT/gan.txt"
"$EMBER" gan --class "$CLASS" --data_dir "$DATA_DIR" --subset "$SUBSET" --imbalance "$CLASS:$RATIO" \
  --seed "$SEED" --epochs "$GAN_EPOCHS" --batch_size "$GAN_BATCH" --features "$GAN_FEATURES" --device "$DEVICE" \
  --out_dir "$OUT" --experiment_name gan_"$CLASS" | tee "$gan_log"
gan_dir=$(sed -n 's/^results: //p' "$gan_log" | head -1)
kept=$(sed -n "s/^class $CLASS ([0-9]*): \([0-9]*\) training images.*/\1/p" "$gan_log")
removed=$(sed -n "s/^class $CLASS .*imbalance .* (removed \([0-9]*\)).*/\1/p" "$gan_log")
"$EMBER" gan --class "$CLASS" --data_dir "$DATA_DIR" --subset "$SUBSET" --imbalance "$CLASS:$RATIO" \
  --seed "$SEED" --epochs 0 --generator "$gan_dir/generator.safetensors" --features "$GAN_FEATURES" \
  --device "$DEVICE" --out_dir "$OUT" --experiment_name gan_"$CLASS"_samples --generate "$removed" | tee -a "$gan_log"
generated=$(sed -n 's/^generated: .*(ember train --extra_images \(.*\))$/\1/p' "$gan_log" | tail -1)

declare -A dirs
dirs[plain]=$(run plain)
dirs[class_weights]=$(run class_weights --class_weights balanced)
dirs[focal]=$(run focal --loss focal)
dirs[oversampling]=$(run oversampling --sampler balanced)
dirs[gan_samples]=$(run gan_samples --extra_images "$generated")

echo
echo "| training | $CLASS images | $CLASS recall (test) | accuracy (test) |"
echo "|---|---|---|---|"
for name in plain class_weights focal oversampling gan_samples; do
  report="${dirs[$name]}/test_best/report.csv"
  images=$kept
  [ "$name" = gan_samples ] && images="$kept + $removed generated"
  recall=$(awk -F, -v c="$CLASS" '$1 == c {printf "%.3f", $3}' "$report")
  accuracy=$(awk -F, '$1 == "accuracy" {printf "%.3f", $4}' "$report")
  echo "| $name | $images | $recall | $accuracy |"
done
cp "$gan_dir/samples.png" "$OUT/gan_samples.png"
echo
echo "GAN sample grid: $OUT/gan_samples.png; losses: $gan_dir/losses.csv"
