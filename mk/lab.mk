# The lab (docs/lab.md): four classic allocator designs, each its own LD_PRELOAD-able library
# in $(BUILD)/lab/ (bump.so, freelist.so, coalesce.so, binned.so), the same under UBSan in
# $(BUILD)/lab/ubsan/ (for the tests), the lab's workload program, and `make lab`, which measures
# them against brisk and glibc (lab/run.sh -> lab/results.md).
LAB_DESIGNS := bump freelist coalesce binned
LAB_LIBS := $(patsubst %,$(BUILD)/lab/%.so,$(LAB_DESIGNS))
LAB_UBSAN_LIBS := $(patsubst %,$(BUILD)/lab/ubsan/%.so,$(LAB_DESIGNS))
LAB_COMMON := lab/common/api.c lab/common/fork.c
LAB_HDRS := lab/common/lab.h mk/lab.mk
# -fno-builtin-*: gcc would turn malloc + memset into calloc inside calloc itself.
LAB_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -fPIC -fvisibility=hidden -D_GNU_SOURCE \
              -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
              -ftls-model=initial-exec -Ilab/common

# binned has a lock per arena; the three simpler designs share biglock.c's one lock
lab_srcs = $(wildcard lab/$(1)/*.c) $(LAB_COMMON) $(if $(filter binned,$(1)),,lab/common/biglock.c)

# LAB_LIB_RULE(design, output directory, extra flags)
define LAB_LIB_RULE
$(2)/$(1).so: $(call lab_srcs,$(1)) $(wildcard lab/$(1)/*.h) $(LAB_HDRS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LAB_CFLAGS) $(3) -shared -o $$@ $(call lab_srcs,$(1)) -pthread
endef
$(foreach d,$(LAB_DESIGNS),$(eval $(call LAB_LIB_RULE,$(d),$(BUILD)/lab,)))
# UBSan that traps: no runtime library, whose reports would call malloc inside the allocator
$(foreach d,$(LAB_DESIGNS),$(eval $(call LAB_LIB_RULE,$(d),$(BUILD)/lab/ubsan,\
    -fsanitize=undefined -fsanitize-undefined-trap-on-error)))

# -fno-builtin: the workloads' malloc/free calls are what is measured; none may be optimised away.
$(BUILD)/lab/work: $(wildcard lab/bench/*.c) $(wildcard lab/bench/*.h) mk/lab.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -fno-builtin -D_GNU_SOURCE -pthread -o $@ \
	    $(wildcard lab/bench/*.c)

.PHONY: lab lab-libs
lab-libs: $(LAB_LIBS) $(LAB_UBSAN_LIBS) $(BUILD)/lab/work

lab: all lab-libs
	BUILD=$(BUILD) bash lab/run.sh
