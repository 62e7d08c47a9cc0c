// Recursion deeper than the kernel's largest user-stack copy (64 KiB): `recurse` keeps a
// 512-byte buffer per frame and goes 400 frames down (~200 KiB), spending time at every level
// on the way, at the bottom, and at shallow depth between dives.
//
// Usage: deep_recursion SECONDS [MODE]
//   MODE main     (default) main dives itself
//   MODE threads  two threads dive, from start routines named differently
//                 (thread_one_start, thread_two_start), named deep-one and deep-two
//   MODE fork     two forked children dive (identical address layouts, so identical stack
//                 addresses), from child_one_main and child_two_main, named deep-one and deep-two
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { depthLimit = 400, frameBytes = 512 };

static double seconds;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

__attribute__((noinline)) static unsigned long spin(unsigned long iterations) {
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < iterations; i++) x += i ^ (x >> 3);
    return x;
}

__attribute__((noinline)) static unsigned long recurse(int depth) {
    volatile char buffer[frameBytes];
    memset((char *)buffer, depth & 0xff, sizeof buffer);
    unsigned long sum = spin(3000);
    if (depth < depthLimit) sum += recurse(depth + 1);
    else sum += spin(2000000);  // the bottom
    return sum + buffer[depth % frameBytes];  // uses the buffer after the call: no tail call
}

__attribute__((noinline)) static unsigned long dive_until_done(void) {
    unsigned long sum = 0;
    double end = now() + seconds;
    while (now() < end) {
        sum += spin(1000000);  // shallow
        sum += recurse(0);
    }
    return sum;
}

// Keeps a caller's frame on the stack: its call to dive_until_done is not a tail call.
static unsigned long kept(unsigned long value) {
    __asm__ volatile("" : "+r"(value));
    return value;
}

__attribute__((noinline)) static void *thread_one_start(void *unused) {
    (void)unused;
    pthread_setname_np(pthread_self(), "deep-one");
    return (void *)kept(dive_until_done());
}

__attribute__((noinline)) static void *thread_two_start(void *unused) {
    (void)unused;
    pthread_setname_np(pthread_self(), "deep-two");
    return (void *)kept(dive_until_done());
}

__attribute__((noinline)) static int child_one_main(void) {
    prctl(PR_SET_NAME, "deep-one");
    return (int)(kept(dive_until_done()) & 1);
}

__attribute__((noinline)) static int child_two_main(void) {
    prctl(PR_SET_NAME, "deep-two");
    return (int)(kept(dive_until_done()) & 1);
}

int main(int argc, char **argv) {
    seconds = argc > 1 ? atof(argv[1]) : 1;
    const char *mode = argc > 2 ? argv[2] : "main";
    if (strcmp(mode, "threads") == 0) {
        pthread_t one, two;
        pthread_create(&one, NULL, thread_one_start, NULL);
        pthread_create(&two, NULL, thread_two_start, NULL);
        pthread_join(one, NULL);
        pthread_join(two, NULL);
        return 0;
    }
    if (strcmp(mode, "fork") == 0) {
        pid_t one = fork();
        if (one == 0) _exit(child_one_main());
        pid_t two = fork();
        if (two == 0) _exit(child_two_main());
        waitpid(one, NULL, 0);
        waitpid(two, NULL, 0);
        return 0;
    }
    return (int)(dive_until_done() & 1);
}
