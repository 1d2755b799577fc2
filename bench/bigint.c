/* A symbolic/numeric program with many small short-lived objects, in the style of cfrac: a
 * small big-integer library whose every result is a new heap object (a few 32-bit limbs, 16-48
 * bytes), freed as soon as the next result is made, used to factor numbers with Pollard's rho
 * (Brent's variant). Each of NUMBERS numbers is the product of three random primes of BITS bits
 * (default 28), and is factored completely; programs like this spend much of their time in
 * malloc and free of tiny blocks, nearly all of them freed in the order they came.
 *
 *   bigint NUMBERS [BITS]    (BITS from 16 to 31)
 *
 * Checks that every number's factors are the primes it was made of, and one division in 16
 * (q * d + r == n, r < d). Prints "ok ..." and exits 0 when all held; exits 1 otherwise. */
#include "bench.h"

typedef unsigned __int128 u128;

/* n limbs, least significant first, no leading zero limb; zero has n == 0. */
typedef struct big {
    int n;
    uint32_t d[];
} big;

static big *b_alloc(int n)
{
    big *b = xmalloc(sizeof(big) + sizeof(uint32_t) * (size_t)(n ? n : 1));
    b->n = n;
    return b;
}

static big *b_trim(big *b)
{
    while (b->n && !b->d[b->n - 1])
        b->n--;
    return b;
}

static big *b_u128(u128 v)
{
    big *b = b_alloc(4);
    for (int i = 0; i < 4; i++, v >>= 32)
        b->d[i] = (uint32_t)v;
    return b_trim(b);
}

static big *b_copy(const big *a)
{
    big *b = b_alloc(a->n);
    memcpy(b->d, a->d, sizeof(uint32_t) * (size_t)a->n);
    return b;
}

static int b_bits_fit(const big *a, int limbs)
{
    return a->n <= limbs;
}

static u128 b_to_u128(const big *a)
{
    u128 v = 0;
    for (int i = a->n - 1; i >= 0; i--)
        v = v << 32 | a->d[i];
    return v;
}

static int b_cmp(const big *a, const big *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static int b_is_one(const big *a)
{
    return a->n == 1 && a->d[0] == 1;
}

static big *b_add(const big *a, const big *b)
{
    if (a->n < b->n) {
        const big *t = a;
        a = b;
        b = t;
    }
    big *s = b_alloc(a->n + 1);
    uint64_t carry = 0;
    for (int i = 0; i < a->n; i++) {
        carry += (uint64_t)a->d[i] + (i < b->n ? b->d[i] : 0);
        s->d[i] = (uint32_t)carry;
        carry >>= 32;
    }
    s->d[a->n] = (uint32_t)carry;
    return b_trim(s);
}

/* a - b for a >= b. */
static big *b_sub(const big *a, const big *b)
{
    big *s = b_alloc(a->n);
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t t = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
        borrow = t < 0;
        s->d[i] = (uint32_t)(t + (borrow << 32));
    }
    return b_trim(s);
}

static big *b_absdiff(const big *a, const big *b)
{
    return b_cmp(a, b) >= 0 ? b_sub(a, b) : b_sub(b, a);
}

static big *b_mul(const big *a, const big *b)
{
    big *p = b_alloc(a->n + b->n);
    memset(p->d, 0, sizeof(uint32_t) * (size_t)p->n);
    for (int i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < b->n; j++) {
            carry += (uint64_t)a->d[i] * b->d[j] + p->d[i + j];
            p->d[i + j] = (uint32_t)carry;
            carry >>= 32;
        }
        p->d[i + b->n] = (uint32_t)carry;
    }
    return b_trim(p);
}

/* Shifts a left by s bits (0 <= s < 32) into a new number of a->n + extra limbs. */
static big *b_shl(const big *a, int s, int extra)
{
    big *r = b_alloc(a->n + extra);
    memset(r->d, 0, sizeof(uint32_t) * (size_t)r->n);
    for (int i = 0; i < a->n; i++) {
        uint64_t v = (uint64_t)a->d[i] << s;
        r->d[i] |= (uint32_t)v;
        if (i + 1 < r->n)
            r->d[i + 1] = (uint32_t)(v >> 32);
    }
    return r;
}

