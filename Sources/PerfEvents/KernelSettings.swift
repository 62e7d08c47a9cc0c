import CPerfEvent
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The kernel settings that decide what perf events may do, read once from /proc and /sys.
public struct KernelSettings: Sendable {
    /// `kernel.perf_event_paranoid`, or nil when it cannot be read (as in some containers).
    public var paranoid: Int?
    /// `kernel.perf_event_max_sample_rate` in Hz.
    public var maxSampleRate: Int?
    /// `kernel.perf_event_mlock_kb`: per-CPU budget of unlocked-by-capability ring buffer memory.
    public var mlockKiB: Int?
    /// `kernel.kptr_restrict`.
    public var kptrRestrict: Int?
    /// Online CPUs, from /sys/devices/system/cpu/online.
    public var onlineCPUs: [Int32]
    /// `RLIMIT_MEMLOCK` soft limit in bytes (nil = unlimited).
    public var memlockLimit: UInt64?
    /// Effective capabilities of this process (bit n = capability n).
    public var effectiveCapabilities: UInt64
    /// The kernel release, as `uname -r` prints it.
    public var release: String

    public init(paranoid: Int?, maxSampleRate: Int?, mlockKiB: Int?, kptrRestrict: Int?, onlineCPUs: [Int32],
                memlockLimit: UInt64?, effectiveCapabilities: UInt64, release: String) {
        self.paranoid = paranoid
        self.maxSampleRate = maxSampleRate
        self.mlockKiB = mlockKiB
        self.kptrRestrict = kptrRestrict
        self.onlineCPUs = onlineCPUs
        self.memlockLimit = memlockLimit
        self.effectiveCapabilities = effectiveCapabilities
        self.release = release
    }

    public static func read() -> KernelSettings {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit)
        var effective: UInt64 = 0, permitted: UInt64 = 0
        if perch_capget(&effective, &permitted) != 0 { effective = 0 }
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let online = readFirstLine("/sys/devices/system/cpu/online").flatMap(parseCPUList)
            ?? (0..<Int32(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))).map { $0 }
        return KernelSettings(
            paranoid: readInteger("/proc/sys/kernel/perf_event_paranoid"),
            maxSampleRate: readInteger("/proc/sys/kernel/perf_event_max_sample_rate"),
            mlockKiB: readInteger("/proc/sys/kernel/perf_event_mlock_kb"),
            kptrRestrict: readInteger("/proc/sys/kernel/kptr_restrict"),
            onlineCPUs: online,
            memlockLimit: limit.rlim_cur == rlim_t.max ? nil : UInt64(limit.rlim_cur),
            effectiveCapabilities: effective,
            release: release)
    }

    public func hasCapability(_ capability: Capability) -> Bool {
        effectiveCapabilities & (1 << UInt64(capability.rawValue)) != 0
    }

    /// Whether the kernel lets this process sample kernel code and other users' tasks, as
    /// `perf_allow_kernel()` decides: paranoid <= 1, or CAP_PERFMON / CAP_SYS_ADMIN.
    public var mayProfileKernel: Bool {
        if hasCapability(.perfmon) || hasCapability(.sysAdmin) { return true }
        guard let paranoid else { return false }
        return paranoid <= 1
    }

    /// Whether system-wide (pid = -1) events are allowed: paranoid <= 0, or CAP_PERFMON / CAP_SYS_ADMIN.
    public var mayProfileSystemWide: Bool {
        if hasCapability(.perfmon) || hasCapability(.sysAdmin) { return true }
        guard let paranoid else { return false }
        return paranoid <= 0
    }

    /// Whether ring buffer memory is unlimited for this process (CAP_IPC_LOCK or paranoid -1).
    public var unlimitedLockedMemory: Bool {
        hasCapability(.ipcLock) || paranoid == -1
    }
}

/// Capabilities that matter to perf events (numbers from linux/capability.h).
public enum Capability: Int, Sendable, CaseIterable {
    case sysPtrace = 19
    case ipcLock = 14
    case sysAdmin = 21
    case syslog = 34
    case perfmon = 38
    case bpf = 39

    public var name: String {
        switch self {
        case .sysPtrace: "CAP_SYS_PTRACE"
        case .ipcLock: "CAP_IPC_LOCK"
        case .sysAdmin: "CAP_SYS_ADMIN"
        case .syslog: "CAP_SYSLOG"
        case .perfmon: "CAP_PERFMON"
        case .bpf: "CAP_BPF"
        }
    }
}

/// Parses a kernel CPU list such as `0-3,5,7-8`.
public func parseCPUList(_ text: String) -> [Int32]? {
    var cpus: [Int32] = []
    for part in text.split(separator: ",") {
        let bounds = part.split(separator: "-").map { Int32($0.trimmingCharacters(in: " \n")) }
        switch bounds.count {
        case 1:
            guard let cpu = bounds[0] else { return nil }
            cpus.append(cpu)
        case 2:
            guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
            cpus.append(contentsOf: low...high)
        default:
            return nil
        }
    }
    return cpus.isEmpty ? nil : cpus
}

/// The first line of a small text file, without its newline.
public func readFirstLine(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 4096)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return line.hasSuffix("\n") ? String(line.dropLast()) : line
}

func readInteger(_ path: String) -> Int? {
    readFirstLine(path).flatMap { Int($0.trimmingCharacters(in: " \t")) }
}
