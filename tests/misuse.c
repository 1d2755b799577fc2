/* The misuse catalogue of issue 4 for brisk's default mode (and secure mode, when run with
 * BRISK_OPTIONS=secure=1): every kind of heap misuse, tried through free, realloc and
 * malloc_usable_size on blocks of every size region (small <= 1 KiB,
 * medium <= 256 KiB, large above, and aligned blocks), each in its own child process.
 *
 * A misuse is caught when the child dies by SIGABRT after brisk printed
 * "brisk: FUNC(): WHAT 0xPTR" naming the function called and the pointer passed (and, for a
 * double free of a small or medium block, WHAT says "double free"). Other promises of the
 * catalogue are checked the same way, a child each: impossibly large requests (NULL + ENOMEM,
 * the old block of a realloc intact), memory never executable (/proc/self/maps), zero-size
 * blocks (unique, freeable), and a use-after-free or overflow write into a freed block must not
 * steer a later malloc to an address of the attacker's choice.
 *
 * What cannot be caught in default mode, and so is not tried: freeing a stale pointer whose
 * memory now belongs to a new live block (the address is that block's start; brisk catches the
 * second free of that address, which R_DOUBLE_REUSED tries).
 *
 * Cases the library does not meet yet are listed in known_gap() with the reason; `misuse suite`
 * leaves them out, `misuse gaps` runs only them (and fails while they are not caught).
 *
 *   misuse suite | all | gaps | ROWKEY   [-v]
 * Prints one line per failure (every case with -v) and the table of tries and catches. */
#include "child.h"

#include <alloca.h>
#include <pthread.h>
#include <sys/mman.h>

/* ---- the blocks misused --------------------------------------------------------------- */

