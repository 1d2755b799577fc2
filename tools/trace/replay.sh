# `brisk trace replay`: sourced by the launcher (tools/brisk.sh), whose find_lib, find_tool,
# run_py, options_without and die it uses. Turns the trace into ops once (brisk-replay prep),
# then runs brisk-replay once per allocator and round, the allocators taking turns so that a
# slow patch of a shared machine falls on all of them, and prints compare.py's table.

# Debian's libraries for the short names; the packages that hold them.
declare -A replay_known=([jemalloc]=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
                         [tcmalloc]=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
                         [mimalloc]=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2)
declare -A replay_pkg=([jemalloc]=libjemalloc2 [tcmalloc]=libtcmalloc-minimal4
                       [mimalloc]=libmimalloc2.0)

replay_names=()
declare -A replay_lib=()

replay_add() { # NAME LIB ("" for glibc: nothing preloaded)
    [ -n "${replay_lib[$1]+set}" ] && return 0
    replay_names+=("$1")
    replay_lib[$1]=$2
}

# libjemalloc.so.2 -> jemalloc, libtcmalloc_minimal.so.4 -> tcmalloc_minimal
replay_name_of() {
    local b=${1##*/}
    b=${b#lib}
    echo "${b%%.so*}"
}

replay_lib_arg() { # the value of one --lib
    local spec=$1 name path
    case $spec in
        glibc) replay_add glibc ""; return ;;
        brisk) return ;;   # always there
        *=*) name=${spec%%=*}; path=${spec#*=} ;;
        */*|*.so*) path=$spec; name=$(replay_name_of "$spec") ;;
        *)
            path=${replay_known[$spec]:-}
            [ -n "$path" ] || die "trace replay: --lib $spec: give a path (or glibc, brisk, jemalloc, tcmalloc, mimalloc)"
            name=$spec
            [ -f "$path" ] || die "trace replay: $path is missing: apt-get install ${replay_pkg[$spec]}" ;;
    esac
    [ -f "$path" ] || die "trace replay: --lib $spec: $path: no such file"
    replay_add "$name" "$(readlink -f "$path")"
}

# replay_one NAME WORK ARGS...: one run of brisk-replay under NAME's allocator; appends
# "NAME<TAB>LIB<TAB>RC<TAB>LINE" to WORK/results (the replayer's errors go to our stderr).
replay_one() {
    local name=$1 work=$2 lib out rc line opts
    shift 2
    lib=${replay_lib[$name]}
    opts=$(options_without trace heapmap)
    opts=${opts%,}
    local env=(env -u LD_PRELOAD -u BRISK_OPTIONS)
    [ -n "$lib" ] && env+=(LD_PRELOAD="$lib")
    [ -n "$opts" ] && env+=(BRISK_OPTIONS="$opts")
    out=$("${env[@]}" "$replayer" run "$work/ops" "$@" 2>"$work/err")
    rc=$?
    line=$(grep -m1 '^replay:' <<<"$out")
    if [ $rc -ne 0 ]; then
        echo "$prog: replay under $name failed (exit status $rc):" >&2
        tail -n 5 "$work/err" >&2
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$lib" "$rc" "$line" >>"$work/results"
    printf '%s\n' "$line" >"$work/last"
}

cmd_replay() {
    local trace="" runs=3 json=0 timeline="" every="" hm_at="" hm_prefix="" brisk_lib
    brisk_lib=$(find_lib) || die "trace replay: libbrisk.so not found near $here (run 'make' first)"
    replay_add glibc ""
    replay_add brisk "$brisk_lib"
    while [ $# -gt 0 ]; do
        case $1 in
            --lib|--runs|--timeline|--timeline-every|--heapmap-at|--heapmap-prefix)
                [ $# -ge 2 ] || die "trace replay: $1 needs a value"
                case $1 in
                    --lib) replay_lib_arg "$2" ;;
                    --runs) runs=$2 ;;
                    --timeline) timeline=$2 ;;
                    --timeline-every) every=$2 ;;
                    --heapmap-at) hm_at=$2 ;;
                    --heapmap-prefix) hm_prefix=$2 ;;
                esac
                shift 2 ;;
            --json) json=1; shift ;;
            -*) die "trace replay: unknown option '$1'" ;;
            *) [ -z "$trace" ] || die "trace replay: one trace at a time"; trace=$1; shift ;;
        esac
    done
    [ -n "$trace" ] || die "trace replay: no trace given"
    [ -f "$trace" ] || die "trace replay: $trace: no such file"
    case $runs in ''|*[!0-9]*|0) die "trace replay: --runs takes a positive number" ;; esac

    replayer=$(find_tool brisk-replay) || exit 2
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/brisk-replay.XXXXXX") || exit 2
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    local ordered=()   # the pictures replay in trace order: prep keeps what that needs
    [ -n "$timeline$hm_at" ] && ordered=(--ordered)
    if ! env -u LD_PRELOAD "$replayer" prep "${ordered[@]}" "$trace" "$work/ops" >"$work/prep" 2>"$work/err"; then
        cat "$work/err" >&2
        exit 2
    fi
    [ $json = 1 ] || cat "$work/prep"

    local r name
    for ((r = 1; r <= runs; r++)); do
        [ $json = 1 ] || echo "run $r/$runs: ${replay_names[*]}" >&2
        for name in "${replay_names[@]}"; do
            replay_one "$name" "$work"
        done
    done
    local status=0
    if [ $json = 1 ]; then
        run_py compare.py "$work/results" --json || status=1
    else
        run_py compare.py "$work/results" || status=1
    fi

    if [ -n "$timeline$hm_at" ]; then
        local args=()
        [ -n "$timeline" ] && args+=(--timeline "$timeline")
        [ -n "$every" ] && args+=(--timeline-every "$every")
        [ -n "$hm_at" ] && args+=(--heapmap-at "$hm_at" --heapmap-prefix "${hm_prefix:-$(basename "$trace").heapmap}")
        replay_one brisk "$work" "${args[@]}"
        grep -q ' errors=0' "$work/last" || status=1
        [ $json = 1 ] && return $status
        echo "replayed in trace order under brisk for the pictures:"
        [ -n "$timeline" ] && echo "  timeline: $timeline (draw it: $prog timeline $timeline)"
        if [ -n "$hm_at" ]; then
            if grep -q ' heapmaps=0' "$work/last"; then
                echo "  no heap dumps: $brisk_lib has no brisk_heap_dump" >&2
                status=1
            else
                echo "  heap dumps: ${hm_prefix:-$(basename "$trace").heapmap}.N.jsonl for N in $hm_at (draw one: $prog heapmap FILE)"
            fi
        fi
    fi
    return $status
}
