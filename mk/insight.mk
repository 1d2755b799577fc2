# The insight tools behind `brisk trace ...`, `brisk heapmap` and `brisk timeline`
# (docs/insight.md): two C programs in $(BUILD), the scripts (SVG pictures, replay table) in $(BUILD)/brisk-py, all
# installed to $(PREFIX)/lib/brisk where the launcher looks for them.
INSIGHT_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude
INSIGHT_HDRS := $(wildcard tools/trace/*.h) include/brisk.h mk/insight.mk
INSIGHT_BASE := tools/trace/mm.c tools/trace/ptrmap.c tools/trace/tracefile.c
INSIGHT_SUMMARY := $(INSIGHT_BASE) tools/trace/qhist.c tools/trace/summary.c \
                   tools/trace/summary_print.c tools/trace/summary_main.c
INSIGHT_REPLAY := $(INSIGHT_BASE) tools/trace/replay_prep.c tools/trace/replay_run.c \
                  tools/trace/replay_probe.c tools/trace/replay_main.c
INSIGHT_SCRIPTS := $(wildcard tools/trace/*.py) tools/trace/replay.sh
INSIGHT_SCRIPTS_OUT := $(patsubst tools/trace/%,$(BUILD)/brisk-py/%,$(INSIGHT_SCRIPTS))
INSIGHT_BINS := $(BUILD)/brisk-trace-summary $(BUILD)/brisk-replay

.PHONY: insight install-insight uninstall-insight
all: insight
insight: $(INSIGHT_BINS) $(INSIGHT_SCRIPTS_OUT)

$(BUILD)/brisk-trace-summary: $(INSIGHT_SUMMARY) $(INSIGHT_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(INSIGHT_CFLAGS) -o $@ $(INSIGHT_SUMMARY) -lm

# -fno-builtin: the replayer's malloc calls are the workload; the compiler must keep them all.
$(BUILD)/brisk-replay: $(INSIGHT_REPLAY) $(INSIGHT_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(INSIGHT_CFLAGS) -fno-builtin -pthread -o $@ $(INSIGHT_REPLAY) -ldl

$(BUILD)/brisk-py/%: tools/trace/%
	@mkdir -p $(dir $@)
	cp $< $@

install: install-insight
install-insight: insight
	install -d $(DESTDIR)$(PREFIX)/lib/brisk
	install -m 755 $(INSIGHT_BINS) $(DESTDIR)$(PREFIX)/lib/brisk/
	install -m 644 $(INSIGHT_SCRIPTS_OUT) $(DESTDIR)$(PREFIX)/lib/brisk/

uninstall: uninstall-insight
uninstall-insight:
	rm -rf $(DESTDIR)$(PREFIX)/lib/brisk