struct shape {
    const char *region;
    size_t size, align; /* align 0: malloc */
    int large;          /* served by its own mapping */
};
static const struct shape shapes[] = {
    {"small", 16, 0, 0},          {"small", 100, 0, 0},          {"small", 1000, 0, 0},
    {"medium", 1500, 0, 0},       {"medium", 20000, 0, 0},       {"medium", 200 * KiB, 0, 0},
    {"large", 300 * KiB, 0, 1},   {"large", 2 * MiB, 0, 1},      {"large", 40 * MiB, 0, 1},
    {"aligned", 100, 64, 0},      {"aligned", 5000, 4096, 0},    {"aligned", 600 * KiB, MiB, 1},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static void *alloc_shape(const struct shape *s)
{
    unsigned char *p = s->align ? aligned_alloc(s->align, s->size) : malloc(s->size);
    CHECK(p != NULL, "allocating %zu bytes (align %zu)", s->size, s->align);
    memset(p, 0x5a, s->size < 64 * KiB ? s->size : 64 * KiB);
    touch_pages(p, s->size);
    return p;
}

/* ---- the calls misused ----------------------------------------------------------------- */

enum op { OP_FREE, OP_REALLOC, OP_USABLE, NOPS };
static const char *const op_func[NOPS] = {"free", "realloc", "malloc_usable_size"};

enum { EXIT_RETURNED = 3, EXIT_NOT_APPLICABLE = 4, EXIT_STEERED = 5 };

/* Tells the parent the pointer, makes the bad call; brisk should not return. */
__attribute__((noreturn)) static void misuse(enum op op, void *p)
{
    child_tell(p);
    p = opaque_ptr(p);
    if (op == OP_FREE)
        free(p);
    else if (op == OP_REALLOC)
        (void)opaque_ptr(realloc(p, 200));
    else
        (void)opaque_size(malloc_usable_size(p));
    _exit(EXIT_RETURNED);
}

/* ---- the catalogue --------------------------------------------------------------------- */

enum row {
    R_DOUBLE_IMMEDIATE, R_DOUBLE_DELAYED, R_DOUBLE_INTERLEAVED, R_DOUBLE_REMOTE, R_DOUBLE_REUSED,
    R_INTERIOR, R_UNALIGNED, R_JUST_PAST, R_FAR, R_STACK, R_ALLOCA, R_GLOBAL, R_FOREIGN,
    R_WILD, R_ZERO_DOUBLE, R_UAF_STEER, R_OVERFLOW_STEER, R_HUGE, R_EXEC, R_ZERO_UNIQUE, NROWS
};

enum verdict {
    V_ABORT,   /* SIGABRT and brisk's line naming the call and the pointer */
    V_CLEAN,   /* exit 0: the child checked the promise itself */
    V_NOSTEER, /* exit 0 (never steered) or SIGABRT with a brisk line */
};

struct caseid {
    enum row row;
    int v;  /* variant: shape * per_shape + k for the per-shape rows */
    enum op op;
};

struct rowdef {
    const char *key, *title;
    int per_shape;  /* > 0: variants are shape x this; else `variants` of its own */
    int variants;
    int with_ops;   /* tried through free, realloc and malloc_usable_size */
    enum verdict verdict;
    void (*child)(const struct caseid *c);
};

static const struct rowdef rows[NROWS];

static const struct shape *shape_of(const struct caseid *c)
{
    return &shapes[c->v / rows[c->row].per_shape];
}

static int sub_of(const struct caseid *c) { return c->v % rows[c->row].per_shape; }

/* --- double frees --- */

static void c_double_immediate(const struct caseid *c)
{
    void *p = alloc_shape(shape_of(c));
    free(p);
    misuse(c->op, p);
}

/* 20,000 calls of other size classes (and a trim) between the free and the second free; a
 * neighbour of the same shape stays live so the page cannot be given back meanwhile. */
static void c_double_delayed(const struct caseid *c)
{
    const struct shape *s = shape_of(c);
    void *keep = alloc_shape(s), *p = alloc_shape(s);
    free(p);
    static const size_t other[] = {40, 520, 3000, 50000};
    void *slot[64] = {0};
    struct rng r = {(uint64_t)c->v};
    for (int i = 0; i < 20000; i++) {
        size_t k = (size_t)rng_below(&r, 64);
        free(slot[k]);
        size_t n = i % 997 == 0 && !s->large ? 5 * MiB : other[rng_below(&r, 4)];
        slot[k] = malloc(n);
        CHECK(slot[k] != NULL);
        if (i == 10000)
            malloc_trim(0);
    }
    misuse(c->op, p);
    free(keep);
}

static void c_double_interleaved(const struct caseid *c)
{
    void *a = alloc_shape(shape_of(c)), *b = alloc_shape(shape_of(c));
    free(a);
    free(b);
    misuse(c->op, a);
}

static void c_double_remote(const struct caseid *c)
{
    void *p = alloc_shape(shape_of(c));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, t_free_it, p) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    misuse(c->op, p);
}

/* a is freed, allocations of its shape go on until one returns a's address again (b), the stale
 * pointer a is freed (brisk cannot tell: it is b's address), then b is freed: that second free
 * of the address is what must be caught. Shapes that never hand the address out again (mappings
 * unmapped at free) free the stale pointer of a released block instead. */
static void c_double_reused(const struct caseid *c)
{
    const struct shape *s = shape_of(c);
    void *a = alloc_shape(s);
    free(a);
    int tries = s->large ? 4 : 8192;
    for (int i = 0; i < tries; i++) {
        void *b = alloc_shape(s); /* the others stay live: the page must hand out a again */
        if ((uintptr_t)opaque_ptr(b) == (uintptr_t)a) {
            t_dprintf(2, "(address handed out again after %d allocations)\n", i + 1);
            free(a);
            misuse(c->op, b);
        }
    }
    misuse(c->op, a);
}

/* --- pointers brisk did not hand out --- */

static void c_interior(const struct caseid *c)
{
    const struct shape *s = shape_of(c);
    unsigned char *p = alloc_shape(s);
    size_t u = malloc_usable_size(p);
    intptr_t off[] = {16, (intptr_t)((u / 2) & ~(size_t)15), (intptr_t)u - 16, -16};
    intptr_t o = off[sub_of(c)];
    /* p - 16 is another block's when p is a plain small or medium block: not a misuse there */
    if ((o > 0 && (size_t)o >= u) || o == 0 || (o < 0 && !s->large && !s->align))
        _exit(EXIT_NOT_APPLICABLE);
    misuse(c->op, p + o);
}

