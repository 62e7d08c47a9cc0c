import Glibc

/// Whether the user pc where a thread entered the kernel follows a `syscall` instruction.
///
/// Below a sample's kernel frames, the kernel gives the user pc the thread entered it at. After a
/// `syscall` (`0f 05`) that pc is where the call returns to: like a caller's return address it is
/// looked up at `pc - 1`, the `syscall` itself, with the frames inlined there (`brk` →
/// `__brk_call`). Anywhere else it is the faulting or interrupted instruction and is looked up
/// exactly: at a function's first instruction, `pc - 1` is the function before it.
///
/// The two bytes are read from the image file (the vdso's kept copy included) at the pc's file
/// offset, once per place; a file that cannot be read, or is not a regular file, counts as no
/// `syscall`.
struct SyscallReturnPoints {
    private struct Place: Hashable {
        var dso: Int32
        var fileOffset: UInt64
    }

    private var known: [Place: Bool] = [:]

    /// Whether the two bytes before `fileOffset` in DSO `dso` (at `path`) are a `syscall`.
    mutating func followsSyscall(dso: Int32, fileOffset: UInt64, path: String) -> Bool {
        let place = Place(dso: dso, fileOffset: fileOffset)
        if let answer = known[place] { return answer }
        let answer = Self.bytes(before: fileOffset, in: path) == [0x0f, 0x05]
        known[place] = answer
        return answer
    }

    /// Whether `followsSyscall` found a `syscall` before `fileOffset` in DSO `dso`; no I/O.
    func foundSyscall(dso: Int32, before fileOffset: UInt64) -> Bool {
        known[Place(dso: dso, fileOffset: fileOffset)] == true
    }

    private static func bytes(before offset: UInt64, in path: String) -> [UInt8]? {
        guard offset >= 2, offset <= UInt64(Int64.max) else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        var bytes: [UInt8] = [0, 0]
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 2, off_t(offset - 2)) }
        return count == 2 ? bytes : nil
    }
}
