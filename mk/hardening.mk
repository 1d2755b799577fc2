# Hardening (issue 4): brisk built with sanitizers, the API fuzzer, and the long runs.
#
#   make fuzz             the fuzzer for FUZZ_TIME seconds (default 1800) on FUZZ_JOBS processes
#                         (default 2), corpus in $(BUILD)/hardening/fuzz/corpus (seeded from
#                         tests/fuzz/corpus), crashes in $(BUILD)/hardening/fuzz/artifacts
#                         (FUZZ_BRISK_OPTIONS=secure=1 fuzzes the secure mode)
#   make fuzz-merge       fold that corpus, minimised, back into tests/fuzz/corpus
#   make soak             the soak test with SOAK_SCALE times the work of `make check` (default 20)
#                         on SOAK_THREADS threads (default 8)
#   make tsan             the multi-threaded tests under TSan (brisk and test built with it, the
#                         brisk_* names); any report fails. Not in `make check` yet: brisk has
#                         data races TSan reports (see the hardening note)
#   make hardening-gaps   what brisk does not meet yet: `misuse gaps`, `make tsan` and the
#                         fuzzer's finds in secure mode (tests/fuzz/regress-secure/, run with
#                         BRISK_OPTIONS=secure=1); fails while any of it fails
#   make hardening-build  every sanitizer build below (tests/suites/hardening.sh builds them too)
#
# A crash the fuzzer finds becomes a file in tests/fuzz/regress/ (`make check` runs each once).
#
# Sanitizer builds of the library reuse the top-level object rules through a sub-make with its
# own BUILD, CC and CFLAGS. For the sanitizers with an allocator of their own (TSan) and for
# libFuzzer, brisk's objects are merged into one object that keeps only the brisk_* names
# global: malloc, free... become local, so the runtime's malloc stays in place for everyone
# else and the programs reach brisk through the prefixed API.

HARD_DIR := $(BUILD)/hardening
HARD_CLANG ?= clang
HARD_UBSAN := -fsanitize=undefined -fno-sanitize-recover=all
HARD_TSAN := -fsanitize=thread
HARD_FUZZ := -fsanitize=fuzzer-no-link,undefined -fno-sanitize-recover=undefined
HARD_TESTFLAGS := -O1 -g -Wall -Wextra -fno-builtin -D_GNU_SOURCE -Iinclude -Itests
FUZZ_TIME ?= 1800
FUZZ_JOBS ?= 2
FUZZ_BRISK_OPTIONS ?=
SOAK_SCALE ?= 20
SOAK_THREADS ?= 8
HARD_LINK_SO := -L$(BUILD) -lbrisk -Wl,-rpath,$(abspath $(BUILD)) -pthread

.PHONY: fuzz fuzz-merge soak tsan hardening-gaps hardening-build hardening-tools hardening-force

hardening-tools:
	@bash tests/hardening-tools.sh

hardening-force:

# the library's objects under each sanitizer (the sub-make decides what is out of date)
$(HARD_DIR)/ubsan/libbrisk.a: hardening-force
	@$(MAKE) -s --no-print-directory BUILD=$(HARD_DIR)/ubsan CFLAGS="$(HARD_UBSAN)" $@
$(HARD_DIR)/tsan/libbrisk.a: hardening-force
	@$(MAKE) -s --no-print-directory BUILD=$(HARD_DIR)/tsan CFLAGS="$(HARD_TSAN)" $@
$(HARD_DIR)/fuzz/libbrisk.a: hardening-force
	@$(MAKE) -s --no-print-directory BUILD=$(HARD_DIR)/fuzz CC=$(HARD_CLANG) CFLAGS="$(HARD_FUZZ)" $@

# The Makefile links libbrisk.so without CFLAGS, so a sanitized .so would miss its runtime:
# linked here with the sanitizer's flag instead.
$(HARD_DIR)/ubsan/libbrisk.so: $(HARD_DIR)/ubsan/libbrisk.a
	$(CC) -shared $(HARD_UBSAN) -Wl,-soname,libbrisk.so -Wl,-z,nodelete -o $@ \
	    -Wl,--whole-archive $< -Wl,--no-whole-archive -lpthread

$(HARD_DIR)/%/brisk_prefixed.o: $(HARD_DIR)/%/libbrisk.a
	ld -r --whole-archive $< -o $@.tmp
	objcopy --wildcard --keep-global-symbol='brisk_*' $@.tmp $@
	rm -f $@.tmp

