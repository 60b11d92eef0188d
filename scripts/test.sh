#!/usr/bin/env bash
# Builds everything, then runs every test registered with ctest: the Catch2 unit tests and
# the end-to-end tests (real tandem-broker processes driven by stomp.py). Exits with ctest's
# exit code: 0 only when every test passed.
#
#   sudo bash scripts/test.sh
#
# Extra arguments go to ctest, e.g. `bash scripts/test.sh -R config`.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bash scripts/build.sh
echo "test: ctest --test-dir build --output-on-failure -j2 --timeout 300 $*"
exec ctest --test-dir build --output-on-failure -j2 --timeout 300 "$@"
