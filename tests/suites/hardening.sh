# Hardening suite (issue 4), sourced by tests/run.sh: the misuse catalogue of the default mode,
# the API fuzzer, the library under UBSan and TSan, memcheck runs, and fault-tolerance tests
# (address-space exhaustion cycles, 10,000 threads, a soak with a bounded amount of work).
# Everything bounds its work; the long versions are `make fuzz` and `make soak` (mk/hardening.mk).

# the catalogue: each misuse in a child; known gaps of the library are left out (misuse gaps)
cc_so misuse misuse.c
run misuse "misuse" "$T/misuse" suite
