#if canImport(Glibc)
import Glibc
#endif

/// Why a whole file could not be read: the path and the cause.
public struct FileReadError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Cause: Sendable, Hashable, CustomStringConvertible {
        /// `open(2)`, `read(2)` or `fstat(2)` failed.
        case system(Errno)
        /// The file holds more than `limit` bytes; it was not read to the end.
        case tooLarge(limit: Int)
        /// Text was expected and a NUL byte was found at `offset` (/dev/zero, a binary file).
        case notText(offset: Int)
        /// A line of more than `limit` bytes (without its newline).
        case lineTooLong(line: Int, limit: Int)

        public var description: String {
            switch self {
            case .system(let error): error.text
            case .tooLarge(let limit): "larger than the limit of \(limit) bytes"
            case .notText(let offset): "not text (a NUL byte at offset \(offset))"
            case .lineTooLong(let line, let limit): "line \(line) is longer than \(limit) bytes"
            }
        }
    }

    /// The file, as the caller named it.
    public var path: String
    public var cause: Cause

    public init(path: String, cause: Cause) {
        self.path = path
        self.cause = cause
    }

    /// The system error, when that is the cause.
    public var errno: Errno? {
        if case .system(let error) = cause { error } else { nil }
    }

    /// "cannot read PATH: CAUSE".
    public var description: String { "cannot read \(path): \(cause)" }
}

/// The whole content of the file at `path`, refusing (with `.tooLarge`) a file of more than
/// `limit` bytes instead of reading until memory runs out. Works for files whose size `stat`
/// does not know (procfs, pipes): the limit is then checked as the bytes arrive.
/// With `text`, a NUL byte stops the read with `.notText` as soon as it arrives (an endless
/// binary stream such as /dev/zero is refused at its first chunk, not at the limit).
public func readFile(path: String, limit: Int, text: Bool = false) throws(FileReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(path: path, cause: .system(.current)) }
    defer { close(fd) }
    return try readAll(fd: fd, naming: path, limit: limit, text: text)
}

/// Everything left to read from `fd` (an open file, pipe or standard input), at most `limit`
/// bytes as ``readFile(path:limit:)`` reads; `path` names it in the error.
public func readAll(fd: Int32, naming path: String, limit: Int, text: Bool = false) throws(FileReadError) -> [UInt8] {
    var status = stat()
    if fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, Int(status.st_size) > limit {
        throw FileReadError(path: path, cause: .tooLarge(limit: limit))
    }
    // One byte past the limit tells a file of exactly `limit` bytes from a longer one.
    let ceiling = limit < Int.max ? limit + 1 : limit
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: min(1 << 20, max(ceiling, 1)), alignment: 1)
    defer { chunk.deallocate() }
    var bytes: [UInt8] = []
    while true {
        let wanted = min(chunk.count, ceiling - bytes.count)
        let got: Int
        do {
            got = try retryingInterrupted { read(fd, chunk.baseAddress, wanted) }
        } catch {
            throw FileReadError(path: path, cause: .system(error))
        }
        if got == 0 { return bytes }
        if text, let nul = UnsafeRawBufferPointer(rebasing: chunk[0..<got]).firstIndex(of: 0) {
            throw FileReadError(path: path, cause: .notText(offset: bytes.count + nul))
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<got]))
        if bytes.count > limit { throw FileReadError(path: path, cause: .tooLarge(limit: limit)) }
    }
}

/// Calls `body` with each line of the file at `path` (without its newline; a last line without
/// one included), read with `read(2)` through one buffer of `bufferSize` bytes: procfs files
/// report size 0 to `stat`, and /proc/kallsyms is megabytes that need not all be in memory at once.
/// A line longer than the buffer is skipped whole. A read that fails part-way throws after `body`
/// has seen the lines before it.
public func forEachLine(
    ofFile path: String, bufferSize: Int = 256 << 10, _ body: (UnsafeBufferPointer<UInt8>) -> Void
) throws(Errno) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .current }
    defer { close(fd) }
    let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bufferSize, 1))
    defer { buffer.deallocate() }
    var filled = 0
    // Set while the rest of a line longer than the buffer is being passed over.
    var skipping = false
    while true {
        if filled == buffer.count {
            filled = 0
            skipping = true
        }
        let got = try retryingInterrupted { read(fd, buffer.baseAddress! + filled, buffer.count - filled) }
        if got == 0 {
            if filled > 0, !skipping { body(UnsafeBufferPointer(rebasing: buffer[0..<filled])) }
            return
        }
        var lineStart = 0
        for index in filled..<(filled + got) where buffer[index] == 0x0A {
            if skipping {
                skipping = false
            } else {
                body(UnsafeBufferPointer(rebasing: buffer[lineStart..<index]))
            }
            lineStart = index + 1
        }
        filled += got
        if lineStart > 0 {
            let rest = filled - lineStart
            if rest > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + lineStart, rest) }
            filled = rest
        }
    }
}

/// Lines of text from a descriptor (standard input), one at a time as they arrive, each at most
/// `maxLineLength` bytes and all together at most `limit`: an endless or binary stream
/// (/dev/zero) ends in an error instead of a line that grows until memory runs out.
public struct LineReader {
    private let fd: Int32
    private let path: String
    private let maxLineLength: Int
    private let limit: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var total = 0
    private var lineNumber = 0
    private var atEnd = false

    public init(fd: Int32, naming path: String, maxLineLength: Int = 64 << 10, limit: Int) {
        self.fd = fd
        self.path = path
        self.maxLineLength = maxLineLength
        self.limit = limit
    }

    /// The next line without its newline (a last line without one included); `nil` at the end.
    public mutating func next() throws(FileReadError) -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                lineNumber += 1
                guard newline - start <= maxLineLength else { throw tooLong() }
                let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                return line
            }
            guard buffer.count - start <= maxLineLength else { lineNumber += 1; throw tooLong() }
            if atEnd {
                guard start < buffer.count else { return nil }
                lineNumber += 1
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            if start > 0 { buffer.removeFirst(start); start = 0 }
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            let got = chunk.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in try retryingInterrupted { read(fd, raw.baseAddress, raw.count) } }
            }
            guard case .success(let got) = got else {
                if case .failure(let error) = got { throw FileReadError(path: path, cause: .system(error)) }
                return nil
            }
            if got == 0 { atEnd = true; continue }
            if let nul = chunk[0..<got].firstIndex(of: 0) {
                throw FileReadError(path: path, cause: .notText(offset: total + nul))
            }
            total += got
            guard total <= limit else { throw FileReadError(path: path, cause: .tooLarge(limit: limit)) }
            buffer.append(contentsOf: chunk[0..<got])
        }
    }

    private func tooLong() -> FileReadError {
        FileReadError(path: path, cause: .lineTooLong(line: lineNumber, limit: maxLineLength))
    }
}
