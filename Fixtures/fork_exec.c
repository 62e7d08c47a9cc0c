// Fork+exec fixture: forks a child that spins as "child-spin", then execs ITSELF with "exec"
// so the exec'd image runs as its own comm. Usage: fork_exec [exec]
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

volatile unsigned long sink;

__attribute__((noinline)) void spin(long n) {
    unsigned long x = sink;
    for (long i = 0; i < n; i++) x = x * 6364136223846793005UL + 1;
    sink = x;
}

__attribute__((noinline)) void parent_work(void) { spin(1000000000); }
__attribute__((noinline)) void child_work(void) { spin(1000000000); }
__attribute__((noinline)) void exec_work(void) { spin(1000000000); }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        exec_work();
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_NAME, "child-spin");
        child_work();
        char *args[] = { argv[0], "exec", NULL };
        execv("/proc/self/exe", args);
        _exit(127);
    }
    parent_work();
    int status;
    waitpid(pid, &status, 0);
    return 0;
}
