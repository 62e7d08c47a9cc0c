import CInProcessSampler
#if canImport(Glibc)
import Glibc
#endif

/// The memory the sampler's signal handler may copy a stack from: every readable mapping of
/// /proc/self/maps (sorted by address), so a copy stops at the end of the mapping that holds the stack pointer and
/// never faults. The main thread's `[stack]` grows down: its range starts at the stack limit below.
enum StackRanges {
    static func publish() {
        guard let file = fopen("/proc/self/maps", "r") else { return }
        defer { fclose(file) }
        var starts: [UInt64] = [], ends: [UInt64] = []
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("r") else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, var start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16), start < end else { continue }
            if fields.count > 5, fields[5].hasPrefix("[stack]") {
                start = max(ends.last ?? 0, start &- min(start, stackLimit()))
            }
            // Mappings stay apart even when contiguous: the next one may be unmapped meanwhile.
            starts.append(start)
            ends.append(end)
        }
        _ = perch_sampler_set_ranges(starts, ends, starts.count)
    }

    /// How far the main stack may grow down (RLIMIT_STACK, 8 MiB when unlimited).
    private static func stackLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_STACK.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 8 << 20 }
        return UInt64(limit.rlim_cur)
    }
}
