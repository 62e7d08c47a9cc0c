#ifndef PERCH_IN_PROCESS_SAMPLER_H
#define PERCH_IN_PROCESS_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/// The registers a sample carries, in perf's `sample_regs_user` order for the host architecture
/// (x86_64: ax bx cx dx si di bp sp ip flags cs ss r8-r15, mask 0xff0fff; aarch64: x0-x30 sp pc).
#if defined(__aarch64__)
#define PERCH_SAMPLER_REGISTER_COUNT 33
#else
#define PERCH_SAMPLER_REGISTER_COUNT 20
#endif

/// One captured sample: what the kernel would put in a SAMPLE with REGS_USER and STACK_USER.
/// The copied stack bytes follow the structure in its slot.
typedef struct {
    int32_t tid;
    uint32_t cpu;
    /// CLOCK_MONOTONIC, nanoseconds.
    uint64_t time;
    /// Timer expirations this sample stands for (1 + the timer's overrun).
    uint64_t expirations;
    uint64_t registers[PERCH_SAMPLER_REGISTER_COUNT];
    /// Valid bytes of the stack copy, from the interrupted stack pointer upwards.
    uint64_t stack_size;
} perch_sample;

/// Allocates the sample buffer (`slot_count` slots with `stack_bytes` of stack each, a multiple
/// of 8) before sampling starts; the signal handler never allocates. 0 or an errno.
int perch_sampler_configure(size_t slot_count, size_t stack_bytes);

/// The memory ranges the handler may copy a stack from (readable mappings, sorted by start,
/// not overlapping). A range's `lowest` may be below `start` for a stack that grows down.
/// At most 8192 ranges; returns the number kept. Call before activating.
size_t perch_sampler_set_ranges(const uint64_t *starts, const uint64_t *ends, size_t count);

/// Installs the SIGPROF-style handler for `signal` (once per process; it stays installed and
/// does nothing while inactive, so a late signal never reaches SIG_DFL). 0 or an errno.
int perch_sampler_install(int signal);

/// Starts or stops capturing. Stopping waits until no handler is still writing a sample.
void perch_sampler_set_active(int active);

/// A per-thread CPU-time timer for thread `tid` of this process, delivering the installed
/// signal to that thread every `interval_ns` of its CPU time. 0 or an errno; `timer` is set.
int perch_sampler_create_timer(pid_t tid, long interval_ns, int signal, timer_t *timer);

/// The sample in `slot` if it is complete, else NULL. Only the draining thread calls this.
const perch_sample *perch_sampler_ready(size_t slot);
/// The stack bytes of a ready sample.
const uint8_t *perch_sampler_stack(const perch_sample *sample);
/// Returns a read slot to the handler.
void perch_sampler_release(size_t slot);

size_t perch_sampler_slot_count(void);
/// Samples dropped because every slot was full, since configure.
uint64_t perch_sampler_lost(void);
/// Samples whose stack pointer was in no known range (no stack copied), since configure.
uint64_t perch_sampler_unknown_stacks(void);

/// Frees the buffer; the sampler must be inactive.
void perch_sampler_release_buffer(void);

pid_t perch_sampler_gettid(void);
/// Names the calling thread (its comm, at most 15 bytes).
void perch_sampler_name_thread(const char *name);

#endif
