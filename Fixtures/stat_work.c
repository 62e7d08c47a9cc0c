// A program with known counts for perch stat: spins for a fixed amount of its own CPU time,
// touches N fresh pages (one page fault each), and sleeps K times (one context switch each).
// Usage: stat_work [SPIN_MS] [PAGES] [SLEEPS]   (defaults 100 4000 100)
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double thread_cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double spin_ms = argc > 1 ? atof(argv[1]) : 100;
    long pages = argc > 2 ? atol(argv[2]) : 4000;
    long sleeps = argc > 3 ? atol(argv[3]) : 100;

    volatile unsigned long sink = 0;
    double end = thread_cpu_seconds() + spin_ms / 1000;
    while (thread_cpu_seconds() < end)
        for (int i = 0; i < 10000; i++) sink += i;

    long page = sysconf(_SC_PAGESIZE);
    char *memory = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return 1;
    for (long i = 0; i < pages; i++) memory[i * page] = 1;

    for (long i = 0; i < sleeps; i++) usleep(1000);
    return 0;
}