static void c_unaligned(const struct caseid *c)
{
    unsigned char *p = alloc_shape(shape_of(c));
    misuse(c->op, p + (sub_of(c) == 0 ? 1 : 8));
}

/* p + size (inside the block unless size fills it) and p + usable size (the next block's
 * place, which was never handed out, or the end of a mapping). */
static void c_just_past(const struct caseid *c)
{
    unsigned char *p = alloc_shape(shape_of(c));
    size_t u = malloc_usable_size(p), n = shape_of(c)->size;
    if (sub_of(c) == 0 && n == u)
        _exit(EXIT_NOT_APPLICABLE);
    misuse(c->op, p + (sub_of(c) == 0 ? n : u));
}

static void c_far(const struct caseid *c)
{
    unsigned char *p = alloc_shape(shape_of(c));
    uintptr_t a = (uintptr_t)p;
    uintptr_t far[] = {a + ((uintptr_t)1 << 30), a - ((uintptr_t)1 << 30), a ^ ((uintptr_t)1 << 44)};
    misuse(c->op, (void *)far[sub_of(c)]);
}

__attribute__((noinline)) static void deep_stack(int depth, enum op op)
{
    char buf[512] __attribute__((aligned(64)));
    memset(buf, depth, sizeof buf);
    if (depth == 0)
        misuse(op, buf + 64);
    static void (*volatile next)(int, enum op) = deep_stack; /* a frame each, no tail call */
    next(depth - 1, op);
    (void)opaque_ptr(buf);
}

static void *thread_stack(void *arg)
{
    char buf[256] __attribute__((aligned(16)));
    memset(buf, 7, sizeof buf);
    misuse(*(enum op *)arg, buf);
    return NULL;
}

static void c_stack(const struct caseid *c)
{
    char buf[256] __attribute__((aligned(16)));
    memset(buf, 1, sizeof buf);
    if (c->v == 0)
        misuse(c->op, buf + 16);
    if (c->v == 1)
        deep_stack(20, c->op);
    pthread_t t;
    enum op op = c->op;
    CHECK(pthread_create(&t, NULL, thread_stack, &op) == 0);
    pthread_join(t, NULL);
}

static void c_alloca(const struct caseid *c)
{
    static const size_t n[] = {16, 100, 5000, 300 * KiB};
    unsigned char *p = alloca(n[c->v]);
    memset(p, 3, n[c->v]);
    misuse(c->op, p);
}

static char g_bss[8192] __attribute__((aligned(4096)));
static char g_data[256] __attribute__((aligned(64))) = "initialised";
static const char g_rodata[64] __attribute__((aligned(64))) = "read-only";

static void c_global(const struct caseid *c)
{
    void *p[] = {g_bss, g_bss + 4096, g_data, (void *)g_rodata, (void *)(uintptr_t)&c_global};
    misuse(c->op, p[c->v]);
}

/* memory that is mapped, but not by brisk: an mmap (start and inside), the environment, and a
 * page mapped right after a freed zero-size block with a 4 MiB alignment (whose pointer is the
 * end of its own mapping) */
