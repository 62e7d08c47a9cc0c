// Fork-heavy fixture: starts hundreds of short-lived processes, each running /bin/true or a
// function of its own (as "forkling"), then exits. Usage: fork_heavy [N]   (default 300)
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

volatile unsigned long sink;

__attribute__((noinline)) void forkling_work(void) {
    unsigned long x = sink;
    for (long i = 0; i < 3000000; i++) x = x * 6364136223846793005UL + 1;
    sink = x;
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 300;
    for (int i = 0; i < count; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (i % 2 == 0) {
                execl("/bin/true", "true", (char *)NULL);
                _exit(127);
            }
            prctl(PR_SET_NAME, "forkling");
            forkling_work();
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
    }
    return 0;
}
