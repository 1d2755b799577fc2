/* free's slow path: everything the fast path in api.c hands over. A pointer is checked before
 * anything is read through it: brisk_map says whether brisk has the 4 MiB unit at all; the page
 * says whether the pointer is a block boundary; the block's key says whether it may already be
 * free, which the page's lists then settle. Any doubt ends in a message and abort(). */
#include "internal.h"

/* The block that p (inside a segment) stands for, or a message and abort. */
void *block_start_checked(uintptr_t a, page_t **pgp, const char *func) {
    page_t *pg = page_of(a);
    uintptr_t off = a - pg->start;
    if (pg == &brisk_empty_page || off >= LOAD_RELAXED(pg->limit)) brisk_fatal(func, "invalid pointer", (void *)a);
    uintptr_t start = pg->start + off / pg->bsize * pg->bsize;
    if (start != a) {
        /* Only the address an aligned allocation handed out, as its block's tag names it. */
        block_t *b = (block_t *)start;
        int tagged = LOAD_RELAXED(pg->has_aligned) && b->key == (brisk_secret ^ ALIGNED_SALT) &&
                     (uintptr_t)b->next == (a ^ brisk_secret);
        if (!tagged) {
            /* the tag is gone once the block is free (secure mode: its fill replaced it) */
            if (LOAD_RELAXED(pg->has_aligned) &&
                ((brisk_opt.secure && secure_in_quarantine(b)) ||
                 (b->key == brisk_secret && page_contains_free(pg, b))))
                brisk_fatal(func, "double free", (void *)a);
            brisk_fatal(func, "invalid pointer (not the start of a block)", (void *)a);
        }
    }
    *pgp = pg;
    return (void *)start;
}

/* block_start_checked, and the block must not be free already. */
block_t *live_block_checked(uintptr_t a, page_t **pgp, const char *func) {
    block_t *b = block_start_checked(a, pgp, func);
    if (b->key == brisk_secret && page_contains_free(*pgp, b))
        brisk_fatal(func, "double free", (void *)a);
    return b;
}

static void free_slow_untraced(void *p, const char *func);

void free_slow(void *p, const char *func) {
    if (unlikely(brisk_trace_on)) {
        if (trace_begin() && p != NULL) trace_record(TRACE_FREE, 0, p, 0);
        free_slow_untraced(p, func);
        trace_leave();
        return;
    }
    free_slow_untraced(p, func);
}

static void free_slow_untraced(void *p, const char *func) {
    if (p == NULL) return;
    uintptr_t a = (uintptr_t)p;
    uint8_t kind = map_kind(a);
    if (kind == MAP_SEG) {
        page_t *pg = page_of(a);
        if (pg->cls == EXT_CLS) {
            extent_free(pg, a, func);
            return;
        }
        block_t *b = live_block_checked(a, &pg, func);
        free_remote(pg, b);
        return;
    }
    if (kind == MAP_LARGE_HERE || kind == MAP_LARGE_PREV) {
        large_free(a, kind, func);
        return;
    }
    brisk_fatal(func, "invalid pointer", p);
}

size_t usable_size_checked(void *p, const char *func) {
    if (p == NULL) return 0;
    uintptr_t a = (uintptr_t)p;
    uint8_t kind = map_kind(a);
    if (kind == MAP_SEG) {
        page_t *pg = page_of(a);
        if (pg->cls == EXT_CLS) return extent_usable(pg, a, func);
        uintptr_t start = (uintptr_t)live_block_checked(a, &pg, func);   /* a freed block: abort */
        if (brisk_opt.secure) return secure_usable(pg, (block_t *)start, a, func);
        return pg->bsize - (a - start);
    }
    if (kind == MAP_LARGE_HERE || kind == MAP_LARGE_PREV) return large_usable(a, kind, func);
    brisk_fatal(func, "invalid pointer", p);
}
