# brisk: `make` builds the library, `make check` runs every test, `make demo` runs the main job.
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build

# -fno-builtin-malloc...: gcc would otherwise turn malloc+memset into a call to calloc inside
# brisk's own calloc, and drop malloc/free pairs it thinks are unused.
CFLAGS_BASE := -std=gnu11 -O2 -g -Wall -Wextra -fPIC -fvisibility=hidden \
               -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
               -fno-semantic-interposition -ftls-model=initial-exec -fno-plt \
               -D_GNU_SOURCE -Iinclude -Isrc
CFLAGS  ?=
# EXTENTS: the size above which blocks (up to 256 KiB) come from extents (src/extent.c); 0: none
EXTENTS ?= 8192
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS) -DBRISK_EXTENT_MIN=$(EXTENTS)

SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
HDRS := $(wildcard src/*.h) include/brisk.h

.PHONY: all check demo bench install uninstall clean
all: $(BUILD)/libbrisk.so $(BUILD)/libbrisk.a $(BUILD)/brisk

$(BUILD)/obj/%.o: src/%.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libbrisk.so: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libbrisk.so -Wl,-z,nodelete -o $@ $(OBJS) -lpthread

$(BUILD)/libbrisk.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $(OBJS)

$(BUILD)/brisk: tools/brisk.sh
	@mkdir -p $(BUILD)
	cp tools/brisk.sh $@ && chmod +x $@

check: all
	bash tests/run.sh

demo: all
	bash tools/demo.sh

bench: all
	bash bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/libbrisk.so $(DESTDIR)$(PREFIX)/lib/libbrisk.so
	install -m 644 $(BUILD)/libbrisk.a $(DESTDIR)$(PREFIX)/lib/libbrisk.a
	install -m 644 include/brisk.h $(DESTDIR)$(PREFIX)/include/brisk.h
	install -m 755 $(BUILD)/brisk $(DESTDIR)$(PREFIX)/bin/brisk
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/.*BRISK_VERSION "\(.*\)"/\1/p' include/brisk.h)|' \
	    tools/brisk.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/brisk.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libbrisk.so $(DESTDIR)$(PREFIX)/lib/libbrisk.a \
	      $(DESTDIR)$(PREFIX)/include/brisk.h $(DESTDIR)$(PREFIX)/bin/brisk \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/brisk.pc

clean:
	rm -rf $(BUILD)

# more targets, one fragment each (lab, fuzz, sanitizers...)
-include mk/*.mk
