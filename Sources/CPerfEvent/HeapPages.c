// Huge pages for the heap of a one-shot analysis command: glibc only advises them when
// GLIBC_TUNABLES says so at startup, so the same steps are taken here through mallopt and
// madvise, which a running process may call.
#include "CPerfEvent.h"

#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int perch_heap_prefer_huge_pages(size_t pad) {
    if (pad > (size_t)INT32_MAX / 4) return -1;
    // Blocks up to 32 MiB come from the heap, which grows `pad` at a time and keeps what is
    // freed (up to 4 pads) for the next allocation instead of giving it back page by page.
    if (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 0) return -1;
    if (mallopt(M_TOP_PAD, (int)pad) == 0) return -1;
    if (mallopt(M_TRIM_THRESHOLD, (int)(4 * pad)) == 0) return -1;
    // One allocation makes the heap grow now: by itself and the pad, in one range.
    uintptr_t before = (uintptr_t)sbrk(0);
    volatile char *block = malloc(1 << 20);
    if (block == NULL) return -1;
    block[0] = 0; // used, so the allocation is not optimised away
    uintptr_t after = (uintptr_t)sbrk(0);
    free((void *)block);
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (before + page - 1) & ~(page - 1);
    // No growth seen (the heap is not where brk is, e.g. brk failed and glibc mapped memory
    // instead): nothing is advised.
    if (before == (uintptr_t)-1 || after == (uintptr_t)-1 || after <= start) return -1;
    return madvise((void *)start, after - start, MADV_HUGEPAGE);
}
