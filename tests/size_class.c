/* Every size up to the largest class maps to the smallest class that holds it; classes grow,
 * are multiples of 16 and waste at most 1/CLASS_STEPS of a block above 128 bytes. Built with
 * src/size_class.c directly (the functions are internal). */
#include "internal.h"
#include <stdio.h>

int main(void) {
    unsigned prev = 0;
    for (size_t n = 0; n <= MAX_MEDIUM; n++) {
        unsigned c = size_class(n);
        uint32_t cs = class_size(c);
        size_t need = n ? n : 1;
        if (c >= NCLASSES || cs < need || cs % 16 != 0 || (c > 0 && class_size(c - 1) >= need) || c < prev) {
            printf("size %zu: class %u of %u bytes is wrong\n", n, c, cs);
            return 1;
        }
        if (n > 128 && (cs - n) * CLASS_STEPS > cs) {
            printf("size %zu: class of %u bytes wastes more than 1/%d\n", n, cs, CLASS_STEPS);
            return 1;
        }
        prev = c;
    }
    if (size_class(MAX_MEDIUM) != NCLASSES - 1 || class_size(NCLASSES - 1) != MAX_MEDIUM) {
        printf("the last class is not %d bytes\n", MAX_MEDIUM);
        return 1;
    }
    for (unsigned c = 0; c < NCLASSES; c++)
        if (class_slots(c) < 1 || (size_t)class_slots(c) * SLOT_SIZE - SEG_HDR < class_size(c)) {
            printf("class %u: %u slots cannot hold a block\n", c, class_slots(c));
            return 1;
        }
    printf("%d classes checked for every size to %d\n", NCLASSES, MAX_MEDIUM);
    return 0;
}
