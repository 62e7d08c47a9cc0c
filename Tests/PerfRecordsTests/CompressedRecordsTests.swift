import CZstd
import Glibc
import Testing
import TestSupport

@testable import PerfRecords

/// A record header: type, misc 0, size, then `size - 8` bytes of `fill`.
private func record(type: UInt32, size: Int, fill: UInt8) -> [UInt8] {
    var bytes = withUnsafeBytes(of: type.littleEndian) { Array($0) } + [0, 0]
    bytes += withUnsafeBytes(of: UInt16(size).littleEndian) { Array($0) }
    return bytes + [UInt8](repeating: fill, count: size - 8)
}

/// One zstd stream flushed into a PERF_RECORD_COMPRESSED record per chunk, as perf writes them.
private struct Compressor {
    let context = ZSTD_createCCtx()!

    func compressedRecord(_ chunk: [UInt8]) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: 65_000)
        let written: Int = chunk.withUnsafeBytes { source in
            payload.withUnsafeMutableBytes { target in
                var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
                var output = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                while true {
                    let left = ZSTD_compressStream2(context, &output, &input, ZSTD_e_flush)
                    if ZSTD_isError(left) != 0 || left == 0 { break }
                }
                return output.pos
            }
        }
        return Array(record(type: 81, size: 8 + written, fill: 0).prefix(8) + payload.prefix(written))
    }
}

/// Where the expander's 1 MiB buffer fills while zstd flushes the last block of a compressed
/// record (its input all read), the rest of that block must come out before the plain record
/// perf wrote after it (FINISHED_ROUND): it used to come after, and the records from there on
/// read as garbage ("record ... has size 0").
@Test func compressedOutputHeldBackByZstdComesBeforeThePlainRecordAfterIt() throws {
    // 60,000 plain bytes first, then a chunk whose last 128 KiB block straddles the buffer's end.
    let plain = record(type: 9, size: 60_000, fill: 1)
    var chunk: [UInt8] = []
    while chunk.count < 989_576 - 4_096 { chunk += record(type: 9, size: 4_096, fill: UInt8(chunk.count / 4_096 % 200)) }
    chunk += record(type: 9, size: 989_576 - chunk.count, fill: 7)
    let round = record(type: 68, size: 8, fill: 0)
    let tail = record(type: 9, size: 3_000, fill: 9) + record(type: 9, size: 500, fill: 3)
    let compressor = Compressor()
    defer { ZSTD_freeCCtx(compressor.context) }
    let section = plain + compressor.compressedRecord(chunk) + round + compressor.compressedRecord(tail)
    let expanded = try section.withUnsafeBytes { try CompressedRecords.expand($0, path: "test.data", isCutShort: false) }
    defer { munmap(UnsafeMutableRawPointer(mutating: expanded.baseAddress), expanded.count) }
    let expected = plain + chunk + round + tail
    #expect(expanded.count == expected.count)
    let got = Array(expanded)
    let same = got == expected
    #expect(same, "first difference at \(got.indices.first { index in index >= expected.count || got[index] != expected[index] } ?? -1)")
}
