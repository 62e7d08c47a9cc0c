import ProfileModel
import Reporting
import Testing
import TestSupport

/// pprof takes a profile's first mapping for its program (`File:`): the busiest process's executable.
@Suite struct PprofMainBinaryTests {
    @Test func theBusiestProcessesExecutableNamedAsTheProcessIsFirst() {
        var b = ProfileBuilder()
        let shell = b.thread(pid: 10, tid: 10, comm: "bash")
        let app = b.thread(pid: 20, tid: 20, comm: "python3")
        let worker = b.thread(pid: 20, tid: 21, comm: "python3")
        // The loader is seen first (the start-up samples); the shell has fewer samples.
        b.frame("_dl_start", dso: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        b.frame("main", dso: "/usr/bin/bash", key: "bash-main")
        b.frame("Py_Main", dso: "/usr/bin/python3.11")
        b.frame("helper", dso: "/usr/lib/helper-tool", key: "helper")
        b.frame("memcpy", dso: "/usr/lib/x86_64-linux-gnu/libc.so.6")
        b.frame("do_syscall_64", dso: "[kernel.kallsyms]", kind: .kernel)
        b.stack(app, ["_dl_start"], count: 1, weight: 1)
        b.stack(shell, ["bash-main", "memcpy"], count: 3, weight: 3)
        b.stack(app, ["Py_Main", "memcpy", "do_syscall_64"], count: 4, weight: 4)
        // Another file the process ran more code in, but not named as the process.
        b.stack(worker, ["helper", "memcpy"], count: 6, weight: 6)
        #expect(PprofWriter.mainBinary(of: b.profile) == "/usr/bin/python3.11")
        // The first mapping's file is the first string after the sample types' and labels'.
        let text = String(decoding: PprofWriter.encode(b.profile), as: UTF8.self)
        let main = text.range(of: "/usr/bin/python3.11")!.lowerBound, loader = text.range(of: "ld-linux-x86-64.so.2")!.lowerBound
        #expect(main < loader)
    }

    @Test func withoutAFileNamedAsTheProcessTheOneMostStacksPassThrough() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 5, tid: 5, comm: "renamed")
        b.frame("a", dso: "/opt/app/bin/server")
        b.frame("b", dso: "/opt/app/bin/plugin-host")
        b.frame("c", dso: "/usr/lib/libfoo.so.1")
        b.stack(t, ["a", "c"], count: 5, weight: 5)
        b.stack(t, ["b", "c"], count: 2, weight: 2)
        #expect(PprofWriter.mainBinary(of: b.profile) == "/opt/app/bin/server")
        // Only libraries and the kernel: none.
        var libs = ProfileBuilder()
        let l = libs.thread(pid: 6, tid: 6, comm: "x")
        libs.frame("c", dso: "/usr/lib/libfoo.so.1")
        libs.stack(l, ["c"], count: 1, weight: 1)
        #expect(PprofWriter.mainBinary(of: libs.profile) == nil)
    }
}
