import ProfileModel

extension TextReport {
    /// The report as JSON:
    ///
    /// ```json
    /// {
    ///   "summary": {"event": "cpu-clock", "frequency": 4000, "period": null, "samples": 12345,
    ///               "totalSamples": 12345, "totalWeight": 3086250000, "lostRecords": 0,
    ///               "lostSamples": 0, "throttleEvents": 0, "unthrottleEvents": 0,
    ///               "malformedRecords": 0, "callGraph": "fp", "notes": [], "commandLine": null},
    ///   "sortKeys": ["comm", "dso", "sym"], "metric": "weight",
    ///   "entries": [{"overhead": 50.0, "children": 70.0, "self": 50.0, "comm": "known", "pid": null,
    ///                "tid": null, "dso": "known", "symbol": "work_a", "kind": "user",
    ///                "sourceLine": null, "selfSamples": 2, "selfWeight": 500, "childrenSamples": 3,
    ///                "childrenWeight": 700}]
    /// }
    /// ```
    ///
    /// `samples` is ``RecordingSummary/sampleCount``; `totalSamples`/`totalWeight` are the sums over the
    /// stacks. Percentages use `metric` (``ReportOptions/useWeight``). `overhead` is the sort column
    /// (children in children mode, else self); children are always computed. Fields of keys that are
    /// not sort keys are null. Entries follow the text report's order and percent limit.
    public static func json(_ profile: Profile, options: ReportOptions) -> String {
        let table = OverheadTable(profile: profile, options: options, computeChildren: true)
        let s = profile.summary
        let summary = JSON.object([
            ("event", JSON.string(s.event)),
            ("frequency", JSON.number(s.frequency)),
            ("period", JSON.number(s.period)),
            ("samples", JSON.number(s.sampleCount)),
            ("totalSamples", JSON.number(table.totalSamples)),
            ("totalWeight", JSON.number(table.totalWeight)),
            ("lostRecords", JSON.number(s.lostRecords)),
            ("lostSamples", JSON.number(s.lostSamples)),
            ("throttleEvents", JSON.number(s.throttleEvents)),
            ("unthrottleEvents", JSON.number(s.unthrottleEvents)),
            ("malformedRecords", JSON.number(s.malformedRecords)),
            ("inlinedFunctions", JSON.string(s.inlinedFunctions.rawValue)),
            ("callGraph", JSON.string(s.callGraph)),
            ("notes", "[" + s.notes.map { JSON.string($0.text) }.joined(separator: ", ") + "]"),
            ("commandLine", JSON.string(s.commandLine)),
        ])
        var out = "{\n  \"summary\": " + summary + ",\n"
        out += "  \"sortKeys\": [" + options.effectiveKeys.map { JSON.string($0.rawValue) }.joined(separator: ", ") + "],\n"
        out += "  \"metric\": " + JSON.string(options.useWeight ? "weight" : "samples") + ",\n"
        out += "  \"entries\": ["
        for (i, e) in table.entries.enumerated() {
            let selfPct = table.selfPercent(e), childrenPct = table.childrenPercent(e)
            out += (i == 0 ? "\n    " : ",\n    ") + JSON.object([
                ("overhead", JSON.number(options.children ? childrenPct : selfPct)),
                ("children", JSON.number(childrenPct)),
                ("self", JSON.number(selfPct)),
                ("comm", JSON.string(e.comm)),
                ("pid", JSON.number(e.pid)),
                ("tid", JSON.number(e.tid)),
                ("dso", JSON.string(e.dso)),
                ("symbol", JSON.string(e.symbol)),
                ("kind", JSON.string(e.kind.map(kindName))),
                ("sourceLine", JSON.string(e.sourceLine)),
                ("selfSamples", JSON.number(e.selfSamples)),
                ("selfWeight", JSON.number(e.selfWeight)),
                ("childrenSamples", JSON.number(e.childrenSamples)),
                ("childrenWeight", JSON.number(e.childrenWeight)),
            ])
        }
        out += table.entries.isEmpty ? "]\n}\n" : "\n  ]\n}\n"
        return out
    }

    /// `user`, `kernel`, `jit` or `inlined`.
    static func kindName(_ kind: FrameKind) -> String {
        switch kind {
        case .user: "user"
        case .kernel: "kernel"
        case .jit: "jit"
        case .inlined: "inlined"
        }
    }
}
