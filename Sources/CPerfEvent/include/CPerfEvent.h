// The small part of Perch that Swift cannot express: the variadic syscall,
// ioctl request numbers built by macros, acquire/release accesses to the ring
// buffer's control page, capget, and the fork/exec child (which must only call
// async-signal-safe functions, so it cannot run Swift code).
#ifndef PERCH_CPERFEVENT_H
#define PERCH_CPERFEVENT_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/perf_event.h>

/// perf_event_open(2). Returns the fd, or -1 with errno set.
int perch_perf_event_open(const void *attr, pid_t pid, int cpu, int group_fd, unsigned long flags);

int perch_event_enable(int fd);
int perch_event_disable(int fd);
int perch_event_reset(int fd);
int perch_event_set_period(int fd, uint64_t period);
int perch_event_set_output(int fd, int target_fd);
int perch_event_id(int fd, uint64_t *id);

/// Acquire load of a 64-bit word (the ring buffer's data_head).
uint64_t perch_load_acquire_u64(const void *address);
/// Release store of a 64-bit word (the ring buffer's data_tail).
void perch_store_release_u64(void *address, uint64_t value);

/// Effective and permitted capability sets (64 bits each) of this thread.
int perch_capget(uint64_t *effective, uint64_t *permitted);

/// Forks a child that waits until `perch_release_child` is called, then execvp()s
/// `file` with `argv`. Returns the pid, or -1 with errno set. `control_fd` receives
/// the parent's end of the start pipe; `error_fd` the end that reports exec failures.
pid_t perch_spawn_paused(const char *file, char *const argv[], int *control_fd, int *error_fd);
/// Lets the paused child exec. Returns 0 when exec succeeded, else the child's errno
/// (the child has then exited with status 127).
int perch_release_child(int control_fd, int error_fd);

/// Installs SIGINT/SIGTERM/SIGHUP handlers (without SA_RESTART) that only count the signals,
/// for the rest of the process: a stop signal during the final output must not end it unwritten
/// (timeout(1) sends its signal twice). The third stop signal ends the process as the signal does.
void perch_install_stop_handler(void);
/// The number of stop signals received so far.
int perch_stop_requested(void);
/// The first stop signal received (SIGINT, SIGTERM or SIGHUP), 0 before any.
int perch_stop_signal(void);

/// pidfd_open(2); -1 with errno when unsupported.
int perch_pidfd_open(pid_t pid);

/// fcntl(F_SETOWN_EX, F_OWNER_TID) and fcntl(F_SETSIG) plus O_ASYNC, for signal delivery to a thread.
int perch_fd_signal_thread(int fd, pid_t tid, int signal);

/// Installs a handler for `signal` that does nothing, without SA_RESTART, so a blocking
/// system call in the receiving thread returns EINTR, and unblocks it in the calling thread.
int perch_install_interrupting_handler(int signal);

/// gettid(2).
pid_t perch_gettid(void);

/// perch top's full-screen terminal: saves the mode of `fd` and switches it to keys-at-once
/// without echo (Ctrl-C still signals; Ctrl-Z and Ctrl-\ are off), then enters the alternate
/// screen with the cursor hidden. Returns -1 when `fd` is not a terminal.
int perch_terminal_enter(int fd);
/// Leaves the alternate screen and puts the saved mode back; async-signal-safe, and does
/// nothing the second time.
void perch_terminal_restore(void);
/// Restores the terminal before dying of SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT or SIGTRAP,
/// and counts SIGWINCH (without SA_RESTART, so poll() returns).
void perch_terminal_install_handlers(void);
/// How many SIGWINCH have arrived.
int perch_terminal_resized(void);

#endif