$(HARD_DIR)/fuzz/fuzz_api: tests/fuzz/fuzz_api.c include/brisk.h $(HARD_DIR)/fuzz/brisk_prefixed.o
	$(HARD_CLANG) $(HARD_TESTFLAGS) -fsanitize=fuzzer,undefined -fno-sanitize-recover=undefined \
	    $< $(HARD_DIR)/fuzz/brisk_prefixed.o -o $@ -lpthread

# the multi-threaded tests through the prefixed API, brisk and test both under TSan
$(HARD_DIR)/tsan/%: tests/%.c tests/common.h include/brisk.h $(HARD_DIR)/tsan/brisk_prefixed.o
	$(CC) $(HARD_TESTFLAGS) $(HARD_TSAN) -DUSE_PREFIX $< $(HARD_DIR)/tsan/brisk_prefixed.o -o $@ -lpthread

.SECONDARY: $(HARD_DIR)/tsan/brisk_prefixed.o $(HARD_DIR)/fuzz/brisk_prefixed.o

hardening-build: $(HARD_DIR)/ubsan/libbrisk.so $(HARD_DIR)/fuzz/fuzz_api $(HARD_DIR)/tsan/stress

fuzz: hardening-tools $(HARD_DIR)/fuzz/fuzz_api
	@mkdir -p $(HARD_DIR)/fuzz/corpus $(HARD_DIR)/fuzz/artifacts
	cp -n tests/fuzz/corpus/* $(HARD_DIR)/fuzz/corpus/ 2>/dev/null || true
	cd $(HARD_DIR)/fuzz && BRISK_OPTIONS=$(FUZZ_BRISK_OPTIONS) ./fuzz_api -max_total_time=$(FUZZ_TIME) -jobs=$(FUZZ_JOBS) \
	    -workers=$(FUZZ_JOBS) -artifact_prefix=artifacts/ -print_final_stats=1 corpus
	@echo "crashes (each to become a file in tests/fuzz/regress/):"; ls $(HARD_DIR)/fuzz/artifacts

fuzz-merge: $(HARD_DIR)/fuzz/fuzz_api
	mkdir -p tests/fuzz/corpus.new
	$(HARD_DIR)/fuzz/fuzz_api -merge=1 -max_len=2048 tests/fuzz/corpus.new tests/fuzz/corpus $(HARD_DIR)/fuzz/corpus
	rm -rf tests/fuzz/corpus && mv tests/fuzz/corpus.new tests/fuzz/corpus

# test programs against the library, for the targets below (make check builds its own)
$(HARD_DIR)/%: tests/%.c tests/common.h tests/child.h include/brisk.h $(BUILD)/libbrisk.so
	@mkdir -p $(dir $@)
	$(CC) $(HARD_TESTFLAGS) $< -o $@ $(HARD_LINK_SO)

soak: $(HARD_DIR)/soak
	$(HARD_DIR)/soak $(SOAK_SCALE) $(SOAK_THREADS)

# each run's TSan output in $(HARD_DIR)/tsan/*.log; exit code 66 means TSan reported
TSAN_RUNS := "stress threads" "stress prodcons" "stress storm" "soak 1 4" "threads10k" "extent_review stress"
tsan: $(HARD_DIR)/tsan/stress $(HARD_DIR)/tsan/soak $(HARD_DIR)/tsan/threads10k $(HARD_DIR)/tsan/extent_review
	@fail=0; for r in $(TSAN_RUNS); do \
	    log=$(HARD_DIR)/tsan/$$(echo $$r | tr ' ' _).log; \
	    TSAN_OPTIONS="exitcode=66 history_size=4" $(HARD_DIR)/tsan/$$r >$$log 2>&1; rc=$$?; \
	    n=$$(grep -c "^WARNING: ThreadSanitizer" $$log); \
	    echo "TSan $$r: exit $$rc, $$n reports ($$log)"; \
	    grep "^SUMMARY: ThreadSanitizer" $$log | sort | uniq -c | sed 's/^/    /'; \
	    [ $$rc -eq 0 ] && [ $$n -eq 0 ] || fail=1; \
	done; exit $$fail

hardening-gaps: $(HARD_DIR)/misuse $(HARD_DIR)/fuzz/fuzz_api
	@rc=0; $(HARD_DIR)/misuse gaps || rc=1; \
	BRISK_OPTIONS=secure=1 $(HARD_DIR)/fuzz/fuzz_api tests/fuzz/regress-secure/* || rc=1; \
	$(MAKE) --no-print-directory tsan || rc=1; exit $$rc
