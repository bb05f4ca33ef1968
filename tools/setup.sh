#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vnet authors
# tools/setup.sh — make a Debian 12 machine ready to build and test vnet.
#
#  1. installs the Debian packages the build and the tests need;
#  2. provides DPDK's driver-SDK headers (ethdev_driver.h, bus_pci_driver.h, …),
#     which Debian's libdpdk-dev does not ship (DPDK is built there without
#     enable_driver_sdk). They are taken from Debian's own source package of
#     the exact installed DPDK version and extracted into
#     build/deps/dpdk-sdk/include (never committed: build/ is git-ignored);
#  3. provides the guest kernel for the `vm` test label: Debian's
#     linux-image-<version>-amd64 (the version linux-image-amd64 depends on),
#     fetched with apt-get download and unpacked into build/deps/vm/ with its
#     modules.dep (depmod -b).
#
# Idempotent: every step checks first and skips what is already done, so a
# second run takes a few seconds. Needs root (or sudo) only when something is
# missing. Invoked by `tools/vnet setup` (and by build/test/demo).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS_DIR="$ROOT/build/deps"
SDK_DIR="$DEPS_DIR/dpdk-sdk"
SDK_INC="$SDK_DIR/include"
SDK_STAMP="$SDK_DIR/stamp"
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
    libdpdk-dev dpdk dpdk-dev libpci-dev pkg-config
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    cmake ninja-build g++ clang libclang-rt-14-dev clang-format clang-tidy
    dpkg-dev xz-utils python3
    # The vm label: QEMU under TCG, the initramfs (busybox, insmod, cpio), and
    # what the guest runs from the host's tree shared over 9p (ping, ip).
    qemu-system-x86 busybox-static kmod cpio gzip iputils-ping iproute2
)
VM_DIR="$DEPS_DIR/vm"
VM_STAMP="$VM_DIR/stamp"

# The driver-SDK headers vnet includes, and where they live in the DPDK tree.
declare -A SDK_HEADERS=(
    [ethdev_driver.h]=lib/ethdev
    [ethdev_vdev.h]=lib/ethdev
    [ethdev_pci.h]=lib/ethdev
    [bus_pci_driver.h]=drivers/bus/pci
    [bus_vdev_driver.h]=drivers/bus/vdev
    [bus_driver.h]=lib/eal/include
    [dev_driver.h]=lib/eal/include
    # A dmadev driver's side (rte_dma_pmd_allocate): benchmarks/instant_dma.cc.
    [rte_dmadev_pmd.h]=lib/dmadev
)

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi
as_root() {
    if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
        die "need root for: $*  (run as root, or install sudo)"
    fi
    "${SUDO[@]}" "$@"
}

APT_UPDATED=0
apt_update() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        local out
        if ! out=$(as_root apt-get update -q -o=Dpkg::Use-Pty=0 2>&1); then
            printf '%s\n' "$out" >&2
            die "apt-get update failed"
        fi
        APT_UPDATED=1
    fi
}

is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)
    [[ $status == ii* ]]
}

# --------------------------------------------------------------------------
# 1. Debian packages
# --------------------------------------------------------------------------
install_packages() {
    command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script is for Debian 12"
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "packages: all ${#PACKAGES[@]} installed"
        return
    fi
    log "packages: installing ${missing[*]}"
    apt_update
    as_root apt-get install -y -q -o=Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
    for p in "${missing[@]}"; do
        is_installed "$p" || die "package $p did not install"
    done
    log "packages: done"
}

# --------------------------------------------------------------------------
# 2. DPDK driver-SDK headers
# --------------------------------------------------------------------------

# Include directories of libdpdk, one per line.
dpdk_include_dirs() {
    local f
    for f in $(pkg-config --cflags-only-I libdpdk); do
        printf '%s\n' "${f#-I}"
    done
}

# Succeeds if every SDK header is found in one of the given directories.
headers_in() {
    local h d found
    for h in "${!SDK_HEADERS[@]}"; do
        found=0
        for d in "$@"; do
            if [[ -f $d/$h ]]; then found=1; break; fi
        done
        [[ $found -eq 1 ]] || return 1
    done
}