/* Long division (Knuth's algorithm D) on 32-bit limbs: returns the quotient, *rem the
 * remainder. The normalised copies of both numbers are short-lived objects too. */
static big *b_divmod(const big *a, const big *b, big **rem)
{
    if (b->n == 0)
        die("division by zero");
    if (b_cmp(a, b) < 0) {
        *rem = b_copy(a);
        return b_alloc(0);
    }
    int n = b->n, m = a->n;
    big *q = b_alloc(m - n + 1);
    if (n == 1) {
        uint64_t r = 0;
        for (int i = m - 1; i >= 0; i--) {
            uint64_t cur = r << 32 | a->d[i];
            if (i <= m - n)
                q->d[i] = (uint32_t)(cur / b->d[0]);
            r = cur % b->d[0];
        }
        *rem = b_u128(r);
        return b_trim(q);
    }
    int s = __builtin_clz(b->d[n - 1]);
    big *u = b_shl(a, s, 1), *v = b_shl(b, s, 0);
    const uint64_t base = 1ULL << 32;
    for (int j = m - n; j >= 0; j--) {
        uint64_t num = (uint64_t)u->d[j + n] << 32 | u->d[j + n - 1];
        uint64_t qhat = num / v->d[n - 1], rhat = num % v->d[n - 1];
        while (qhat >= base || qhat * v->d[n - 2] > (rhat << 32 | u->d[j + n - 2])) {
            qhat--;
            rhat += v->d[n - 1];
            if (rhat >= base)
                break;
        }
        int64_t k = 0, t;
        for (int i = 0; i < n; i++) {
            uint64_t p = qhat * v->d[i];
            t = (int64_t)u->d[i + j] - k - (int64_t)(p & 0xFFFFFFFFu);
            u->d[i + j] = (uint32_t)t;
            k = (int64_t)(p >> 32) - (t >> 32);
        }
        t = (int64_t)u->d[j + n] - k;
        u->d[j + n] = (uint32_t)t;
        q->d[j] = (uint32_t)qhat;
        if (t < 0) { /* qhat was one too big: add v back */
            q->d[j]--;
            uint64_t c = 0;
            for (int i = 0; i < n; i++) {
                c += (uint64_t)u->d[i + j] + v->d[i];
                u->d[i + j] = (uint32_t)c;
                c >>= 32;
            }
            u->d[j + n] += (uint32_t)c;
        }
    }
    big *r = b_alloc(n);
    for (int i = 0; i < n; i++)
        r->d[i] = u->d[i] >> s | (s ? (uint32_t)((uint64_t)u->d[i + 1] << (32 - s)) : 0);
    free(u);
    free(v);
    *rem = b_trim(r);
    return b_trim(q);
}

static long divisions;

/* One division in 16 is checked: q * b + r == a and r < b. */
static void check_division(const big *a, const big *b, const big *q, const big *r)
{
    if (divisions++ % 16)
        return;
    big *qb = b_mul(q, b), *back = b_add(qb, r);
    if (b_cmp(back, a) != 0 || b_cmp(r, b) >= 0)
        die("long division gave a wrong quotient or remainder");
    free(qb);
    free(back);
}

static big *b_mod(const big *a, const big *b)
{
    big *r, *q = b_divmod(a, b, &r);
    check_division(a, b, q, r);
    free(q);
    return r;
}

static big *b_gcd(const big *x, const big *y)
{
    big *a = b_copy(x), *b = b_copy(y);
    while (b->n) {
        big *t = b_mod(a, b);
        free(a);
        a = b;
        b = t;
    }
    free(b);
    return a;
}

/* y*y + c mod n, freeing y. */
static big *step(big *y, const big *c, const big *n)
{
    big *sq = b_mul(y, y), *s = b_add(sq, c), *r = b_mod(s, n);
    free(y);
    free(sq);
    free(s);
    return r;
}

/* q * |x - y| mod n, freeing q. */
static big *accumulate(big *q, const big *x, const big *y, const big *n)
{
    big *d = b_absdiff(x, y), *p = b_mul(q, d), *r = b_mod(p, n);
    free(q);
    free(d);
    free(p);
    return r;
}