static void c_foreign(const struct caseid *c)
{
    if (c->v == 3)
        misuse(c->op, getenv("PATH") ? getenv("PATH") : (char *)"x");
    if (c->v == 4) {
        void *z = aligned_alloc(4 * MiB, 0);
        CHECK(z != NULL);
        free(z);
        void *m = mmap(z, 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (m != z)
            _exit(EXIT_NOT_APPLICABLE); /* the place was taken: nothing to try */
        misuse(c->op, m);
    }
    size_t len = c->v == 2 ? 8 * MiB : 64 * KiB;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    memset(m, 0x42, 4096);
    misuse(c->op, c->v == 1 ? m + 256 : m);
}

static void c_wild(const struct caseid *c)
{
    static const uintptr_t w[] = {0x10000, ((uintptr_t)1 << 47) + 0x1000, 0xdead000000000010ULL,
                                  (uintptr_t)-16, 16, 0x7ffffffff000ULL};
    misuse(c->op, (void *)w[c->v]);
}

static void c_zero_double(const struct caseid *c)
{
    void *p = c->v == 0 ? malloc(0) : c->v == 1 ? calloc(0, 0) : aligned_alloc(64, 0);
    CHECK(p != NULL);
    free(p);
    misuse(c->op, p);
}

/* --- a write into a freed block must not steer malloc --- */

static int cmp_ptr(const void *a, const void *b);

static char steer_target[64 * KiB] __attribute__((aligned(4096)));

/* Fills pages with blocks of the shape, frees one in a full page and lets `corrupt` write the
 * target's address where that block keeps its free-list link; then allocates on until the page
 * has been used again. Exit 0: never steered; EXIT_STEERED: malloc returned the target. */
static void steer(const struct shape *s, int overflow)
{
    enum { CAP = 20000 };
    static unsigned char *blk[3 * CAP];
    size_t u = malloc_usable_size(opaque_ptr(alloc_shape(s)));
    size_t n = 3 * 65536 / u + 64;
    if (n > CAP)
        n = CAP;
    for (size_t i = 0; i < n; i++)
        blk[i] = alloc_shape(s);
    /* the victim: for the overflow, a block whose left neighbour (in address order: the
     * allocation order may be random) ends where it starts */
    unsigned char *victim = blk[n / 4], *left = NULL;
    if (overflow) {
        static unsigned char *sorted[3 * CAP];
        memcpy(sorted, blk, n * sizeof blk[0]);
        qsort(sorted, n, sizeof sorted[0], cmp_ptr);
        size_t stride = SIZE_MAX; /* the block size: the closest two blocks are */
        for (size_t i = 0; i + 1 < n; i++)
            if ((size_t)(sorted[i + 1] - sorted[i]) < stride)
                stride = (size_t)(sorted[i + 1] - sorted[i]);
        for (size_t i = n / 4; i + 1 < n && left == NULL; i++)
            if ((size_t)(sorted[i + 1] - sorted[i]) == stride) {
                left = sorted[i];
                victim = sorted[i + 1];
            }
        CHECK(left != NULL && stride >= u, "no two adjacent blocks of %zu bytes", s->size);
    }
    free(victim);
    uintptr_t t = (uintptr_t)steer_target;
    if (overflow) /* run past the left neighbour's end, through the gap, into the freed block */
        memset(left + u, 0x41, (size_t)(victim - left) - u);
    memcpy(victim, &t, sizeof t);
    for (size_t i = 0; i < 2 * n; i++) {
        void *p = malloc(s->size);
        if ((uintptr_t)opaque_ptr(p) == t)
            _exit(EXIT_STEERED);
        CHECK(p != NULL);
    }
    _exit(0);
}

static void c_uaf_steer(const struct caseid *c) { steer(&shapes[c->v], 0); }
static void c_overflow_steer(const struct caseid *c) { steer(&shapes[c->v], 1); }

/* --- impossibly large requests: NULL + ENOMEM, nothing else changed --- */

#define HUGE_N 27

static void c_huge(const struct caseid *c)
{
    const size_t MAXP = (size_t)PTRDIFF_MAX, AS = (size_t)1 << 47;
    unsigned char *old = NULL;
    size_t oldn = 0;
    if (c->v >= 9 && c->v <= 15 && c->v != 13) {
        static const size_t on[] = {100, 20000, 2 * MiB, 2 * MiB, 0, 0, 100, 20000};
        oldn = on[c->v - 9];
        old = malloc(oldn);
        CHECK(old != NULL);
        fill_pattern(old, oldn, 77);
    }
    void *r = (void *)1, *pm = (void *)1;
    int rc = -1;
    errno = 0;
    switch (c->v) {
    case 0: r = malloc(opaque_size(SIZE_MAX)); break;
    case 1: r = malloc(opaque_size(SIZE_MAX - 4095)); break;
    case 2: r = malloc(opaque_size(MAXP)); break;
    case 3: r = malloc(opaque_size(MAXP + 1)); break;
    case 4: r = malloc(opaque_size(AS)); break;
    case 5: r = calloc(opaque_size(SIZE_MAX / 2 + 1), 2); break;
    case 6: r = calloc(opaque_size((size_t)1 << 32), (size_t)1 << 32); break;
    case 7: r = calloc(1, opaque_size(SIZE_MAX)); break;
    case 8: r = calloc(opaque_size(AS), 1); break;
    case 9: r = realloc(old, opaque_size(SIZE_MAX)); break;
    case 10: r = realloc(old, opaque_size(MAXP)); break;
    case 11: r = realloc(old, opaque_size(SIZE_MAX - 4095)); break;
    case 12: r = realloc(old, opaque_size(AS)); break;
    case 13: r = realloc(NULL, opaque_size(SIZE_MAX)); break;
    case 14: r = reallocarray(old, opaque_size(SIZE_MAX / 2 + 1), 2); break;
    case 15: r = reallocarray(old, opaque_size((size_t)1 << 24), (size_t)1 << 24); break;
    case 16: r = aligned_alloc(64, opaque_size(SIZE_MAX)); break;
    case 17: r = aligned_alloc(4096, opaque_size(SIZE_MAX - 4096)); break;
    case 18: r = aligned_alloc((size_t)1 << 21, opaque_size(AS)); break;
    case 19: rc = posix_memalign(&pm, 64, opaque_size(SIZE_MAX)); r = NULL; break;
    case 20: rc = posix_memalign(&pm, MiB, opaque_size(MAXP)); r = NULL; break;
    case 21: r = memalign(opaque_size((size_t)1 << 62), 16); break;
    case 22: r = memalign(4096, opaque_size(SIZE_MAX)); break;
    case 23: r = valloc(opaque_size(SIZE_MAX)); break;
    case 24: r = pvalloc(opaque_size(SIZE_MAX)); break;
    case 25: r = pvalloc(opaque_size(SIZE_MAX - 4095)); break;
    default: r = aligned_alloc(opaque_size((size_t)1 << 62), 1); break;
    }
    int e = errno;
    CHECK(r == NULL, "huge request #%d returned %p", c->v, r);
    if (c->v == 19 || c->v == 20)
        CHECK(rc == ENOMEM && pm == (void *)1, "posix_memalign: %d, *memptr %p", rc, pm);
    else
        CHECK(e == ENOMEM, "huge request #%d: errno %d (%s), not ENOMEM", c->v, e, strerror(e));
    if (old) {
        CHECK(check_pattern(old, oldn, 77) == (size_t)-1, "the block of a failed realloc changed");
        free(old);
    }
    void *ok = malloc(100);
    CHECK(ok != NULL, "malloc(100) after a huge request failed");
    free(ok);
    _exit(0);
}

/* --- memory handed out is never executable --- */

/* The permissions of the mapping(s) covering [p, p+n) from /proc/self/maps: 1 if all are rw
 * and none is x. */
static int maps_rw_noexec(const void *p, size_t n)
{
    static char buf[1 << 20];
    CHECK(t_read_file("/proc/self/maps", buf, sizeof buf) > 0);
    uintptr_t a = (uintptr_t)p, e = a + (n ? n : 1);
    int covered = 0;
    for (char *s = buf; *s;) {
        char *end = strchr(s, '\n');
        unsigned long lo, hi;
        char perm[5];
        if (sscanf(s, "%lx-%lx %4s", &lo, &hi, perm) == 3 && lo < e && hi > a) {
            if (perm[0] != 'r' || perm[1] != 'w' || perm[2] == 'x')
                return 0;
            covered = 1;
        }
        if (!end)
            break;
        s = end + 1;
    }
    return covered;
}

static void c_exec(const struct caseid *c)
{
    void *p;
    size_t n;
    if (c->v < NSHAPES) {
        p = alloc_shape(&shapes[c->v]);
        n = shapes[c->v].size;
    } else if (c->v == NSHAPES) { /* grown by mremap */
        p = malloc(2 * MiB);
        CHECK(p != NULL);
        n = 64 * MiB;
        p = realloc(p, n);
    } else if (c->v == NSHAPES + 1) {
        n = 5 * MiB;
        p = calloc(1, n);
    } else {
        n = 3 * 4096;
        p = valloc(n);
    }
    CHECK(p != NULL);
    CHECK(maps_rw_noexec(p, n), "block %p of %zu bytes: its mapping is not rw- or is executable",
          p, n);
    _exit(0);
}

/* --- zero-size blocks: non-NULL, unique, aligned, freeable --- */

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void c_zero_unique(const struct caseid *c)
{
    enum { N = 1000 };
    static void *p[N];
    size_t align = c->v == 3 ? 64 : c->v == 4 ? 4096 : 16;
    for (int i = 0; i < N; i++) {
        switch (c->v) {
        case 0: p[i] = malloc(0); break;
        case 1: p[i] = calloc(0, 0); break;
        case 2: p[i] = realloc(NULL, 0); break;
        case 3: p[i] = aligned_alloc(64, 0); break;
        case 4: p[i] = memalign(4096, 0); break;
        default: CHECK(posix_memalign(&p[i], 32, 0) == 0); break;
        }
        CHECK(p[i] != NULL && is_aligned(p[i], align), "zero-size block #%d: %p", i, p[i]);
    }
    /* in address order, each must differ from the one before; then each is freed */
    qsort(p, N, sizeof p[0], cmp_ptr);
    for (int i = 0; i < N; i++) {
        CHECK(i == 0 || p[i] != p[i - 1], "a zero-size block was handed out twice: %p", p[i]);
        free(p[i]);
    }
    _exit(0);
}

static const struct rowdef rows[NROWS] = {
    [R_DOUBLE_IMMEDIATE] = {"double_immediate", "double free, immediate", 1, 0, 1, V_ABORT, c_double_immediate},
    [R_DOUBLE_DELAYED] = {"double_delayed", "double free after 20,000 other calls and a trim", 1, 0, 1, V_ABORT, c_double_delayed},
    [R_DOUBLE_INTERLEAVED] = {"double_interleaved", "double free, free(a) free(b) free(a)", 1, 0, 1, V_ABORT, c_double_interleaved},
    [R_DOUBLE_REMOTE] = {"double_remote", "double free, first free by another thread", 1, 0, 1, V_ABORT, c_double_remote},
    [R_DOUBLE_REUSED] = {"double_reused", "double free after the block was reused", 1, 0, 1, V_ABORT, c_double_reused},
    [R_INTERIOR] = {"interior", "interior pointer (+16, middle, end-16, -16)", 4, 0, 1, V_ABORT, c_interior},
    [R_UNALIGNED] = {"unaligned", "unaligned pointer (+1, +8)", 2, 0, 1, V_ABORT, c_unaligned},
    [R_JUST_PAST] = {"just_past", "just past a block (+size, +usable size)", 2, 0, 1, V_ABORT, c_just_past},
    [R_FAR] = {"far", "far from a block (+-1 GiB, ^16 TiB)", 3, 0, 1, V_ABORT, c_far},
    [R_STACK] = {"stack", "stack address (this frame, 20 frames down, a thread's)", 0, 3, 1, V_ABORT, c_stack},
    [R_ALLOCA] = {"alloca", "alloca block (16 B, 100 B, 5000 B, 300 KiB)", 0, 4, 1, V_ABORT, c_alloca},
    [R_GLOBAL] = {"global", "global (.bss, .data, .rodata, code)", 0, 5, 1, V_ABORT, c_global},
    [R_FOREIGN] = {"foreign", "foreign memory (mmap start, inside, 8 MiB mmap, environment, after a 4 MiB-aligned zero-size block)", 0, 5, 1, V_ABORT, c_foreign},
    [R_WILD] = {"wild", "wild pointer (low, >128 TiB, non-canonical, -16, 16, top of user space)", 0, 6, 1, V_ABORT, c_wild},
    [R_ZERO_DOUBLE] = {"zero_double", "double free of a zero-size block", 0, 3, 1, V_ABORT, c_zero_double},
    [R_UAF_STEER] = {"uaf_steer", "write after free does not steer malloc", 0, 6, 0, V_NOSTEER, c_uaf_steer},
    [R_OVERFLOW_STEER] = {"overflow_steer", "overflow into a free block does not steer malloc", 0, 6, 0, V_NOSTEER, c_overflow_steer},
    [R_HUGE] = {"huge", "impossibly large request: NULL + ENOMEM", 0, HUGE_N, 0, V_CLEAN, c_huge},
    [R_EXEC] = {"exec", "memory handed out is not executable", 0, NSHAPES + 3, 0, V_CLEAN, c_exec},
    [R_ZERO_UNIQUE] = {"zero_unique", "zero-size blocks unique and freeable (x1000)", 0, 6, 0, V_CLEAN, c_zero_unique},
};

/* Cases the current library does not meet (each reported in the hardening note); `misuse
 * suite` leaves them out so that it stays green, `misuse gaps` tries only them. */
static const char *known_gap(const struct caseid *c)
{
    (void)c;   /* none now: the three gaps found here are fixed, each case runs in the suite */
    return NULL;
}

/* ---- running and judging ------------------------------------------------------------- */

static int verbose;

static void child_entry(const void *arg) { rows[((const struct caseid *)arg)->row].child(arg); }

static void case_name(const struct caseid *c, char *buf, size_t cap)
{
    const struct rowdef *rd = &rows[c->row];
    int n = snprintf(buf, cap, "%s", rd->key);
    if (rd->per_shape) {
        const struct shape *s = shape_of(c);
        n += snprintf(buf + n, cap - (size_t)n, "/%s %zu", s->region, s->size);
        if (s->align)
            n += snprintf(buf + n, cap - (size_t)n, " align %zu", s->align);
        if (rd->per_shape > 1)
            n += snprintf(buf + n, cap - (size_t)n, " #%d", sub_of(c));
    } else if (rd->variants > 1) {
        n += snprintf(buf + n, cap - (size_t)n, " #%d", c->v);
    }
    if (rd->with_ops)
        snprintf(buf + n, cap - (size_t)n, " via %s", op_func[c->op]);
}

/* 1 caught, 0 not, -1 not applicable. */
static int judge(const struct caseid *c, const struct child_result *res, char *why, size_t cap)
{
    const struct rowdef *rd = &rows[c->row];
    why[0] = '\0';
    if (WIFEXITED(res->status) && WEXITSTATUS(res->status) == EXIT_NOT_APPLICABLE)
        return -1;
    char how[96], what[128];
    child_describe(res, how, sizeof how);
    if (rd->verdict == V_CLEAN || rd->verdict == V_NOSTEER) {
        if (WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0)
            return 1;
        if (rd->verdict == V_NOSTEER && child_aborted(res) && strstr(res->err, "brisk: "))
            return 1;
        if (WIFEXITED(res->status) && WEXITSTATUS(res->status) == EXIT_STEERED)
            snprintf(why, cap, "malloc handed out the address written into the freed block");
        else
            snprintf(why, cap, "%s", how);
        return 0;
    }
    if (!res->told) {
        snprintf(why, cap, "the child %s before the bad call", how);
        return 0;
    }
    if (WIFEXITED(res->status) && WEXITSTATUS(res->status) == EXIT_RETURNED) {
        snprintf(why, cap, "%s(%#lx) returned normally", op_func[c->op], (unsigned long)res->ptr);
        return 0;
    }
    if (!child_aborted(res)) {
        snprintf(why, cap, "%s, not SIGABRT", how);
        return 0;
    }
    if (!child_brisk_line(res, op_func[c->op], what, sizeof what)) {
        snprintf(why, cap, "no line \"brisk: %s(): ... %#lx\"", op_func[c->op], (unsigned long)res->ptr);
        return 0;
    }
    int is_double = c->row <= R_DOUBLE_REUSED || c->row == R_ZERO_DOUBLE;
    if (is_double && !(rd->per_shape && shape_of(c)->large) && strncmp(what, "double free", 11) != 0) {
        snprintf(why, cap, "reported as \"%s\", not as a double free", what);
        return 0;
    }
    return 1;
}

struct tally {
    int tried, caught, gaps, gaps_caught;
};

int main(int argc, char **argv)
{
    const char *sel = argc > 1 ? argv[1] : "suite";
    verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
    int want_gaps = strcmp(sel, "gaps") == 0 || strcmp(sel, "all") == 0;
    int want_normal = strcmp(sel, "gaps") != 0;
    int one_row = strcmp(sel, "suite") != 0 && strcmp(sel, "all") != 0 && strcmp(sel, "gaps") != 0;
    struct tally tal[NROWS];
    memset(tal, 0, sizeof tal);
    int failures = 0, ran = 0;
    for (int r = 0; r < NROWS; r++) {
        const struct rowdef *rd = &rows[r];
        if (one_row && strcmp(sel, rd->key) != 0)
            continue;
        int nv = rd->per_shape ? rd->per_shape * NSHAPES : rd->variants;
        for (int v = 0; v < nv; v++) {
            for (int op = 0; op < (rd->with_ops ? NOPS : 1); op++) {
                struct caseid c = {(enum row)r, v, (enum op)op};
                const char *gap = known_gap(&c);
                if (gap ? !(want_gaps || one_row) : !want_normal)
                    continue;
                static struct child_result res;
                child_run(child_entry, &c, &res);
                char why[256], name[160];
                int ok = judge(&c, &res, why, sizeof why);
                if (ok < 0)
                    continue;
                ran++;
                case_name(&c, name, sizeof name);
                tal[r].tried++;
                tal[r].caught += ok;
                if (gap) {
                    tal[r].gaps++;
                    tal[r].gaps_caught += ok;
                }
                if (!ok && !(gap && !one_row && strcmp(sel, "all") == 0))
                    failures++;
                if (!ok || verbose)
                    t_log("%s %s%s%s%s%s\n", ok ? "ok  " : gap ? "GAP " : "FAIL", name,
                          ok ? "" : ": ", why, gap ? " -- known: " : "", gap ? gap : "");
                if (verbose)
                    t_log("     stderr: %s", res.err[0] ? res.err : "(empty)\n");
                if (ok && gap)
                    t_log("NOTE %s was caught this time (listed as a known gap)\n", name);
            }
        }
    }
    CHECK(ran > 0, "no case selected by '%s'", sel);
    const char *opts = getenv("BRISK_OPTIONS");
    t_log("\n| misuse (%s mode) | tried | caught | of them known gaps (tried/caught) |\n|---|---:|---:|---:|\n",
          opts && strstr(opts, "secure=1") ? "secure" : "default");
    struct tally sum = {0, 0, 0, 0};
    for (int r = 0; r < NROWS; r++) {
        if (tal[r].tried == 0)
            continue;
        t_log("| %s | %d | %d | %d/%d |\n", rows[r].title, tal[r].tried, tal[r].caught,
              tal[r].gaps, tal[r].gaps_caught);
        sum.tried += tal[r].tried;
        sum.caught += tal[r].caught;
        sum.gaps += tal[r].gaps;
        sum.gaps_caught += tal[r].gaps_caught;
    }
    t_log("| **total** | %d | %d | %d/%d |\n", sum.tried, sum.caught, sum.gaps, sum.gaps_caught);
    t_log("misuse %s: %d cases, %d not caught%s\n", sel, ran, failures,
          strcmp(sel, "all") == 0 ? " (known gaps not counted)" : "");
    return failures ? 1 : 0;
}