# Make sure a deb-src entry for the Debian archive exists.
ensure_deb_src() {
    local targets
    # shellcheck disable=SC2016  # apt's own $(FIELD) syntax
    targets=$(apt-get indextargets --format '$(CREATED_BY) $(SITE)' 2>/dev/null || true)
    if grep -Eq '^Sources .*debian' <<<"$targets"; then
        return
    fi
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        log "adding deb-src: /etc/apt/sources.list.d/vnet-src.sources"
        sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
            as_root tee /etc/apt/sources.list.d/vnet-src.sources >/dev/null
    elif [[ -f /etc/apt/sources.list ]] && grep -Eq '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
        # One-line format must go into a .list file.
        log "adding deb-src: /etc/apt/sources.list.d/vnet-src.list"
        sed -En 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' /etc/apt/sources.list |
            as_root tee /etc/apt/sources.list.d/vnet-src.list >/dev/null
    else
        die "no Debian apt source found (neither /etc/apt/sources.list.d/debian.sources nor deb lines in /etc/apt/sources.list)"
    fi
    APT_UPDATED=0   # the new source needs its own index
}

# Compile a file that includes all SDK headers. Prints the compiler's output.
# $1 = language (c or c++).
sdk_test_compile() {
    local lang=$1 src h cflags
    src=$(mktemp "${TMPDIR:-/tmp}/vnet-sdk-XXXXXX")
    {
        printf '/* Generated by tools/setup.sh: every DPDK driver-SDK header vnet uses. */\n'
        for h in bus_driver.h dev_driver.h bus_pci_driver.h bus_vdev_driver.h \
                 ethdev_driver.h ethdev_pci.h ethdev_vdev.h rte_dmadev_pmd.h; do
            printf '#include <%s>\n' "$h"
        done
        printf 'int vnet_sdk_probe(void);\nint vnet_sdk_probe(void) { return (int)sizeof(struct rte_eth_dev) + (int)sizeof(struct rte_pci_driver) + (int)sizeof(struct rte_vdev_driver) + (int)sizeof(struct rte_dma_dev); }\n'
    } >"$src"
    cflags=$(pkg-config --cflags libdpdk)
    local rc=0
    if [[ $lang == c ]]; then
        # shellcheck disable=SC2086
        cc -x c -std=gnu11 -c -o /dev/null -DALLOW_INTERNAL_API -DALLOW_EXPERIMENTAL_API \
            -I"$SDK_INC" $cflags "$src" 2>&1 || rc=$?
    else
        # As vnet builds it: C++20, warnings as errors, DPDK as system headers.
        cflags=$(sed -E 's/(^| )-I/\1-isystem /g' <<<"$cflags")
        # shellcheck disable=SC2086
        c++ -x c++ -std=c++20 -Wall -Wextra -Werror -c -o /dev/null \
            -DALLOW_INTERNAL_API -DALLOW_EXPERIMENTAL_API \
            -isystem "$SDK_INC" $cflags "$src" 2>&1 || rc=$?
    fi
    rm -f "$src"
    return $rc
}

# Extract members of the orig tarball, flattened into $SDK_INC.
# $1 = tarball, rest = member paths.
extract_members() {
    local tarball=$1; shift
    local tmp
    tmp=$(mktemp -d "$SDK_DIR/extract.XXXXXX")
    tar -xf "$tarball" -C "$tmp" "$@"
    local m
    for m in "$@"; do
        cp "$tmp/$m" "$SDK_INC/"
    done
    rm -rf "$tmp"
}

# Find the tarball member for a header basename. $1 = list file, $2 = basename,
# $3 = preferred directory (may be empty).
find_member() {
    local list=$1 name=$2 dir=${3:-} hits
    if [[ -n $dir ]]; then
        hits=$(grep -E "^[^/]+/${dir//./\\.}/${name//./\\.}\$" "$list" || true)
        if [[ -n $hits ]]; then printf '%s\n' "$hits" | head -n1; return; fi
    fi
    # Not where expected: look for it by basename under lib/ and drivers/bus/,
    # the generic (non-arch) copy first.
    hits=$(grep -E "^[^/]+/(lib|drivers/bus)/.*/${name//./\\.}\$" "$list" | grep -v '/arch/' || true)
    [[ -n $hits ]] || hits=$(grep -E "^[^/]+/(lib|drivers)/.*/${name//./\\.}\$" "$list" || true)
    [[ -n $hits ]] || return 1
    if [[ $(printf '%s\n' "$hits" | wc -l) -gt 1 ]]; then
        log "note: $name found more than once in the DPDK sources, using $(printf '%s\n' "$hits" | head -n1)"
    fi
    printf '%s\n' "$hits" | head -n1
}

# Succeeds if apt knows the source package dpdk at version $1.
has_source_version() {
    local srcs
    srcs=$(apt-cache showsrc dpdk 2>/dev/null || true)
    grep -qx "Version: $1" <<<"$srcs"
}

