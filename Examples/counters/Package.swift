// swift-tools-version: 6.0
// An example program using Perch's library: counts events over a sleep and a spin.
// Run it from this folder: swift run
import PackageDescription

let package = Package(
    name: "counters-example",
    dependencies: [
        // Perch, two folders up (the repository root).
        .package(name: "Perch", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "counters-example", dependencies: [.product(name: "Perch", package: "Perch")]),
    ],
    swiftLanguageModes: [.v6]
)
