#!/usr/bin/env bash
# Installs what the hardening checks need and Debian 12 may lack: clang with libFuzzer and the
# sanitizer runtimes (libclang-rt-14-dev is only a recommendation of clang-14), valgrind.
# Idempotent; as root it uses apt-get, otherwise it only says what is missing. Exit 1 if
# something is still missing afterwards.
set -u
missing=()
command -v clang >/dev/null 2>&1 || missing+=(clang)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
# libFuzzer's runtime, where this clang looks for it (the bare name comes back when it has none)
[ -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || missing+=(libclang-rt-14-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "hardening: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
    echo "hardening: not root, cannot install ${missing[*]}"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1
command -v clang >/dev/null 2>&1 && command -v valgrind >/dev/null 2>&1 &&
    [ -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]
