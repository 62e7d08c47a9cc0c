// Mixed stacks for DWARF unwinding, built -O2 -fomit-frame-pointer:
//   main → load_and_call → (dlopen'd) dl_work → lib_spin, and dl_work → back_in_main (a callback)
//   main → interrupted_spin ⇒ signal ⇒ on_signal → handler_spin (through the kernel's signal frame)
// Usage: mixed_stacks LIBRARY
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

volatile unsigned long sink;
static volatile sig_atomic_t handled;

__attribute__((noinline)) static void spin(unsigned long n) {
    unsigned long x = sink;
    for (unsigned long i = 0; i < n; i++) x = x * 2862933555777941757UL + 3037000493UL;
    sink = x;
}

__attribute__((noinline)) int back_in_main(void) { spin(5000000); __asm__ volatile(""); return 0; }

__attribute__((noinline)) void handler_spin(void) { spin(1500000000); __asm__ volatile(""); }

__attribute__((noinline)) void on_signal(int signo) { (void)signo; handler_spin(); handled = 1; __asm__ volatile(""); }

// Spins until the timer's signal has been handled; the handler runs on top of this frame.
__attribute__((noinline)) void interrupted_spin(void) {
    unsigned long x = sink;
    while (!handled) x = x * 2862933555777941757UL + 3037000493UL;
    sink = x;
}

__attribute__((noinline)) void load_and_call(const char *path) {
    void *library = dlopen(path, RTLD_NOW);
    if (!library) { fprintf(stderr, "dlopen: %s\n", dlerror()); exit(2); }
    void (*work)(int (*)(void)) = (void (*)(int (*)(void)))dlsym(library, "dl_work");
    if (!work) { fprintf(stderr, "dlsym: %s\n", dlerror()); exit(2); }
    work(back_in_main);
    __asm__ volatile("");
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: mixed_stacks LIBRARY\n"); return 2; }
    spin(500000000);  // recording is well under way before the library is loaded
    load_and_call(argv[1]);
    struct sigaction action = {0};
    action.sa_handler = on_signal;
    sigaction(SIGALRM, &action, NULL);
    struct itimerval timer = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &timer, NULL);
    interrupted_spin();
    return 0;
}
