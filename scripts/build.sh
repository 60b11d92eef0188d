#!/usr/bin/env bash
# Installs the dependencies if needed, then builds everything into build/ (works from any
# directory).
#
#   sudo bash scripts/build.sh
#
# Build type: RelWithDebInfo (-O2 -g -DNDEBUG), the repository's default: optimised binaries
# for benchmarks that still carry symbols for perf and for backtraces. TANDEM_JOBS=N limits
# ninja's parallelism (default: ninja's own, about one job per core).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bash scripts/install-deps.sh
echo "build: cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "build: ninja -C build"
ninja -C build ${TANDEM_JOBS:+-j "$TANDEM_JOBS"}
