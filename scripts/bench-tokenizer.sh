#!/usr/bin/env bash
# Encoding speed of the tokenizer (Sources/DFTData/Tokenizer) on the fixture tokenizers,
# in a release build. Prints MB/s per tokenizer, with and without the pre-token cache.
# Usage: bash scripts/bench-tokenizer.sh [MEGABYTES]   (default 4)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; fi
# @testable imports need testing enabled in a release build.
swift build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-bench
DFT_TOKENIZER_BENCH_MB="${1:-4}" swift test -c release -Xswiftc -enable-testing --skip-build \
    --scratch-path .build-bench --filter TokenizerBenchmarkTests 2>&1 | grep -E "tokenizer speed|passed|failed"
