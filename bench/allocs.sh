# shellcheck shell=bash
# Sourced by bench/run.sh and bench/micro.sh: the allocators compared, how each is loaded, and
# which of them a run uses.
#
# Sets lib[NAME] (the library to preload; empty for glibc), pkg[NAME] (its Debian package) and,
# through choose_allocs, the array allocs. Honours BRISK_LIB (another libbrisk.so to measure,
# e.g. an older build) and ALLOCS="glibc brisk ..." (these, in this
# order) and OTHERS=0 (glibc and brisk only, and no apt-get). Goes to the repository's root
# ($root) and unsets LD_PRELOAD: the glibc runs must really use glibc's malloc.

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$PWD
unset LD_PRELOAD

multiarch=$(gcc -print-multiarch 2>/dev/null || true)
libdir=/usr/lib/${multiarch:-x86_64-linux-gnu}
declare -A lib=([glibc]="" [brisk]="${BRISK_LIB:-$root/build/libbrisk.so}"
                [jemalloc]="$libdir/libjemalloc.so.2" [tcmalloc]="$libdir/libtcmalloc_minimal.so.4"
                [mimalloc]="$libdir/libmimalloc.so.2")
declare -A pkg=([jemalloc]=libjemalloc2 [tcmalloc]=libtcmalloc-minimal4 [mimalloc]=libmimalloc2.0)
# brisk again, in secure mode: ALLOCS="glibc brisk brisk-secure" measures secure mode's cost in
# the same interleaved run (its column of brisk / peer is default / secure)
lib[brisk-secure]=${lib[brisk]}
declare -A opts=([brisk-secure]="secure=1")
others=(jemalloc tcmalloc mimalloc)

# apt_install PACKAGE...: installs them with apt-get when we are root; says so either way.
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "bench: not root or no apt-get: cannot install $*" >&2
        return 1
    fi
    echo "bench: installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >/dev/null 2>&1 ||
        { echo "bench: apt-get could not install $*" >&2; return 1; }
}

choose_allocs() {
    if [ ! -f "${lib[brisk]}" ]; then
        echo "bench: ${lib[brisk]} is missing: run 'make' first" >&2
        exit 1
    fi
    local a missing=()
    if [ -n "${ALLOCS:-}" ]; then
        read -r -a allocs <<<"$ALLOCS"
        for a in "${allocs[@]}"; do
            [ -n "${lib[$a]+set}" ] || { echo "bench: unknown allocator '$a'" >&2; exit 2; }
            [ -z "${lib[$a]}" ] || [ -f "${lib[$a]}" ] || missing+=("${pkg[$a]}")
        done
    else
        allocs=(glibc brisk)
        if [ "${OTHERS:-1}" != 0 ]; then
            for a in "${others[@]}"; do [ -f "${lib[$a]}" ] || missing+=("${pkg[$a]}"); done
        fi
    fi
    [ ${#missing[@]} = 0 ] || [ "${OTHERS:-1}" = 0 ] || apt_install "${missing[@]}" || true
    if [ -z "${ALLOCS:-}" ] && [ "${OTHERS:-1}" != 0 ]; then
        for a in "${others[@]}"; do
            if [ -f "${lib[$a]}" ]; then allocs+=("$a"); else echo "bench: no $a (${lib[$a]})" >&2; fi
        done
    fi
    for a in "${allocs[@]}"; do
        if [ -n "${lib[$a]}" ] && [ ! -f "${lib[$a]}" ]; then
            echo "bench: ${lib[$a]} ($a) is missing" >&2
            exit 1
        fi
    done
}

version_of() {
    case $1 in
        glibc) ldd --version 2>/dev/null | head -n 1 | sed 's/.* //' ;;
        brisk | brisk-secure) sed -n 's/.*BRISK_VERSION "\(.*\)".*/\1/p' "$root/include/brisk.h" ;;
        *) dpkg-query -W -f='${Version}' "${pkg[$1]}" 2>/dev/null || echo '?' ;;
    esac
}
