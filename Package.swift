// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Perch",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "perch", targets: ["perch"]),
        // Perch as a library for programs and their tests: `Counters`, the in-process `Profiler`
        // (and the desched notifier).
        .library(name: "Perch", targets: ["PerchCounters", "InProcessProfiling"]),
        .library(name: "PerchKit", targets: ["SystemIO", "PerfABI", "PerfEvents", "PerfRecords", "Symbolication", "Unwinding", "Recording", "ProfileModel", "Profiling", "Reporting", "ProfileImport", "Counting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `perch serve` only (target PerchServe): its HTTP server and the push client.
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
    ],
    targets: [
        // C: what Swift cannot import (variadic syscall, ioctl numbers, memory ordering, fork/exec child).
        .target(name: "CPerfEvent"),
        // elfutils: libdw, libdwfl, libelf (apt: libdw-dev, libelf-dev).
        .systemLibrary(
            name: "CElfutils",
            pkgConfig: "libdw",
            providers: [.apt(["libdw-dev", "libelf-dev"])]
        ),
        // zstd, for perf record -z files (apt: libzstd-dev).
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // System I/O every target shares: errno text, EINTR retry, whole writes, bounded reads, lines, text layout.
        .target(name: "SystemIO"),
        // The kernel's ABI as types: perf_event_attr, call-graph modes, record types and the decoder.
        .target(name: "PerfABI"),
        // The system calls: opening events, their ring buffers, the kernel's settings and limits.
        .target(name: "PerfEvents", dependencies: ["CPerfEvent", "PerfABI", "SystemIO"]),
        // perf.data: reading (in time order) and writing.
        .target(name: "PerfRecords", dependencies: ["CZstd", "PerfABI", "SystemIO"]),
        .target(name: "Symbolication", dependencies: ["CElfutils", "ProfileModel", "SystemIO"]),
        .target(name: "Unwinding", dependencies: ["CElfutils", "PerfABI", "Symbolication"]),
        // The record side: plan, open, drain into perf.data. Knows nothing of the analysis.
        .target(name: "Recording", dependencies: ["CPerfEvent", "PerfABI", "PerfEvents", "PerfRecords", "ProfileModel", "SystemIO"]),
        // The profile every output reads: frames, threads, unique stacks in one metric. No kernel, no elfutils.
        .target(name: "ProfileModel"),
        // Counting mode (`perch stat`): the counting plan, counter groups, scaling, statistics, perf's output formats.
        .target(name: "Counting", dependencies: ["CPerfEvent", "PerfABI", "PerfEvents", "Recording", "SystemIO"]),
        // The library product `Perch`: count events over a closure (`Counters.measure`).
        .target(name: "PerchCounters", dependencies: ["CPerfEvent", "Counting", "Recording", "PerfABI", "PerfEvents"]),
        // The analysis side: perf.data back into a symbolized profile.
        .target(name: "Profiling", dependencies: ["PerfABI", "PerfRecords", "Symbolication", "Unwinding", "ProfileModel"]),
        .target(name: "Reporting", dependencies: ["ProfileModel", "SystemIO"]),
        // Profiles from other tools' text: folded stacks, perf script.
        .target(name: "ProfileImport", dependencies: ["Reporting"]),
        // `perch serve`: Go's pprof HTTP contract and Pyroscope push. The only target that links SwiftNIO.
        .target(
            name: "PerchServe",
            dependencies: [
                "Recording", "PerfEvents", "PerfRecords", "Profiling", "ProfileModel", "Reporting", "Symbolication", "SystemIO", "PerfABI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "perch",
            dependencies: [
                "SystemIO", "PerfABI", "PerfEvents", "PerfRecords", "Symbolication", "Recording", "Counting", "Profiling", "ProfileModel", "Reporting", "ProfileImport", "PerchServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The in-process sampler's signal handler and per-thread CPU-time timers (async-signal-safe C).
        .target(name: "CInProcessSampler"),
        // Profiler: profile the current process from inside it, through perf_event_open when
        // permitted, else through the in-process sampler; the same Profile the CLI builds.
        .target(name: "InProcessProfiling", dependencies: ["CInProcessSampler", "PerfABI", "PerfRecords", "Recording", "Profiling", "ProfileModel", "Reporting", "Symbolication", "SystemIO"]),
        // Fuzz entry points (one function per target), shared by the libFuzzer harness and the
        // regression replay test. Not part of any product.
        .target(name: "FuzzTargets", dependencies: ["PerfABI", "PerfRecords", "ProfileImport", "ProfileModel", "Profiling", "Reporting", "Symbolication", "SystemIO", "Unwinding"]),
        // The libFuzzer executable; only Scripts/fuzz builds it as one (`-sanitize=fuzzer`, .build-fuzz).
        .executableTarget(name: "PerchFuzz", dependencies: ["FuzzTargets"]),
        // Helpers every test target shares: record bytes, synthetic perf.data, C fixtures, processes, profiles.
        .target(name: "TestSupport", dependencies: ["PerfABI", "PerfRecords", "ProfileModel"], path: "Tests/TestSupport"),
        .testTarget(name: "SystemIOTests", dependencies: ["SystemIO"]),
        .testTarget(name: "PerfEventsTests", dependencies: ["PerfEvents", "PerfABI", "CPerfEvent", "TestSupport"]),
        .testTarget(name: "PerfABITests", dependencies: ["PerfABI", "PerfEvents", "TestSupport"]),
        .testTarget(name: "PerfRecordsTests", dependencies: ["PerfRecords", "PerfABI", "TestSupport"]),
        .testTarget(name: "SymbolicationTests", dependencies: ["Symbolication", "ProfileModel", "TestSupport"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "ProfileModel", "ProfileImport", "TestSupport"]),
        .testTarget(name: "ProfileModelTests", dependencies: ["ProfileModel"]),
        .testTarget(name: "UnwindingTests", dependencies: ["Unwinding", "PerfABI", "Symbolication", "TestSupport"]),
        .testTarget(name: "RecordingTests", dependencies: ["Recording", "PerfABI", "PerfEvents", "TestSupport"]),
        .testTarget(name: "ProfilingTests", dependencies: ["Profiling", "ProfileModel", "PerfABI", "PerfRecords", "Symbolication", "TestSupport"]),
        .testTarget(name: "CountingTests", dependencies: ["Counting", "PerchCounters", "PerfABI", "PerfEvents", "Recording", "TestSupport"]),
        // Profiles a 5:3:2 split inside itself; the tests run it under a seccomp filter.
        .executableTarget(name: "InProcessProfilerProbe", dependencies: ["InProcessProfiling", "TestSupport"], path: "Tests/InProcessProfilerProbe"),
        .testTarget(name: "InProcessProfilingTests", dependencies: ["InProcessProfiling", "ProfileModel", "PerfRecords", "TestSupport"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "PerchTests", dependencies: ["PerfABI", "PerfRecords", "TestSupport"], exclude: ["Data", "Browser"]),
    ],
    swiftLanguageModes: [.v6]
)
