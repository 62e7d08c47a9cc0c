// Known weights: work_a, work_b and work_c do 5, 3 and 2 units of identical work per round,
// so a correct profile gives them 50%, 30% and 20% of the samples.
// Usage: known_weights [ROUNDS]   (default 200: about a second on our VMs)
// One round lasts several milliseconds, far longer than a sample period, so the sampling
// clock cannot alias with the loop.
#include <stdlib.h>

volatile unsigned long sink;

__attribute__((noinline)) void unit(void) {
    unsigned long x = sink;
    for (int i = 0; i < 4000000; i++) x = x * 2862933555777941757UL + 3037000493UL;
    sink = x;
}

// The empty asm after each loop keeps the last call from becoming a tail call, which would
// drop work_X from the stack for that call.
__attribute__((noinline)) void work_a(void) { for (int i = 0; i < 5; i++) unit(); __asm__ volatile(""); }
__attribute__((noinline)) void work_b(void) { for (int i = 0; i < 3; i++) unit(); __asm__ volatile(""); }
__attribute__((noinline)) void work_c(void) { for (int i = 0; i < 2; i++) unit(); __asm__ volatile(""); }

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    for (int r = 0; r < rounds; r++) {
        work_a();
        work_b();
        work_c();
    }
    return 0;
}