sdk_headers() {
    command -v pkg-config >/dev/null 2>&1 || die "pkg-config missing"
    pkg-config --exists libdpdk || die "pkg-config cannot find libdpdk (is libdpdk-dev installed?)"

    local -a dpdk_dirs
    mapfile -t dpdk_dirs < <(dpdk_include_dirs)
    if headers_in "${dpdk_dirs[@]}"; then
        log "dpdk sdk: headers ship with this DPDK (enable_driver_sdk), nothing to fetch"
        return
    fi

    is_installed libdpdk-dev || die "DPDK lacks the driver-SDK headers and is not Debian's libdpdk-dev: cannot fetch the matching sources"
    local version upstream
    # The source version (differs from the binary one after a binNMU).
    version=$(dpkg-query -W -f='${source:Version}' libdpdk-dev)
    upstream=${version#*:}
    upstream=${upstream%-*}

    if [[ -f $SDK_STAMP && $(head -n1 "$SDK_STAMP") == "$version" ]] && headers_in "$SDK_INC"; then
        log "dpdk sdk: headers for $version present in build/deps/dpdk-sdk/include"
        return
    fi

    log "dpdk sdk: fetching headers of dpdk $version"
    mkdir -p "$DEPS_DIR" "$SDK_DIR"
    local tarball
    tarball=$(compgen -G "$DEPS_DIR/dpdk_${upstream}.orig.tar.*" | head -n1 || true)
    if [[ -z $tarball ]]; then
        ensure_deb_src
        if ! has_source_version "$version"; then
            APT_UPDATED=0
            apt_update
        fi
        has_source_version "$version" ||
            die "source package dpdk=$version is not in the apt archive (installed libdpdk-dev is $version; upgrade it with apt-get install libdpdk-dev, then retry)"
        # Sources of another DPDK version are of no further use.
        rm -f "$DEPS_DIR"/dpdk_*.orig.tar.* "$DEPS_DIR"/dpdk_*.debian.tar.* "$DEPS_DIR"/dpdk_*.dsc
        log "apt-get source --download-only dpdk=$version"
        # As root apt warns that the download runs unsandboxed; that is fine.
        local out rc=0
        out=$(cd "$DEPS_DIR" && apt-get source -q --download-only "dpdk=$version" 2>&1) || rc=$?
        if [[ $rc -ne 0 ]]; then
            printf '%s\n' "$out" >&2
            die "apt-get source --download-only dpdk=$version failed"
        fi
        tarball=$(compgen -G "$DEPS_DIR/dpdk_${upstream}.orig.tar.*" | head -n1 || true)
        [[ -n $tarball ]] || die "apt-get source did not produce $DEPS_DIR/dpdk_${upstream}.orig.tar.*"
    else
        log "dpdk sdk: using cached $(basename "$tarball")"
    fi

    # Start clean: a version change must not leave old headers behind.
    rm -rf "$SDK_INC" "$SDK_STAMP" "$SDK_DIR"/extract.*
    mkdir -p "$SDK_INC"

    local list="$SDK_DIR/tarball.list"
    tar -tf "$tarball" >"$list"

    local -a members=()
    local h m
    for h in "${!SDK_HEADERS[@]}"; do
        m=$(find_member "$list" "$h" "${SDK_HEADERS[$h]}") ||
            die "$h not found in $(basename "$tarball")"
        members+=("$m")
    done
    extract_members "$tarball" "${members[@]}"

    # The SDK headers may include further headers that Debian does not install
    # either: compile a probe, extract whatever the compiler reports missing,
    # repeat.
    local -a extras=()
    local out missing i
    for ((i = 0; i < 32; i++)); do
        if out=$(sdk_test_compile c); then break; fi
        missing=$(sed -nE 's/.*fatal error: ([^:]+): No such file or directory.*/\1/p' <<<"$out" | head -n1)
        if [[ -z $missing ]]; then
            printf '%s\n' "$out" >&2
            die "test compile of the DPDK driver-SDK headers failed (see above)"
        fi
        m=$(find_member "$list" "$(basename "$missing")" "") ||
            { printf '%s\n' "$out" >&2; die "$missing is needed by the SDK headers but not in the DPDK sources"; }
        log "dpdk sdk: also extracting $m"
        extract_members "$tarball" "$m"
        extras+=("$(basename "$missing")")
    done
    sdk_test_compile c >/dev/null || die "test compile of the DPDK driver-SDK headers still fails"
    if ! out=$(sdk_test_compile c++); then
        printf '%s\n' "$out" >&2
        die "C++20 test compile (-Wall -Wextra -Werror, DPDK as system headers) of the SDK headers failed"
    fi

    headers_in "$SDK_INC" || die "not all DPDK driver-SDK headers were extracted"
    {
        printf '%s\n' "$version"
        printf '# tools/setup.sh: DPDK driver-SDK headers from %s\n' "$(basename "$tarball")"
        printf '# extra headers: %s\n' "${extras[*]:-none}"
    } >"$SDK_STAMP"
    rm -f "$list"
    log "dpdk sdk: ${#SDK_HEADERS[@]} headers${extras:+ + ${#extras[@]} extra} in build/deps/dpdk-sdk/include, test compile ok"
}

# --------------------------------------------------------------------------
# 3. Guest kernel for the vm label
# --------------------------------------------------------------------------
# build/deps/vm/ holds: vmlinuz (a symlink to boot/vmlinuz-<ver>),
# lib/modules/<ver>/ with modules.dep, kver (the version), stamp.
vm_kernel() {
    local pkg ver
    # The version Debian's meta package points at, e.g. linux-image-6.1.0-56-amd64.
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -nE 's/^ *Depends: (linux-image-[0-9][^ ]*-amd64)$/\1/p' | head -n1)
    if [[ -z $pkg ]]; then
        apt_update
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
            sed -nE 's/^ *Depends: (linux-image-[0-9][^ ]*-amd64)$/\1/p' | head -n1)
    fi
    [[ -n $pkg ]] || die "apt-cache depends linux-image-amd64 names no linux-image-<version>-amd64"
    ver=${pkg#linux-image-}
    if [[ -f $VM_STAMP && $(head -n1 "$VM_STAMP") == "$pkg" && -f $VM_DIR/vmlinuz &&
          -f $VM_DIR/lib/modules/$ver/modules.dep ]]; then
        log "vm kernel: $pkg present in build/deps/vm"
        return
    fi
    log "vm kernel: fetching $pkg"
    rm -rf "$VM_DIR"
    mkdir -p "$VM_DIR/dl"
    local out rc=0
    out=$(cd "$VM_DIR/dl" && apt-get download -q "$pkg" 2>&1) || rc=$?
    if [[ $rc -ne 0 ]]; then
        apt_update
        rc=0
        out=$(cd "$VM_DIR/dl" && apt-get download -q "$pkg" 2>&1) || rc=$?
    fi
    if [[ $rc -ne 0 ]]; then
        printf '%s\n' "$out" >&2
        die "apt-get download $pkg failed"
    fi
    local deb
    deb=$(compgen -G "$VM_DIR/dl/${pkg}_*.deb" | head -n1 || true)
    [[ -n $deb ]] || die "apt-get download $pkg produced no .deb"
    dpkg -x "$deb" "$VM_DIR"
    [[ -f $VM_DIR/boot/vmlinuz-$ver ]] || die "$pkg has no boot/vmlinuz-$ver"
    [[ -d $VM_DIR/lib/modules/$ver ]] || die "$pkg has no lib/modules/$ver"
    depmod -b "$VM_DIR" "$ver" || die "depmod -b $VM_DIR $ver failed"
    ln -sf "boot/vmlinuz-$ver" "$VM_DIR/vmlinuz"
    printf '%s\n' "$ver" >"$VM_DIR/kver"
    rm -rf "$VM_DIR/dl"
    printf '%s\n# tools/setup.sh: guest kernel for the vm label\n' "$pkg" >"$VM_STAMP"
    log "vm kernel: $pkg in build/deps/vm ($(du -sh "$VM_DIR" | cut -f1))"
}

verify() {
    local -a dirs
    mapfile -t dirs < <(dpdk_include_dirs)
    dirs+=("$SDK_INC")
    local h d found missing=()
    for h in "${!SDK_HEADERS[@]}"; do
        found=0
        for d in "${dirs[@]}"; do
            if [[ -f $d/$h ]]; then found=1; break; fi
        done
        [[ $found -eq 1 ]] || missing+=("$h")
    done
    [[ ${#missing[@]} -eq 0 ]] ||
        die "DPDK driver-SDK headers still missing: ${missing[*]} (looked in: ${dirs[*]})"
}

main() {
    local t0=$SECONDS
    install_packages
    sdk_headers
    verify
    vm_kernel
    log "ready ($((SECONDS - t0)) s)"
}

main "$@"
