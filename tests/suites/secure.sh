# Secure mode: each misuse caught with its message and abort(); correct programs unharmed.
cc_so secure secure.c
run secure_ok "secure" env BRISK_OPTIONS=secure=1 "$T/secure" ok
run secure_fill "secure" env BRISK_OPTIONS=secure=1 "$T/secure" fill
run secure_random_order "secure" env BRISK_OPTIONS=secure=1 "$T/secure" random_order

# t_secure_caught MODE TEXT: the run must die of SIGABRT after "brisk: ...TEXT" on stderr.
t_secure_caught() {
    local out rc
    out=$(BRISK_OPTIONS=secure=1 "$T/secure" "$1" 2>&1)
    rc=$?
    echo "$out"
    [ $rc -eq 134 ] || { echo "exit status $rc, want 134 (SIGABRT)"; return 1; }
    echo "$out" | grep -q "^brisk: .*$2" || { echo "no 'brisk: ...$2' message"; return 1; }
}
export -f t_secure_caught
export T
# a guard page ends a run off the end at once: SIGSEGV (exit 139), not a report
t_secure_segv() {
    BRISK_OPTIONS=secure=1 "$T/secure" "$1"
    local rc=$?
    [ $rc -eq 139 ] || { echo "exit status $rc, want 139 (SIGSEGV at a guard page)"; return 1; }
}
export -f t_secure_segv
run secure_overflow_large_far "secure" bash -c "t_secure_segv overflow_large_far"
run secure_overflow_page_end "secure" bash -c "t_secure_segv overflow_page_end"
for pair in "overflow1:heap overflow" "overflow32:heap overflow" "overflow_large_class:heap overflow" \
            "overflow_large:heap overflow" \
            "write_after_free:write after free" "double_free:double free" "double_free_delayed:double free"; do
    run "secure_${pair%%:*}" "secure" bash -c "t_secure_caught ${pair%%:*} '${pair#*:}'"
done
# the same programs without secure mode run clean (the checks are what catches them)
run secure_ok_default "secure" "$T/secure" ok
