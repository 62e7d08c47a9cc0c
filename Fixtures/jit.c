// A tiny "JIT": copies a spin loop into anonymous executable memory, announces it in
// /tmp/perf-PID.map as jit_spin (the perf map convention), and runs it. x86_64 only.
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    static const unsigned char code[] = {
        0x48, 0xC7, 0xC1, 0x00, 0x00, 0x00, 0x10,  // mov rcx, 0x10000000
        0x48, 0xFF, 0xC9,                          // loop: dec rcx
        0x75, 0xFB,                                // jnz loop
        0xC3,                                      // ret
    };
    unsigned char *memory = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) { perror("mmap"); return 1; }
    memcpy(memory, code, sizeof code);
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", getpid());
    FILE *map = fopen(path, "w");
    if (!map) { perror(path); return 1; }
    fprintf(map, "%lx %zx jit_spin\n", (unsigned long)memory, sizeof code);
    fclose(map);
    void (*spin)(void) = (void (*)(void))memory;
    for (int i = 0; i < 4; i++) spin();
    return 0;
}
