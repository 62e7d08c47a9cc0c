/// perf options Perch does not have, with why and what to use instead: a perf user who types one
/// gets that one line (exit 64) rather than a bare "unknown option".
enum PerfOnlyOptions {
    /// `perf record`'s.
    static let record: [String: String] = [
        "-b": "Perch does not record branch stacks", "--branch-any": "Perch does not record branch stacks",
        "-j": "Perch does not record branch stacks", "--branch-filter": "Perch does not record branch stacks",
        "-d": "Perch does not record sample data addresses", "--data": "Perch does not record sample data addresses",
        "-i": "Perch always follows the command's threads and children (-t TID records single threads)",
        "--no-inherit": "Perch always follows the command's threads and children (-t TID records single threads)",
        "-n": "Perch always samples (perf stat counts without sampling)",
        "--no-samples": "Perch always samples (perf stat counts without sampling)",
        "-D": "Perch has no start delay; start the command, then perch record -p PID",
        "--delay": "Perch has no start delay; start the command, then perch record -p PID",
        "--per-thread": "Perch opens one ring per CPU with inherit; -t TID records single threads",
        "-R": "Perch records no raw tracepoint data", "--raw-samples": "Perch records no raw tracepoint data",
        "-W": "Perch records no sample weights", "--weight": "Perch records no sample weights",
        "-k": "Perch's sample times are the kernel's perf clock", "--clockid": "Perch's sample times are the kernel's perf clock",
        "--off-cpu": "use perch record --switches, then perch report --off-cpu (or perch sched record)",
        "-v": "perch record always prints its notes; perch doctor explains what this machine allows",
        "--verbose": "perch record always prints its notes; perch doctor explains what this machine allows",
        "--max-size": "Perch has no size limit; --duration bounds a recording",
        "-I": "Perch records no interrupt registers", "--intr-regs": "Perch records no interrupt registers",
        "--user-regs": "Perch chooses the user registers its unwinder needs",
    ]

    /// `perf report`'s.
    static let report: [String: String] = [
        "-D": "Perch has no raw dump; perf report -D reads Perch's files",
        "--dump-raw-trace": "Perch has no raw dump; perf report -D reads Perch's files",
        "-S": "Perch has no symbol filter; --dsos, --comms, --pids, --tids filter samples",
        "--symbols": "Perch has no symbol filter; --dsos, --comms, --pids, --tids filter samples",
        "-U": "Perch shows unresolved samples as [unknown] entries; -v says which shared objects they come from",
        "--hide-unresolved": "Perch shows unresolved samples as [unknown] entries; -v says which shared objects they come from",
        "--percentage": "Perch's percentages are always of the samples the filters keep",
        "--stats": "perch report --threads and --processes break the samples down",
        "--tasks": "perch report --threads and --processes break the samples down",
        "--mmaps": "perf report --mmaps reads Perch's files",
        "-T": "use --threads for per-thread samples",
        "--hierarchy": "Perch's report is flat; -g draws each entry's call graph",
        "--time": "Perch has no time filter",
        "-F": "Perch's columns are the overhead, -n's Samples and the sort keys (-s)",
        "--fields": "Perch's columns are the overhead, -n's Samples and the sort keys (-s)",
        "-M": "Perch does no disassembly (perf annotate does)", "--objdump": "Perch does no disassembly (perf annotate does)",
        "--disassembler-style": "Perch does no disassembly (perf annotate does)",
        "-k": "Perch symbolizes the kernel from /proc/kallsyms", "--vmlinux": "Perch symbolizes the kernel from /proc/kallsyms",
        "--kallsyms": "Perch symbolizes the kernel from /proc/kallsyms",
        "--symfs": "Perch reads each binary at the path it was recorded at",
        "--no-demangle": "Perch always demangles (C++, Rust, Swift)",
        "--show-total-period": "the header shows the event count (the total period); --json gives each entry's",
        "-b": "Perch records no branch stacks", "--branch-stack": "Perch records no branch stacks",
        "--group": "a recording with several events gives a section per event (--event NAME picks one)",
    ]

    /// The one line for `word` (an option, `=value` allowed) of `perf subcommand`, if Perch lacks it.
    static func refusal(_ word: String, subcommand: String) -> String? {
        let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
        guard let reason = (subcommand == "record" ? record : report)[name] else { return nil }
        return "perf \(subcommand)'s \(name) is not in Perch: \(reason)"
    }
}
