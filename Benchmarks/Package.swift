// swift-tools-version: 6.1
// Perch's benchmarks: a package of their own, so users and CI never build benchmark
// dependencies. Run: cd Benchmarks && swift package benchmark (see README.md)
import PackageDescription

let package = Package(
    name: "PerchBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Perch", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PerchBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PerchKit", package: "Perch"),
                "CaptureReplay",
            ],
            path: "Benchmarks/PerchBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A recording's executable mappings as an `UnwindAddressSpace`, for the unwinding
        // benchmark and the replay tool.
        .target(
            name: "CaptureReplay",
            dependencies: [.product(name: "PerchKit", package: "Perch")],
            path: "Tools/CaptureReplay"
        ),
        // Replays a recording's user stacks through the unwinder (profiling under callgrind, result dumps).
        // Outside Benchmarks/: the benchmark plugin runs every executable target there as a benchmark.
        .executableTarget(
            name: "UnwindReplay",
            dependencies: ["CaptureReplay", .product(name: "PerchKit", package: "Perch")],
            path: "Tools/UnwindReplay"
        ),
    ],
    swiftLanguageModes: [.v6]
)
