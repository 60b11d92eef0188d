#!/usr/bin/env bash
# Installs the Debian 12 packages Tandem is built and tested with. Idempotent: when every
# package is already installed it touches nothing (no apt-get, no network, no root needed).
#
#   sudo bash scripts/install-deps.sh
set -euo pipefail

# The one list of packages. Add a new dependency here, nowhere else.
PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # libraries (all header or -dev packages from Debian 12)
  libasio-dev libssl-dev libfmt-dev libspdlog-dev libyaml-cpp-dev catch2 libnfs-dev
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  # end-to-end tests: real stomp.py clients, pytest, process and network tools
  python3 python3-stomp python3-pytest procps iproute2
  # /metrics is checked with the Prometheus project's own text-format parser
  python3-prometheus-client
  # TLS: certificates for the local pair and the TLS tests are made with the openssl tool
  openssl
  # nfs backend tests: a real user-space NFS server
  nfs-ganesha nfs-ganesha-vfs rpcbind
  # the console's browser test: headless Chromium driven from Node.js (tests/browser; its npm
  # packages are installed by the test with `npm ci`)
  chromium nodejs
)

# A package counts as present only in state "installed" (not "config-files" after a remove).
missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null || true)
  if ! grep -qx installed <<<"$status"; then
    missing+=("$pkg")
  fi
done

# npm comes with Node.js where Node.js is NodeSource's build; Debian's nodejs needs the npm package.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [[ $EUID -ne 0 ]]; then
  echo "install-deps: installing packages needs root; run: sudo bash scripts/install-deps.sh" >&2
  exit 1
fi
echo "install-deps: apt-get update"
apt-get update
echo "install-deps: apt-get install ${missing[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
