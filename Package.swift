// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Perch",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "perch", targets: ["perch"]),
        .library(name: "PerchKit", targets: ["SystemIO", "PerfEvents", "PerfRecords", "Symbolication", "Unwinding", "Recording", "ProfileModel", "Profiling", "Reporting", "ProfileImport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        // System I/O every target shares: errno text, EINTR retry, whole writes, bounded reads, lines, text layout.
        .target(name: "SystemIO"),
        .target(name: "PerfEvents", dependencies: ["CPerfEvent", "SystemIO"]),
        .target(name: "PerfRecords", dependencies: ["PerfEvents", "SystemIO"]),
        .target(name: "Symbolication", dependencies: ["CElfutils", "ProfileModel", "SystemIO"]),
        .target(name: "Unwinding", dependencies: ["CElfutils", "PerfEvents", "PerfRecords", "Symbolication"]),
        // The record side: plan, open, drain into perf.data. Knows nothing of the analysis.
        .target(name: "Recording", dependencies: ["CPerfEvent", "PerfEvents", "PerfRecords", "ProfileModel", "SystemIO"]),
        // The profile every output reads: frames, threads, unique stacks in one metric. No kernel, no elfutils.
        .target(name: "ProfileModel"),
        // The analysis side: perf.data back into a symbolized profile.
        .target(name: "Profiling", dependencies: ["PerfEvents", "PerfRecords", "Symbolication", "Unwinding", "ProfileModel"]),
        .target(name: "Reporting", dependencies: ["ProfileModel", "SystemIO"]),
        // Profiles from other tools' text: folded stacks, perf script.
        .target(name: "ProfileImport", dependencies: ["Reporting"]),
        .executableTarget(
            name: "perch",
            dependencies: [
                "SystemIO", "PerfEvents", "PerfRecords", "Symbolication", "Recording", "Profiling", "ProfileModel", "Reporting", "ProfileImport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SystemIOTests", dependencies: ["SystemIO"]),
        .testTarget(name: "PerfEventsTests", dependencies: ["PerfEvents", "CPerfEvent"]),
        .testTarget(name: "PerfRecordsTests", dependencies: ["PerfRecords", "PerfEvents"]),
        .testTarget(name: "SymbolicationTests", dependencies: ["Symbolication"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "ProfileModel", "ProfileImport"]),
        .testTarget(name: "ProfileModelTests", dependencies: ["ProfileModel"]),
        .testTarget(name: "UnwindingTests", dependencies: ["Unwinding", "PerfRecords", "Symbolication"]),
        .testTarget(name: "RecordingTests", dependencies: ["Recording", "PerfEvents"]),
        .testTarget(name: "ProfilingTests", dependencies: ["Profiling", "ProfileModel", "PerfRecords", "PerfEvents", "Symbolication"]),
        .testTarget(name: "PerchTests", dependencies: ["PerfEvents", "PerfRecords"], exclude: ["Data", "Browser"]),
    ],
    swiftLanguageModes: [.v6]
)
