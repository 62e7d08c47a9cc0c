import PerfABI
import PerfRecords
import Unwinding

/// The executable mappings of each process in a recording, as the unwinder asks for them.
public final class CaptureMaps {
    public struct Mapping {
        var start: UInt64
        var end: UInt64
        var pageOffset: UInt64
        var module: Int32
    }

    public private(set) var byPID: [Int32: [Mapping]] = [:]
    public private(set) var paths: [String] = []
    public private(set) var buildIDs: [[UInt8]?] = []
    private var moduleIDs: [String: Int32] = [:]

    public init(file: PerfDataFile) throws {
        let decoder = RecordDecoder(events: file.events)
        try file.forEachRecord { record, _ in
            switch try? decoder.decode(record) {
            case .mmap(let mmap)?:
                guard mmap.pid != -1, mmap.isExecutable else { return }
                let path = mmap.filename
                let module = moduleIDs[path] ?? {
                    let id = Int32(paths.count)
                    paths.append(path)
                    buildIDs.append(mmap.buildID.map(Array.init))
                    moduleIDs[path] = id
                    return id
                }()
                byPID[mmap.pid, default: []].append(Mapping(start: mmap.start, end: mmap.start + mmap.length,
                                                            pageOffset: mmap.pageOffset, module: module))
            case .comm(let comm)? where comm.isExec:
                byPID[comm.pid] = []
            default:
                break
            }
        }
        for pid in byPID.keys { byPID[pid]!.sort { $0.start < $1.start } }
    }

    /// One process's view.
    public func space(pid: Int32) -> Space { Space(mappings: byPID[pid] ?? [], maps: self) }

    public struct Space: UnwindAddressSpace {
        let mappings: [Mapping]
        let maps: CaptureMaps

        public func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)? {
            range(at: address).map { ($0.module, address - $0.start + $0.fileOffset) }
        }

        public func range(at address: UInt64) -> UnwindAddressRange? {
            var low = 0, high = mappings.count
            while low < high {
                let middle = (low + high) / 2
                if mappings[middle].start <= address { low = middle + 1 } else { high = middle }
            }
            guard low > 0 else { return nil }
            let mapping = mappings[low - 1]
            guard address < mapping.end else { return nil }
            // Up to the next mapping's start: the addresses past it resolve to that one.
            let end = low < mappings.count ? min(mapping.end, mappings[low].start) : mapping.end
            return UnwindAddressRange(start: mapping.start, end: end, module: mapping.module, fileOffset: mapping.pageOffset)
        }

        public func path(ofModule module: Int32) -> String { maps.paths[Int(module)] }
        public func buildID(ofModule module: Int32) -> [UInt8]? { maps.buildIDs[Int(module)] }
    }
}
