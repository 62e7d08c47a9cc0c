import PerfABI
import PerfRecords

/// The samples of a recording that the unwinder can take: those with 64-bit user registers
/// (and so a user stack copy). Their bytes point into `file`'s mapping: keep `file` alive.
public func userStackSamples(in file: PerfDataFile) throws -> [SampleRecord] {
    let decoder = RecordDecoder(events: file.events)
    var samples: [SampleRecord] = []
    try file.forEachRecord { record, _ in
        if case .sample(let sample)? = try? decoder.decode(record), !sample.userRegisters.isEmpty, sample.userRegisterABI == 2 {
            samples.append(sample)
        }
    }
    return samples
}
