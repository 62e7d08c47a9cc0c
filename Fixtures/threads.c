// Multi-threaded fixture: N named threads (worker-0 .. worker-N-1) spin for a while, or
// forever with "forever" (for attach tests). Usage: threads N SECONDS|forever
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double seconds = 1.0;
static int forever = 0;
volatile unsigned long sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

__attribute__((noinline)) void thread_spin(void) {
    unsigned long x = sink;
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005UL + 1;
    sink = x;
}

static void *worker(void *arg) {
    char name[16];
    snprintf(name, sizeof name, "worker-%ld", (long)arg);
    pthread_setname_np(pthread_self(), name);
    double end = now() + seconds;
    while (forever || now() < end) {
        thread_spin();
        if (forever) usleep(20000);  // many threads, about one CPU between them
    }
    return NULL;
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2) {
        if (strcmp(argv[2], "forever") == 0) forever = 1; else seconds = atof(argv[2]);
    }
    pthread_t *threads = calloc(count, sizeof *threads);
    for (long i = 0; i < count; i++) pthread_create(&threads[i], NULL, worker, (void *)i);
    if (forever) { printf("ready\n"); fflush(stdout); }
    for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
    return 0;
}
