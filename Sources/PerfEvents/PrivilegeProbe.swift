import SystemIO
#if canImport(Glibc)
import PerfABI
import Glibc
#endif

/// What this process may do with perf events, read from the kernel and checked by opening
/// real events (a successful number is not trusted on its own).
public struct PrivilegeProbe: Sendable {
    public var settings: KernelSettings
    /// Whether `kernel.perf_event_paranoid` could be read at all (some containers hide it).
    public var paranoidReadable: Bool { settings.paranoid != nil }
    /// The kernel version, e.g. (6, 18).
    public var kernelVersion: (major: Int, minor: Int)
    /// `Seccomp:` from /proc/self/status: 0 none, 1 strict, 2 filter.
    public var seccompMode: Int?
    /// A software event on this process opened: perf_event_open is usable at all.
    public var perfEventOpenWorks: Bool
    /// Why perf_event_open failed when it did not work (errno).
    public var perfEventOpenErrno: Int32?
    /// A hardware counter opened (false in most VMs: no PMU).
    public var hardwarePMU: Bool

    /// A probe with the given findings, for deciding from them without the kernel (tests, or a
    /// probe recorded elsewhere). ``run(settings:)`` finds them on this machine.
    public init(settings: KernelSettings, kernelVersion: (major: Int, minor: Int), seccompMode: Int? = nil,
                perfEventOpenWorks: Bool, perfEventOpenErrno: Int32? = nil, hardwarePMU: Bool) {
        self.settings = settings
        self.kernelVersion = kernelVersion
        self.seccompMode = seccompMode
        self.perfEventOpenWorks = perfEventOpenWorks
        self.perfEventOpenErrno = perfEventOpenErrno
        self.hardwarePMU = hardwarePMU
    }

    /// Reads the settings and opens a few events on this process to check them.
    public static func run(settings: KernelSettings = .read()) -> PrivilegeProbe {
        var probe = PrivilegeProbe(settings: settings, kernelVersion: parseVersion(settings.release),
                                   seccompMode: readSeccompMode(), perfEventOpenWorks: false, perfEventOpenErrno: nil,
                                   hardwarePMU: false)
        var software = EventAttributes(kind: .dummy)
        software.flags = [.disabled, .excludeKernel, .excludeHypervisor]
        do {
            _ = try PerfEvent(attributes: software, pid: 0, cpu: -1)
            probe.perfEventOpenWorks = true
        } catch {
            probe.perfEventOpenErrno = error.errno
        }
        var hardware = EventAttributes(kind: .cpuCycles)
        hardware.flags = [.disabled, .excludeKernel, .excludeHypervisor]
        probe.hardwarePMU = (try? PerfEvent(attributes: hardware, pid: 0, cpu: -1)) != nil
        return probe
    }

    /// CAP_PERFMON exists from Linux 5.8; before it CAP_SYS_ADMIN is what the kernel checks.
    public var kernelKnowsPerfmon: Bool {
        kernelVersion.major > 5 || (kernelVersion.major == 5 && kernelVersion.minor >= 8)
    }

    /// CAP_PERFMON (or CAP_SYS_ADMIN, which implies it) is effective.
    public var hasPerfmon: Bool {
        settings.hasCapability(.sysAdmin) || (kernelKnowsPerfmon && settings.hasCapability(.perfmon))
    }

    /// Kernel code and kernel call chains may be sampled: paranoid <= 1 or CAP_PERFMON.
    public var mayProfileKernel: Bool {
        hasPerfmon || (settings.paranoid.map { $0 <= 1 } ?? false)
    }

    /// CPU-wide events (`pid = -1`) are allowed: paranoid <= 0 or CAP_PERFMON.
    public var mayProfileSystemWide: Bool {
        hasPerfmon || (settings.paranoid.map { $0 <= 0 } ?? false)
    }

    /// Kernel addresses in /proc/kallsyms are visible to this process, as the kernel's
    /// `kallsyms_show_value()` decides: at kptr_restrict 0 for perf users (paranoid <= 1) or
    /// CAP_SYSLOG, at 1 only with CAP_SYSLOG, at 2 never.
    public var kernelAddressesVisible: Bool {
        guard let restrict = settings.kptrRestrict else { return false }
        switch restrict {
        case 0: return settings.hasCapability(.syslog) || (settings.paranoid.map { $0 <= 1 } ?? false)
        case 1: return settings.hasCapability(.syslog)
        default: return false
        }
    }

    /// How to make kernel addresses visible.
    public var kernelAddressesRemedy: String {
        switch settings.kptrRestrict ?? 2 {
        case 0: "sysctl kernel.perf_event_paranoid=1 (kallsyms shows addresses to perf users at <= 1), or run perch with CAP_SYSLOG (setcap cap_perfmon,cap_syslog+ep $(which perch))"
        case 1: "run perch with CAP_SYSLOG (setcap cap_perfmon,cap_syslog+ep $(which perch)), or sysctl kernel.kptr_restrict=0"
        default: "sysctl kernel.kptr_restrict=0 or 1 (2 hides kernel addresses from everyone)"
        }
    }

    /// Why perf_event_open is blocked, when it is.
    public var blockedReason: String? {
        guard !perfEventOpenWorks else { return nil }
        let code = perfEventOpenErrno ?? 0
        if seccompMode == 2 || code == ENOSYS {
            return "perf_event_open is blocked by a seccomp filter (Seccomp: \(seccompMode ?? 0), errno \(code)), as container runtimes do by default"
        }
        if let paranoid = settings.paranoid, paranoid >= 3 {
            return "kernel.perf_event_paranoid=\(paranoid) forbids perf events to unprivileged users"
        }
        return "perf_event_open fails with \(Errno(code).text) even for a software event on this process"
    }

    /// The remedy for a blocked perf_event_open.
    public var blockedRemedy: String {
        if seccompMode == 2 || perfEventOpenErrno == ENOSYS {
            return "run the container with --cap-add PERFMON (Docker ≥ 20.10 then allows perf_event_open in its seccomp profile) or --security-opt seccomp=unconfined"
        }
        return "sysctl kernel.perf_event_paranoid=2, or setcap cap_perfmon+ep $(which perch)"
    }
}

func parseVersion(_ release: String) -> (major: Int, minor: Int) {
    let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    return (numbers.first ?? 0, numbers.count > 1 ? numbers[1] : 0)
}

func readSeccompMode() -> Int? {
    guard let file = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("Seccomp:") {
            return Int(text.dropFirst(8).trimmingCharacters(in: " \t\n"))
        }
    }
    return nil
}
