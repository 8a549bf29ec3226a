#!/usr/bin/env bash
# Installs what dft-mpi needs on Debian 12 (as root) when it is missing, and puts Swift on
# PATH. Sourced by the other scripts; safe to run again.
set -euo pipefail

DFT_APT_PACKAGES=(libopenmpi-dev openmpi-bin libopenblas-dev libdnnl-dev libhdf5-dev hdf5-tools pkg-config
                  python3-h5py python3-numpy python3-matplotlib iproute2)

dft_missing_packages() {
    local missing=()
    for p in "${DFT_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

missing=$(dft_missing_packages)
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "dft-mpi setup: missing Debian packages: $missing; run as root or install them first" >&2
        exit 1
    fi
    echo "dft-mpi setup: installing $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    else
        echo "dft-mpi setup: no Swift toolchain on PATH or at /opt/swift (Swift 6 needed)" >&2
        exit 1
    fi
fi

# Open MPI refuses to run as root unless told this is intended (containers, CI).
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
