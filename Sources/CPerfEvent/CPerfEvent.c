#define _GNU_SOURCE
#include "CPerfEvent.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

int perch_perf_event_open(const void *attr, pid_t pid, int cpu, int group_fd, unsigned long flags) {
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

int perch_event_enable(int fd) { return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); }
int perch_event_disable(int fd) { return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); }
int perch_event_reset(int fd) { return ioctl(fd, PERF_EVENT_IOC_RESET, 0); }
int perch_event_set_period(int fd, uint64_t period) { return ioctl(fd, PERF_EVENT_IOC_PERIOD, &period); }
int perch_event_set_output(int fd, int target_fd) { return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, target_fd); }
int perch_event_id(int fd, uint64_t *id) { return ioctl(fd, PERF_EVENT_IOC_ID, id); }

uint64_t perch_load_acquire_u64(const void *address) {
    return __atomic_load_n((const uint64_t *)address, __ATOMIC_ACQUIRE);
}

void perch_store_release_u64(void *address, uint64_t value) {
    __atomic_store_n((uint64_t *)address, value, __ATOMIC_RELEASE);
}

int perch_capget(uint64_t *effective, uint64_t *permitted) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    *effective = (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
    *permitted = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    return 0;
}

pid_t perch_spawn_paused(const char *file, char *const argv[], int *control_fd, int *error_fd) {
    int start[2], report[2];
    if (pipe2(start, O_CLOEXEC) != 0) return -1;
    if (pipe2(report, O_CLOEXEC) != 0) { close(start[0]); close(start[1]); return -1; }
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(start[0]); close(start[1]); close(report[0]); close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here on.
        close(start[1]);
        close(report[0]);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGHUP, &dfl, NULL);
        sigaction(SIGPIPE, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        char go;
        ssize_t n;
        do { n = read(start[0], &go, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(127);  // the parent gave up before starting us
        execvp(file, argv);
        int failure = errno;
        ssize_t ignored = write(report[1], &failure, sizeof failure);
        (void)ignored;
        _exit(127);
    }
    close(start[0]);
    close(report[1]);
    *control_fd = start[1];
    *error_fd = report[0];
    return pid;
}

int perch_release_child(int control_fd, int error_fd) {
    char go = 1;
    ssize_t n;
    do { n = write(control_fd, &go, 1); } while (n < 0 && errno == EINTR);
    close(control_fd);
    int failure = 0;
    ssize_t got;
    do { got = read(error_fd, &failure, sizeof failure); } while (got < 0 && errno == EINTR);
    close(error_fd);
    return got == (ssize_t)sizeof failure ? failure : 0;
}

static volatile sig_atomic_t stop_count = 0;
static volatile sig_atomic_t first_stop_signal = 0;

static void on_stop_signal(int signal) {
    if (first_stop_signal == 0) first_stop_signal = signal;
    stop_count += 1;
    // The first stops the recording; a second may be the same one again (timeout(1) signals its
    // child, then its whole process group). A third means the user insists: end at once.
    if (stop_count >= 3) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(signal, &dfl, NULL);
        raise(signal);
    }
}

int perch_stop_signal(void) { return first_stop_signal; }

void perch_install_stop_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: poll() must return EINTR
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    // A parent may have left these blocked (test runners do); Perch must still see them.
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &stops, NULL);
}

int perch_stop_requested(void) { return stop_count; }

int perch_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int perch_fd_signal_thread(int fd, pid_t tid, int signal) {
    struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = tid };
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    if (fcntl(fd, F_SETFL, flags | O_ASYNC) != 0) return -1;
    if (fcntl(fd, F_SETOWN_EX, &owner) != 0) return -1;
    if (fcntl(fd, F_SETSIG, signal) != 0) return -1;
    return 0;
}

pid_t perch_gettid(void) { return (pid_t)syscall(SYS_gettid); }

static void on_interrupting_signal(int signal) { (void)signal; }

int perch_install_interrupting_handler(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupting_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    if (sigaction(signal, &action, NULL) != 0) return -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
