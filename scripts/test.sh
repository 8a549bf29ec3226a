#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build --build-tests
swift test --skip-build
