import Foundation
import Testing

/// The analysis commands ask for transparent huge pages on their heap (`HeapPages`): checked
/// on a running `perch symbolize`, which has set its heap up before it waits for addresses on
/// standard input.
@Suite("Heap pages")
struct HeapPagesTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/kernel/mm/transparent_hugepage/enabled"),
                   "the kernel has no transparent huge pages"))
    func symbolizeAdvisesHugePagesForItsHeap() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Support.perch)
        process.arguments = ["symbolize", "-e", "/bin/true"]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        // The flag shows on the heap's mapping as "hg" in VmFlags, once the command has started.
        var advised = false
        let deadline = Date().addingTimeInterval(20)
        while !advised, process.isRunning, Date() < deadline {
            // Read to the end: String(contentsOfFile:) stops after the first 4 KiB of a /proc file.
            let handle = FileHandle(forReadingAtPath: "/proc/\(process.processIdentifier)/smaps")
            let smaps = String(decoding: handle?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            try? handle?.close()
            advised = Self.heapMappings(in: smaps).contains { $0.split(separator: " ").contains("hg") }
            if !advised { usleep(20_000) }
        }
        #expect(advised, "no heap mapping of perch symbolize has VmFlags hg")
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// The VmFlags lines of the anonymous mappings that begin at or after `[heap]`'s start and are
    /// part of the brk heap (glibc's main arena): the `[heap]` entries.
    private static func heapMappings(in smaps: String) -> [String] {
        var flags: [String] = []
        var inHeap = false
        for line in smaps.split(separator: "\n") {
            if line.first?.isHexDigit == true, line.contains("-") {
                inHeap = line.hasSuffix("[heap]")
            } else if inHeap, line.hasPrefix("VmFlags:") {
                flags.append(String(line))
            }
        }
        return flags
    }
}
