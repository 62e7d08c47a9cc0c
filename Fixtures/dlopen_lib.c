// A library the mixed_stacks fixture loads with dlopen after recording started.
// Built without frame pointers: -O2 -fomit-frame-pointer -shared -fPIC.
volatile unsigned long lib_sink;

__attribute__((noinline)) static void lib_spin(unsigned long n) {
    unsigned long x = lib_sink;
    for (unsigned long i = 0; i < n; i++) x = x * 2862933555777941757UL + 3037000493UL;
    lib_sink = x;
}

__attribute__((noinline)) void dl_work(int (*callback)(void)) {
    for (int i = 0; i < 40; i++) { lib_spin(20000000); callback(); }
    __asm__ volatile("");
}
