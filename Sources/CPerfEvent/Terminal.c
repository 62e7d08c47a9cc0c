// Terminal restoring that must work inside signal handlers (perch top's full-screen view):
// the saved termios and the escape sequences live here, and only async-signal-safe calls
// (tcsetattr, write, sigaction, raise) are made from the handlers.
#define _GNU_SOURCE
#include "CPerfEvent.h"

#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_mode;
static volatile sig_atomic_t saved_fd = -1;
static volatile sig_atomic_t resize_count = 0;

// Show the cursor, leave the alternate screen, reset attributes.
static const char leave_screen[] = "\033[0m\033[?25h\033[?1049l";

int perch_terminal_enter(int fd) {
    if (tcgetattr(fd, &saved_mode) != 0) return -1;
    struct termios raw = saved_mode;
    // Keys one by one without echo; ISIG stays so Ctrl-C still sends SIGINT (the stop handler
    // ends the view and the terminal is restored), but Ctrl-Z and Ctrl-\ are off: a stopped
    // or dumped process would leave the terminal raw.
    raw.c_lflag &= ~(ICANON | ECHO | IEXTEN);
    raw.c_iflag &= ~(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    raw.c_cc[VSUSP] = _POSIX_VDISABLE;
    raw.c_cc[VQUIT] = _POSIX_VDISABLE;
    if (tcsetattr(fd, TCSAFLUSH, &raw) != 0) return -1;
    saved_fd = fd;
    static const char enter_screen[] = "\033[?1049h\033[?25l\033[H\033[2J";
    ssize_t ignored = write(fd, enter_screen, sizeof enter_screen - 1);
    (void)ignored;
    return 0;
}

void perch_terminal_restore(void) {
    int fd = saved_fd;
    if (fd < 0) return;
    saved_fd = -1;
    ssize_t ignored = write(fd, leave_screen, sizeof leave_screen - 1);
    (void)ignored;
    tcsetattr(fd, TCSAFLUSH, &saved_mode);
}

static void on_fatal_signal(int signal) {
    perch_terminal_restore();
    // SA_RESETHAND put the default action back: die of the same signal.
    raise(signal);
}

static void on_resize(int signal) {
    (void)signal;
    resize_count += 1;
}

void perch_terminal_install_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_fatal_signal;
    action.sa_flags = SA_RESETHAND | SA_NODEFER;
    int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    for (unsigned i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &action, NULL);
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_resize;
    action.sa_flags = 0;  // no SA_RESTART: the drain loop's poll() returns at once
    sigaction(SIGWINCH, &action, NULL);
}

int perch_terminal_resized(void) { return resize_count; }
