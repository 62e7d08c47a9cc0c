import ArgumentParser

@main
struct Perch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perch",
        abstract: "A sampling profiler for Linux that talks to perf_event_open directly.",
        version: "perch 0.1",
        subcommands: [RecordCommand.self, ReportCommand.self, SchedCommand.self, TopCommand.self, SymbolizeCommand.self, DoctorCommand.self, FlamegraphCommand.self, CollapseCommand.self, DiffCommand.self, StatCommand.self, ScriptCommand.self, ListCommand.self, ServeCommand.self]
    )
}