/* A non-trivial factor of the composite n (Pollard-Brent rho). */
static big *rho(const big *n)
{
    for (u128 cv = 1;; cv++) {
        big *c = b_u128(cv), *y = b_u128(2), *q = b_u128(1), *g = b_u128(1), *x = NULL,
            *ys = NULL;
        const long m = 64;
        for (long r = 1; b_is_one(g); r *= 2) {
            free(x);
            x = b_copy(y);
            for (long i = 0; i < r; i++)
                y = step(y, c, n);
            for (long k = 0; k < r && b_is_one(g); k += m) {
                free(ys);
                ys = b_copy(y);
                for (long i = 0; i < m && i < r - k; i++) {
                    y = step(y, c, n);
                    q = accumulate(q, x, y, n);
                }
                free(g);
                g = b_gcd(q, n);
            }
        }
        if (b_cmp(g, n) == 0) { /* the product met n: go back over the last stretch one by one */
            do {
                ys = step(ys, c, n);
                big *d = b_absdiff(x, ys);
                free(g);
                g = b_gcd(d, n);
                free(d);
            } while (b_is_one(g));
        }
        free(c);
        free(y);
        free(q);
        free(x);
        free(ys);
        if (b_cmp(g, n) != 0)
            return g;
        free(g);
    }
}

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t)((u128)a * b % m);
}

/* Miller-Rabin with the bases that decide every 64-bit number. */
static int is_prime(uint64_t n)
{
    static const uint64_t bases[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 };
    if (n < 2)
        return 0;
    for (int i = 0; i < 12; i++)
        if (n % bases[i] == 0)
            return n == bases[i];
    uint64_t d = n - 1;
    int s = 0;
    for (; d % 2 == 0; s++)
        d /= 2;
    for (int i = 0; i < 12; i++) {
        uint64_t x = 1, b = bases[i], e = d;
        for (; e; e >>= 1, b = mulmod(b, b, n))
            if (e & 1)
                x = mulmod(x, b, n);
        if (x == 1 || x == n - 1)
            continue;
        int r = 1;
        for (; r < s; r++) {
            x = mulmod(x, x, n);
            if (x == n - 1)
                break;
        }
        if (r == s)
            return 0;
    }
    return 1;
}

/* Appends the prime factors of n to found (of which there are at most max). Every factor of
 * our numbers above 64 bits is composite: they are products of primes of at most 31 bits. */
static void factor(const big *n, uint64_t *found, int *nfound, int max)
{
    if (b_is_one(n))
        return;
    if (b_bits_fit(n, 2) && is_prime((uint64_t)b_to_u128(n))) {
        if (*nfound == max)
            die("more prime factors than were multiplied");
        found[(*nfound)++] = (uint64_t)b_to_u128(n);
        return;
    }
    big *g = rho(n), *r, *q = b_divmod(n, g, &r);
    if (r->n)
        die("rho returned a factor that does not divide the number");
    factor(g, found, nfound, max);
    factor(q, found, nfound, max);
    free(g);
    free(q);
    free(r);
}

static uint64_t random_prime(uint64_t *seed, int bits)
{
    for (;;) {
        uint64_t p = (rng_next(seed) >> (64 - bits)) | 1ULL << (bits - 1) | 1;
        if (is_prime(p))
            return p;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 1, "NUMBERS [BITS]");
    long numbers = arg_long(argc, argv, 1, 0);
    int bits = (int)arg_long(argc, argv, 2, 28);
    if (bits < 16 || bits > 31)
        die("BITS must be from 16 to 31");
    uint64_t seed = 0xB16B16B16ULL, checksum = 0;
    for (long i = 0; i < numbers; i++) {
        uint64_t primes[3], found[3];
        for (int k = 0; k < 3; k++)
            primes[k] = random_prime(&seed, bits);
        big *n = b_u128((u128)primes[0] * primes[1] * primes[2]);
        int nfound = 0;
        factor(n, found, &nfound, 3);
        qsort(primes, 3, sizeof primes[0], cmp_u64);
        qsort(found, (size_t)nfound, sizeof found[0], cmp_u64);
        if (nfound != 3 || memcmp(primes, found, sizeof primes) != 0)
            die("number %ld was not factored into the primes it was made of", i);
        free(n);
        checksum = checksum * 31 + found[0] + found[1] + found[2];
    }
    printf("ok bigint: %ld numbers of three %d-bit primes factored, checksum %016llx\n", numbers,
           bits, (unsigned long long)checksum);
    return 0;
}
