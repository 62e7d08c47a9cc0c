#define _GNU_SOURCE
#include "CInProcessSampler.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

enum { SLOT_FREE = 0, SLOT_WRITING = 1, SLOT_READY = 2 };
enum { MAX_RANGES = 8192 };

static uint8_t *buffer;
static size_t buffer_bytes;
static _Atomic uint32_t *states;
static size_t slots;
static size_t stride;
static size_t stack_capacity;

// Two tables: the handler reads the published one while the next is written into the other.
static uint64_t range_starts[2][MAX_RANGES];
static uint64_t range_ends[2][MAX_RANGES];
static size_t range_counts[2];
static atomic_int published_ranges;

static atomic_uint_fast64_t claim_cursor;
static atomic_uint_fast64_t lost;
static atomic_uint_fast64_t unknown_stacks;
static atomic_int active;
static atomic_int inflight;
static int installed_signal;

static perch_sample *slot_sample(size_t slot) { return (perch_sample *)(buffer + slot * stride); }

int perch_sampler_configure(size_t slot_count, size_t stack_bytes) {
    if (atomic_load(&active)) return EBUSY;
    perch_sampler_release_buffer();
    if (slot_count == 0 || stack_bytes % 8 != 0) return EINVAL;
    size_t header = (sizeof(perch_sample) + 15) & ~(size_t)15;
    size_t one = header + stack_bytes;
    if (slot_count > SIZE_MAX / one) return EOVERFLOW;
    size_t total = one * slot_count + slot_count * sizeof(uint32_t);
    void *memory = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return errno;
    buffer = memory;
    buffer_bytes = total;
    stride = one;
    slots = slot_count;
    stack_capacity = stack_bytes;
    states = (_Atomic uint32_t *)(buffer + one * slot_count);
    atomic_store(&claim_cursor, 0);
    atomic_store(&lost, 0);
    atomic_store(&unknown_stacks, 0);
    return 0;
}

size_t perch_sampler_set_ranges(const uint64_t *starts, const uint64_t *ends, size_t count) {
    if (count > MAX_RANGES) count = MAX_RANGES;
    int next = 1 - atomic_load(&published_ranges);
    // A handler that started before the previous swap may still read this table: wait it out.
    while (atomic_load(&inflight) > 0) sched_yield();
    for (size_t i = 0; i < count; i++) {
        range_starts[next][i] = starts[i];
        range_ends[next][i] = ends[i];
    }
    range_counts[next] = count;
    atomic_store(&published_ranges, next);
    return count;
}

/// The end of the range holding `address`, 0 when none does (binary search, no locks).
static uint64_t range_end(uint64_t address) {
    int table = atomic_load(&published_ranges);
    const uint64_t *range_starts_ = range_starts[table], *range_ends_ = range_ends[table];
    size_t range_count = range_counts[table];
    size_t low = 0, high = range_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (range_ends_[middle] <= address) low = middle + 1; else high = middle;
    }
    if (low < range_count && range_starts_[low] <= address && address < range_ends_[low]) return range_ends_[low];
    return 0;
}

static void capture_registers(uint64_t *registers, const ucontext_t *context) {
#if defined(__x86_64__)
    const greg_t *g = context->uc_mcontext.gregs;
    registers[0] = (uint64_t)g[REG_RAX];
    registers[1] = (uint64_t)g[REG_RBX];
    registers[2] = (uint64_t)g[REG_RCX];
    registers[3] = (uint64_t)g[REG_RDX];
    registers[4] = (uint64_t)g[REG_RSI];
    registers[5] = (uint64_t)g[REG_RDI];
    registers[6] = (uint64_t)g[REG_RBP];
    registers[7] = (uint64_t)g[REG_RSP];
    registers[8] = (uint64_t)g[REG_RIP];
    registers[9] = (uint64_t)g[REG_EFL];
    registers[10] = (uint64_t)g[REG_CSGSFS] & 0xffff;
    registers[11] = ((uint64_t)g[REG_CSGSFS] >> 48) & 0xffff;
    registers[12] = (uint64_t)g[REG_R8];
    registers[13] = (uint64_t)g[REG_R9];
    registers[14] = (uint64_t)g[REG_R10];
    registers[15] = (uint64_t)g[REG_R11];
    registers[16] = (uint64_t)g[REG_R12];
    registers[17] = (uint64_t)g[REG_R13];
    registers[18] = (uint64_t)g[REG_R14];
    registers[19] = (uint64_t)g[REG_R15];
#elif defined(__aarch64__)
    for (int i = 0; i < 31; i++) registers[i] = context->uc_mcontext.regs[i];
    registers[31] = context->uc_mcontext.sp;
    registers[32] = context->uc_mcontext.pc;
#else
#error "the in-process sampler supports x86_64 and aarch64"
#endif
}

