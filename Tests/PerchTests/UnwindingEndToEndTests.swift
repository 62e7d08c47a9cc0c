import Foundation
import PerfABI
import PerfRecords
import Testing
import TestSupport

/// DWARF unwinding, `auto` and leaf-frame repair, end to end: the real `perch` on fixtures built
/// without frame pointers, on the real kernel. Serialized: the weight checks need the CPUs.
@Suite(.serialized) struct UnwindingEndToEndTests {
    private func output(_ name: String) -> String { Support.workDirectory + "/" + name }

    private func share(_ stacks: [(frames: [String], count: Int)], where predicate: ([String]) -> Bool) -> Double {
        let total = stacks.reduce(0) { $0 + $1.count }
        let matching = stacks.filter { predicate($0.frames) }.reduce(0) { $0 + $1.count }
        return total == 0 ? 0 : Double(matching) * 100 / Double(total)
    }

    /// Whether `frames` holds frames matching each of `names` in this order (callers first).
    private func inOrder(_ frames: [String], _ names: [String]) -> Bool {
        var index = frames.startIndex
        for name in names {
            guard let found = frames[index...].firstIndex(where: { $0.contains(name) }) else { return false }
            index = found + 1
        }
        return true
    }

    /// `result` is `perch record -- CMD` (its report on stderr) or, with `recorded: false`, `perch report`.
    private func expectWeights(_ result: Support.Outcome, _ label: String, recorded: Bool = true) throws {
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONReport(recorded ? Support.report(ofRecording: result) : result.stdout)
        for (symbol, expected) in [("work_a", 50.0), ("work_b", 30.0), ("work_c", 20.0)] {
            let share = try #require(report.children(of: symbol), "\(label): no entry for \(symbol)")
            #expect(abs(share - expected) <= 2, "\(label): \(symbol) has \(share)%, expected \(expected)%")
        }
    }

    private var noFramePointers: [String] { ["-O2", "-g", "-fomit-frame-pointer"] }

    @Test func dwarfUnwindsCodeWithoutFramePointers() throws {
        let binary = try CCompiler.fixture("known_weights", flags: noFramePointers)
        let result = try Support.perch(["record", "--call-graph", "dwarf", "-o", output("unw-dwarf.data"), "--json", "--children", "--sort", "sym", "--", binary, "300"])
        try expectWeights(result, "dwarf")
        let summary = try JSONReport(Support.report(ofRecording: result)).summary
        #expect(summary["callGraph"] as? String == "dwarf")
        #expect(result.stderr.contains(" 0 lost"), "records were lost: \(result.stderr)")
    }

    /// auto's large copy is written cut to the stack the kernel filled (`dyn_size`, rounded up
    /// to 8), so files grow with real stacks; the stacks still unwind (the weights hold).
    @Test func autoWritesOnlyTheFilledStack() throws {
        let binary = try CCompiler.fixture("known_weights", flags: noFramePointers)
        let path = output("unw-auto-trim.data")
        let result = try Support.perch(["record", "-o", path, "--json", "--children", "--sort", "sym", "--", binary, "300"])
        try expectWeights(result, "auto")
        let file = try PerfDataFile(path: path)
        let requested = try #require(file.events.first?.attributes.sampleStackUser)
        #expect(requested > 4096, "auto asked for only \(requested) bytes")
        let decoder = RecordDecoder(events: file.events)
        var samples = 0, withStack = 0
        try file.forEachRecord { bytes, _ in
            guard RecordDecoder.type(of: bytes) == RecordType.sample.rawValue else { return }
            let sample = try decoder.decodeSample(bytes)
            samples += 1
            guard let stack = sample.userStack.baseAddress, let base = bytes.baseAddress else { return }
            withStack += 1
            let copied = Int(bytes.loadUnaligned(fromByteOffset: stack - base - 8, as: UInt64.self))
            #expect(copied == (sample.userStack.count + 7) & ~7, "copy of \(copied) bytes for \(sample.userStack.count) filled")
            #expect(copied < Int(requested))
        }
        #expect(samples > 100 && withStack * 10 >= samples * 9, "\(withStack) of \(samples) samples have a stack copy")
    }

    @Test func autoUnwindsCodeWithoutFramePointers() throws {
        let binary = try CCompiler.fixture("known_weights", flags: noFramePointers)
        let result = try Support.perch(["record", "--call-graph", "auto", "-o", output("unw-auto.data"), "--json", "--children", "--sort", "sym", "--", binary, "300"])
        try expectWeights(result, "auto")
        let callGraph = try JSONReport(Support.report(ofRecording: result)).summary["callGraph"] as? String ?? ""
        #expect(callGraph.hasPrefix("auto (dwarf for"), "\(callGraph)")
    }

    @Test func framePointerChainsWithoutLeafFramePointersAreRepaired() throws {
        let binary = try CCompiler.fixture("known_weights",
                                           flags: ["-O2", "-g", "-fno-omit-frame-pointer", "-momit-leaf-frame-pointer"])
        let result = try Support.perch(["record", "--call-graph", "fp", "-o", output("unw-leaf.data"), "--json", "--children", "--sort", "sym", "--", binary, "300"])
        try expectWeights(result, "fp with leaf repair")
        let callGraph = try JSONReport(Support.report(ofRecording: result)).summary["callGraph"] as? String ?? ""
        #expect(callGraph.hasPrefix("fp (leaf frames repaired"), "\(callGraph)")
    }

