// Scheduling delay: two threads spin on a machine with two CPUs while a third sleeps 10 ms at a
// time, so each time it wakes it waits for a CPU one of the spinners holds. Runs for argv[1]
// wake-ups (default 100).
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static atomic_int done;

static void *spin(void *unused) {
    (void)unused;
    volatile unsigned long counter = 0;
    while (!atomic_load(&done)) counter++;
    return NULL;
}

static void *sleeper(void *argument) {
    int wakeups = *(int *)argument;
    struct timespec interval = {0, 10 * 1000 * 1000};
    for (int i = 0; i < wakeups; i++) {
        nanosleep(&interval, NULL);
        volatile unsigned long work = 0;
        for (int j = 0; j < 20000; j++) work += j;  // a little CPU after each wake-up
    }
    return NULL;
}

int main(int argc, char **argv) {
    int wakeups = argc > 1 ? atoi(argv[1]) : 100;
    pthread_t spinners[2], sleeping;
    for (int i = 0; i < 2; i++) pthread_create(&spinners[i], NULL, spin, NULL);
    pthread_create(&sleeping, NULL, sleeper, &wakeups);
    pthread_join(sleeping, NULL);
    atomic_store(&done, 1);
    for (int i = 0; i < 2; i++) pthread_join(spinners[i], NULL);
    return 0;
}
