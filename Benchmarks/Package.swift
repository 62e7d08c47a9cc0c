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
            ],
            path: "Benchmarks/PerchBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
