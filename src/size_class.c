/* Size classes: 16 bytes apart up to 128, then eight per power of two up to 256 KiB, so a block
 * wastes at most 11 % of itself (four per doubling let sqlite's 1032- and 4368-byte blocks waste
 * 24 % and 17 %: 1.19x its live bytes against 1.07x). Every class is a multiple of 16, so every
 * block is 16-aligned. */
#include "internal.h"

/* Slots (64 KiB each) per page: small classes get one; bigger ones enough for 8 blocks up to
 * 32 KiB and 4 above, so a page of big blocks is not mostly tail waste. Memory is touched only
 * as blocks are carved, so a big span costs address space, not RSS. */
unsigned class_slots(unsigned cls) {
    uint32_t bs = class_size(cls);
    if (bs <= SLOT_SIZE / 8) return 1;
    unsigned per = bs <= 32 * 1024 ? 8 : 4;
    return (unsigned)((bs * (uint64_t)per + SEG_HDR + SLOT_SIZE - 1) / SLOT_SIZE);
}
