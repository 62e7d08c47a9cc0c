// Crashes with SIGSEGV after spinning briefly.
volatile unsigned long sink;
__attribute__((noinline)) void spin_then_crash(void) {
    unsigned long x = sink;
    for (long i = 0; i < 100000000; i++) x = x * 6364136223846793005UL + 1;
    sink = x;
    *(volatile int *)0 = 1;
}
int main(void) { spin_then_crash(); return 0; }
