import Testing
@testable import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// A file in a fresh temporary directory, removed with it.
private final class ScratchFile {
    let directory: String
    let path: String

    init(_ bytes: [UInt8]) throws {
        var template = Array("/tmp/systemio-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Errno.current }
        directory = String(cString: made)
        path = directory + "/file"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        try bytes.withUnsafeBytes { try writeAll(fd, $0) }
    }

    convenience init(_ text: String) throws {
        try self.init(Array(text.utf8))
    }

    deinit {
        unlink(path)
        rmdir(directory)
    }
}

private func lines(of path: String, bufferSize: Int = 256 << 10) throws -> [String] {
    var lines: [String] = []
    try forEachLine(ofFile: path, bufferSize: bufferSize) { lines.append(String(decoding: $0, as: UTF8.self)) }
    return lines
}

@Suite struct ErrnoTests {
    @Test func textIsTheCLibrarys() {
        #expect(Errno(ENOENT).text == "No such file or directory")
        #expect(Errno(ENOSPC).description == "No space left on device")
        #expect(Errno(EPIPE).code == EPIPE)
    }

    @Test func currentReadsErrno() {
        #expect(close(-1) == -1)
        #expect(Errno.current == Errno(EBADF))
    }

    @Test func retryingInterruptedThrowsOtherErrors() {
        #expect(throws: Errno(EBADF)) { try retryingInterrupted { read(-1, nil, 0) } }
        var calls = 0
        let result = try? retryingInterrupted { () -> Int in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        #expect(result == 7 && calls == 3)
    }
}

@Suite struct WriteAllTests {
    /// More than a pipe holds (64 KiB by default), so writes block and may come back short
    /// until the reader on another thread drains it.
    @Test func writesEverythingToAPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let bytes = (0..<(1 << 20) + 12345).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let reader = Reader(fd: readEnd)
        var thread = pthread_t()
        let box = Unmanaged.passRetained(reader)
        #expect(pthread_create(&thread, nil, { argument in
            Unmanaged<Reader>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, box.toOpaque()) == 0)
        try bytes.withUnsafeBytes { try writeAll(writeEnd, $0) }
        close(writeEnd)
        pthread_join(thread, nil)
        close(readEnd)
        #expect(reader.received.count == bytes.count)
        #expect(reader.received == bytes)
    }

    @Test func devFullFailsWithENOSPC() throws {
        let fd = open("/dev/full", O_WRONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let bytes = [UInt8](repeating: 0x61, count: 100)
        #expect(throws: Errno(ENOSPC)) {
            try bytes.withUnsafeBytes { try writeAll(fd, $0) }
        }
    }
}

/// Reads a pipe to its end on its own thread.
private final class Reader: @unchecked Sendable {
    let fd: Int32
    var received: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    func run() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = (try? chunk.withUnsafeMutableBytes { buffer in
                try retryingInterrupted { read(fd, buffer.baseAddress, buffer.count) }
            }) ?? 0
            if n == 0 { return }
            received.append(contentsOf: chunk[0..<n])
        }
    }
}

@Suite struct ReadFileTests {
    @Test func readsANormalFile() throws {
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        let file = try ScratchFile(bytes)
        #expect(try readFile(path: file.path, limit: 1 << 20) == bytes)
        #expect(try readFile(path: file.path, limit: bytes.count) == bytes)
    }

    @Test func refusesAFileOverTheLimit() throws {
        let file = try ScratchFile([UInt8](repeating: 0x41, count: 4097))
        #expect(throws: FileReadError(path: file.path, cause: .tooLarge(limit: 4096))) {
            try readFile(path: file.path, limit: 4096)
        }
    }

    /// procfs reports size 0, so the limit is enforced while reading.
    @Test func refusesAProcFileOverTheLimit() throws {
        #expect(throws: FileReadError(path: "/proc/self/maps", cause: .tooLarge(limit: 10))) {
            try readFile(path: "/proc/self/maps", limit: 10)
        }
        #expect(try !readFile(path: "/proc/self/maps", limit: 1 << 24).isEmpty)
    }

    @Test func missingFileNamesENOENT() throws {
        let path = "/nonexistent/systemio-missing"
        do {
            _ = try readFile(path: path, limit: 100)
            Issue.record("read a missing file")
        } catch {
            #expect(error.path == path)
            #expect(error.errno == Errno(ENOENT))
            #expect(error.description == "cannot read /nonexistent/systemio-missing: No such file or directory")
        }
    }

    @Test func directoryIsAnError() {
        #expect(throws: FileReadError(path: "/", cause: .system(Errno(EISDIR)))) {
            try readFile(path: "/", limit: 100)
        }
    }
}

@Suite struct ForEachLineTests {
    @Test func withTrailingNewline() throws {
        let file = try ScratchFile("one\ntwo\n\nfour\n")
        #expect(try lines(of: file.path) == ["one", "two", "", "four"])
    }

    @Test func withoutTrailingNewline() throws {
        let file = try ScratchFile("one\ntwo\nthree")
        #expect(try lines(of: file.path) == ["one", "two", "three"])
        let empty = try ScratchFile("")
        #expect(try lines(of: empty.path).isEmpty)
    }

    /// Lines that straddle the buffer's end are joined; a line longer than the buffer is skipped
    /// whole, not cut into pieces.
    @Test func longLines() throws {
        let long = String(repeating: "x", count: 100)
        let fits = String(repeating: "y", count: 30)
        let text = (0..<20).map { "line \($0) " + fits }.joined(separator: "\n") + "\n" + long + "\nafter\n" + long
        let file = try ScratchFile(text)
        let expected = (0..<20).map { "line \($0) " + fits } + ["after"]
        #expect(try lines(of: file.path, bufferSize: 64) == expected)
        // With the default buffer every line fits.
        #expect(try lines(of: file.path) == expected.dropLast() + [long, "after", long])
    }

    @Test func longLinesWithTheDefaultBuffer() throws {
        let huge = String(repeating: "z", count: 300 << 10)
        let medium = String(repeating: "m", count: 100 << 10)
        let file = try ScratchFile([medium, huge, medium, "end"].joined(separator: "\n"))
        #expect(try lines(of: file.path) == [medium, medium, "end"])
    }

    @Test func missingFileThrowsENOENT() {
        #expect(throws: Errno(ENOENT)) { try forEachLine(ofFile: "/nonexistent/systemio-missing") { _ in } }
    }
}
