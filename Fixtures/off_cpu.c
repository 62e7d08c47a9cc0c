// Off-CPU fixture: per round, the main thread sleeps 30 ms in sleep_long, 10 ms in
// sleep_short, and blocks about 20 ms in wait_for_pipe, reading a pipe that a helper thread
// answers late. Expected blocked time: 3:1:2. Usage: off_cpu [ROUNDS]   (default 15)
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int request[2], reply[2];

static void sleep_ms(long ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) != 0) {}
}

__attribute__((noinline)) void sleep_long(void) { sleep_ms(30); __asm__ volatile(""); }
__attribute__((noinline)) void sleep_short(void) { sleep_ms(10); __asm__ volatile(""); }

__attribute__((noinline)) void wait_for_pipe(void) {
    char byte = 1;
    if (write(request[1], &byte, 1) != 1) abort();
    if (read(reply[0], &byte, 1) != 1) abort();
    __asm__ volatile("");
}

static void *helper(void *unused) {
    (void)unused;
    char byte;
    while (read(request[0], &byte, 1) == 1) {
        sleep_ms(20);
        if (write(reply[1], &byte, 1) != 1) abort();
    }
    return NULL;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    if (pipe(request) != 0 || pipe(reply) != 0) return 1;
    pthread_t thread;
    pthread_create(&thread, NULL, helper, NULL);
    for (int i = 0; i < rounds; i++) {
        sleep_long();
        sleep_short();
        wait_for_pipe();
    }
    return 0;
}