    @Test func stacksDeeperThanTheCopyAreMarkedTruncated() throws {
        let binary = try CCompiler.fixture("known_weights", flags: noFramePointers)
        let stacks = output("unw-trunc.folded")
        let result = try Support.perch(["record", "--call-graph", "dwarf,64", "-o", output("unw-trunc.data"), "--json", "--folded", stacks, "--", binary, "100"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try JSONReport(Support.report(ofRecording: result)).summary
        let notes = summary["notes"] as? [String] ?? []
        #expect(notes.contains { $0.contains("[truncated]") }, "\(notes)")
        let parsed = try FoldedFile.stacks(at: stacks)
        // unit → work_X → main fit in 64 bytes, and main's return address into libc; nothing further.
        #expect(share(parsed) { inOrder($0, ["[truncated]", "main", "work_", "unit"]) } > 90)
        #expect(share(parsed) { $0.contains { $0.hasPrefix("__libc_start_main") || $0 == "_start" } } < 1)
    }

    @Test func swiftReleaseBuildShowsItsCallTree() throws {
        let binary = output("swift_tree")
        if !FileManager.default.fileExists(atPath: binary) {
            let built = try Support.run("swiftc", ["-O", Support.packageRoot + "/Fixtures/swift_tree.swift", "-o", binary])
            guard built.status == 0 else { throw TestFailure("swiftc failed: \(built.stderr)") }
        }
        let stacks = output("unw-swift.folded")
        let result = try Support.perch(["record", "--call-graph", "dwarf", "-o", output("unw-swift.data"), "-q", "--folded", stacks, "--", binary, "20"])
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try FoldedFile.stacks(at: stacks)
        let stageOne = share(parsed) { inOrder($0, ["main", "Driver.run(rounds: Int)", "Pipeline.stageOne() -> UInt64", "hotLoop(Int) -> UInt64"]) }
        let stageTwo = share(parsed) { inOrder($0, ["main", "Driver.run(rounds: Int)", "Pipeline.stageTwo() -> UInt64", "hotLoop(Int) -> UInt64"]) }
        // Swift → libc → Swift: the comparator called from qsort.
        let throughLibc = share(parsed) { inOrder($0, ["Driver.sortThroughLibc()", "qsort", "compareSpinning(", "hotLoop(Int)"]) }
        #expect(stageOne > 40, "stageOne: \(stageOne)%")
        #expect(stageTwo > 10, "stageTwo: \(stageTwo)%")
        #expect(throughLibc > 5, "through qsort: \(throughLibc)%")
        #expect(stageOne + stageTwo + throughLibc > 95, "Swift call tree covers only \(stageOne + stageTwo + throughLibc)%")
    }

    static let python = "/root/.pyenv/versions/3.11.7/bin/python3.11"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python), "pyenv CPython 3.11.7 is not installed"))
    func pythonInterpreterFramesUnderItsMain() throws {
        let script = output("spin.py")
        try """
        import sys
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        total = 0
        for _ in range(int(sys.argv[1])):
            total += fib(25)
        print(total)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let stacks = output("unw-python.folded")
        let result = try Support.perch(["record", "--call-graph", "dwarf", "-o", output("unw-python.data"), "-q", "--folded", stacks, "--", Self.python, script, "12"])
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try FoldedFile.stacks(at: stacks)
        let underMain = share(parsed) { frames in
            inOrder(frames, ["Py_RunMain", "_PyEval_EvalFrameDefault"]) || inOrder(frames, ["pymain_run_python", "_PyEval_EvalFrameDefault"])
        }
        #expect(underMain > 50, "_PyEval_EvalFrameDefault under Py_RunMain in \(underMain)% of samples")
    }

    @Test func dlopenedLibraryAndSignalHandlerFrames() throws {
        let library = try CCompiler.fixture("dlopen_lib", flags: noFramePointers + ["-shared", "-fPIC"])
        let binary = try CCompiler.fixture("mixed_stacks", flags: noFramePointers, linking: ["-ldl"])
        let stacks = output("unw-mixed.folded")
        let result = try Support.perch(["record", "--call-graph", "dwarf", "-o", output("unw-mixed.data"), "-q", "--folded", stacks, "--", binary, library])
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try FoldedFile.stacks(at: stacks)
        let inLibrary = share(parsed) { inOrder($0, ["main", "load_and_call", "dl_work", "lib_spin"]) }
        let callback = share(parsed) { inOrder($0, ["main", "load_and_call", "dl_work", "back_in_main", "spin"]) }
        // The kernel's signal frame (glibc's __restore_rt) sits between the interrupted code and the handler.
        let handler = share(parsed) { inOrder($0, ["main", "interrupted_spin", "on_signal", "handler_spin", "spin"]) }
        #expect(inLibrary > 15, "dlopen'd library: \(inLibrary)%")
        #expect(callback > 2, "callback from the library: \(callback)%")
        #expect(handler > 25, "signal handler over the interrupted frame: \(handler)%")
    }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func perchReportUnwindsPerfDwarfRecordings() throws {
        let binary = try CCompiler.fixture("known_weights", flags: noFramePointers)
        let data = output("unw-perf-dwarf.data")
        let recorded = try Support.run("perf", ["record", "-e", "cpu-clock", "-F", "2000", "--call-graph", "dwarf", "-o", data, "--", binary, "300"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let result = try Support.perch(["report", "-i", data, "--json", "--children", "--sort", "sym"])
        try expectWeights(result, "perf record --call-graph dwarf", recorded: false)
    }
}