static uint64_t stack_pointer(const uint64_t *registers) {
#if defined(__aarch64__)
    return registers[31];
#else
    return registers[7];
#endif
}

/// Async-signal-safe only: atomics, memcpy, clock_gettime and raw system calls.
static void capture(const siginfo_t *info, void *context) {
    uint64_t cursor = atomic_fetch_add(&claim_cursor, 1);
    size_t slot = (size_t)(cursor % slots);
    uint32_t expected = SLOT_FREE;
    if (!atomic_compare_exchange_strong(&states[slot], &expected, SLOT_WRITING)) {
        atomic_fetch_add(&lost, 1);
        return;
    }
    perch_sample *sample = slot_sample(slot);
    sample->tid = (int32_t)syscall(SYS_gettid);
    unsigned cpu = 0;
    syscall(SYS_getcpu, &cpu, NULL, NULL);
    sample->cpu = cpu;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    sample->time = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    int overrun = info->si_code == SI_TIMER ? info->si_overrun : 0;
    sample->expirations = 1 + (uint64_t)(overrun > 0 ? overrun : 0);
    capture_registers(sample->registers, (const ucontext_t *)context);
    uint64_t sp = stack_pointer(sample->registers);
    uint64_t end = range_end(sp);
    uint64_t size = 0;
    if (end > sp) {
        size = end - sp;
        if (size > stack_capacity) size = stack_capacity;
        memcpy((uint8_t *)sample + (stride - stack_capacity), (const void *)(uintptr_t)sp, (size_t)size);
    } else {
        atomic_fetch_add(&unknown_stacks, 1);
    }
    sample->stack_size = size;
    atomic_store_explicit(&states[slot], SLOT_READY, memory_order_release);
}

static void on_signal(int signal, siginfo_t *info, void *context) {
    (void)signal;
    int saved = errno;
    atomic_fetch_add(&inflight, 1);
    if (atomic_load(&active) && buffer != NULL) capture(info, context);
    atomic_fetch_sub(&inflight, 1);
    errno = saved;
}

int perch_sampler_install(int signal) {
    if (installed_signal == signal) return 0;
    if (installed_signal != 0) return EBUSY;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&action.sa_mask);
    if (sigaction(signal, &action, NULL) != 0) return errno;
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, signal);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    installed_signal = signal;
    return 0;
}

void perch_sampler_set_active(int on) {
    atomic_store(&active, on ? 1 : 0);
    if (on) return;
    while (atomic_load(&inflight) > 0) sched_yield();
}

int perch_sampler_create_timer(pid_t tid, long interval_ns, int signal, timer_t *timer) {
    // The kernel's CPU clock of one thread: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED).
    clockid_t clock = (clockid_t)((~(unsigned)tid) << 3) | 6;
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = signal;
    event.sigev_notify_thread_id = tid;
    if (timer_create(clock, &event, timer) != 0) return errno;
    struct itimerspec spec;
    spec.it_interval.tv_sec = interval_ns / 1000000000L;
    spec.it_interval.tv_nsec = interval_ns % 1000000000L;
    spec.it_value = spec.it_interval;
    if (timer_settime(*timer, 0, &spec, NULL) != 0) {
        int failure = errno;
        timer_delete(*timer);
        return failure;
    }
    return 0;
}

const perch_sample *perch_sampler_ready(size_t slot) {
    if (slot >= slots) return NULL;
    if (atomic_load_explicit(&states[slot], memory_order_acquire) != SLOT_READY) return NULL;
    return slot_sample(slot);
}

const uint8_t *perch_sampler_stack(const perch_sample *sample) {
    return (const uint8_t *)sample + (stride - stack_capacity);
}

void perch_sampler_release(size_t slot) {
    if (slot < slots) atomic_store_explicit(&states[slot], SLOT_FREE, memory_order_release);
}

size_t perch_sampler_slot_count(void) { return slots; }
uint64_t perch_sampler_lost(void) { return atomic_load(&lost); }
uint64_t perch_sampler_unknown_stacks(void) { return atomic_load(&unknown_stacks); }

void perch_sampler_release_buffer(void) {
    if (buffer == NULL || atomic_load(&active)) return;
    while (atomic_load(&inflight) > 0) sched_yield();
    munmap(buffer, buffer_bytes);
    buffer = NULL;
    states = NULL;
    slots = 0;
}

pid_t perch_sampler_gettid(void) { return (pid_t)syscall(SYS_gettid); }

void perch_sampler_name_thread(const char *name) { prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
