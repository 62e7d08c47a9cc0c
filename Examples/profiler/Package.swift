// swift-tools-version: 6.0
import PackageDescription

// Profiles a 5:3:2 split of work inside itself with Perch's in-process Profiler and writes a
// flame graph. Build and run from this directory:
//   swift run -c release ProfilerExample [automatic|perf|signals] [OUTPUT.svg] [SECONDS]
let package = Package(
    name: "ProfilerExample",
    dependencies: [
        .package(name: "Perch", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "ProfilerExample",
            dependencies: [.product(name: "Perch", package: "Perch")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
