#!/usr/bin/env bash
# Keel's bootstrapper: makes sure the host tools are present, then hands over to build.cake.
#   ./build.sh [--target=Build|Image|Run|Test|Bench] [Cake options]
# As root it installs missing Debian packages itself (CI); otherwise it prints the command to run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# What the image tool and the tests call: QEMU and both firmwares, GRUB for BIOS and UEFI with
# grub-mkrescue's helpers, GRUB for Xen (a real PV guest kernel for the ELF reader's tests), and binutils
# for ld, objcopy, nm and readelf.
packages=(qemu-system-x86 ovmf grub-pc-bin grub-efi-amd64-bin grub-xen-bin grub-common xorriso mtools binutils e2fsprogs)

if command -v dpkg-query >/dev/null; then
    missing=()
    for package in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
        [[ $status == installed ]] || missing+=("$package")
    done
    if ((${#missing[@]} > 0)); then
        if ((EUID == 0)); then
            echo "build.sh: installing ${missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        else
            echo "build.sh: missing Debian packages; install them with:" >&2
            echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
            exit 1
        fi
    fi
else
    echo "build.sh: not a Debian system; make sure these (or their equivalents) are installed: ${packages[*]}" >&2
fi

# Cake colours its output even into a pipe; a CI log, and the summary line CI reads, should be plain text.
if [[ ! -t 1 ]]; then
    export NO_COLOR=1
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Quiet when the tools are already restored; the full output only when restoring fails.
if ! restore=$(dotnet tool restore 2>&1); then
    echo "$restore" >&2
    exit 1
fi

exec dotnet cake build.cake "$@"
