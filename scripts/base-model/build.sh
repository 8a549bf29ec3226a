#!/usr/bin/env bash
# Rebuilds the built-in base model (arith-base) from nothing but its seed: writes the corpus
# and tokenizer (make_corpus.py), pretrains a small Qwen2-shaped model on it with `dft-mpi
# train --objective sft` (every token of every document trained), exports it as a Hugging
# Face directory, measures its accuracy on the held-out problems with `dft-mpi eval`, and
# writes its README.md with those figures (write_readme.py).
#
#   bash scripts/base-model/build.sh [--out DIR] [--half-out DIR] [--data DIR] [--work DIR] [--epochs E]
#
# It also exports the same run's checkpoint after step 600 (of 1207) as the half-trained base,
# arith-base-half (--half-out; its README.md, written by hand from `dft-mpi eval`, is kept).
# Defaults: the model goes to Sources/DFTBuiltin/Resources/arith-base and the fine-tuning and
# held-out files to Sources/DFTBuiltin/Resources/arith-data, where the binary's resource
# bundle takes them from (rebuild dft-mpi afterwards). The trainer is bit-deterministic for a
# given OpenBLAS kernel, so the same command on the same kind of host gives the same weights
# to the bit (checked: a second build gave the committed model.safetensors); another kernel
# (AVX2 against AVX-512) rounds differently and gives a nearby model (the model's README gives
# both kernels' figures). 2 threads on 2 cores: about 21 minutes, corpus to README.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=Sources/DFTBuiltin/Resources/arith-base
half_out=Sources/DFTBuiltin/Resources/arith-base-half
data=Sources/DFTBuiltin/Resources/arith-data
work=${TMPDIR:-/tmp}/dft-mpi-base-model
epochs=1.5
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --half-out) half_out=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
source scripts/setup.sh
swift build -c release --product dft-mpi
bin=.build/release/dft-mpi
python=/usr/bin/python3
started=$SECONDS
rm -rf "$work"
mkdir -p "$work"
$python scripts/base-model/make_corpus.py --out "$work/corpus" --seed 1

vocab=$($python -c "import json,sys; t=json.load(open(sys.argv[1])); print(len(t['model']['vocab']) + len(t['added_tokens']))" \
    "$work/corpus/tokenizer.json")
eos=$((vocab - 1))
# Qwen2 shape: hidden 256, 4 layers, 4 heads of 64 (2 kv heads), SwiGLU 688, tied head: ~2.9M parameters.
cat > "$work/config.json" <<JSON
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 256, "intermediate_size": 688,
 "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
 "rope_theta": 10000.0, "attention_bias": true, "vocab_size": $vocab, "tie_word_embeddings": true,
 "max_position_embeddings": 512, "initializer_range": 0.02, "bos_token_id": null, "eos_token_id": $eos,
 "hidden_act": "silu", "torch_dtype": "float32"}
JSON

train=(train --model "$work/config.json" --tokenizer "$work/corpus/tokenizer.json" --template plain
       --data "$work/corpus/pretrain.jsonl" --objective sft --packing --max-length 256
       --global-batch 32 --micro-batch 16 --epochs "$epochs" --lr 2e-3 --min-lr 2e-4 --warmup-ratio 0.02
       --weight-decay 0.1 --seed 1 --threads 2 --log-every 50 --save-every 200 --keep-last 10 --resume never --out "$work/run")
$bin "${train[@]}" | tee "$work/train.log"
checkpoint=$(ls "$work/run/checkpoints/"step-*.h5 | tail -1)
rm -rf "$out"
$bin export "$checkpoint" --out "$out" --dtype bf16
# The half-trained base: exported beside, then copied over the model files (not the README).
rm -rf "$work/half"
$bin export "$work/run/checkpoints/step-00000600.h5" --out "$work/half" --dtype bf16
mkdir -p "$half_out"
cp "$work/half"/* "$half_out/"
mkdir -p "$data"
cp "$work/corpus/finetune.jsonl" "$work/corpus/heldout.jsonl" "$work/corpus/heldout-hard.jsonl" "$data/"

# Accuracy of the base itself: 16 answers per held-out problem at temperature 1 (the paper's
# avg@16), and greedy.
sets="$data/heldout.jsonl,$data/heldout-hard.jsonl"
$bin eval --model "$out" --template plain --data "$sets" --samples 16 --temperature 1 --max-new-tokens 96 \
    --threads 2 --out "$work/eval-sampled"
$bin eval --model "$out" --template plain --data "$sets" --samples 1 --temperature 0 --max-new-tokens 96 \
    --threads 2 --out "$work/eval-greedy"
minutes=$(( (SECONDS - started + 30) / 60 ))
$python scripts/base-model/write_readme.py --model "$out" --train-log "$work/train.log" \
    --sampled "$work/eval-sampled/summary.json" --greedy "$work/eval-greedy/summary.json" --minutes "$minutes" \
    --kernel "$($bin info --openblas-core 2>/dev/null || echo unknown)" --command "bash scripts/base-model/build.sh"
echo "build.sh: $out ($(du -sh "$out" | cut -f1), sha256 of model.safetensors $(sha256sum "$out/model.safetensors" | cut -c1-16)...)" \
    "in $minutes min; evaluations in $work/eval-sampled and $work/eval-greedy"
