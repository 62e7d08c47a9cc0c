import CPerfEvent
import Glibc
import Testing
@testable import PerfEvents

/// The rr-style notification: a thread arms it, blocks in `read` on an empty pipe and gets the
/// signal (EINTR); disarmed, the same read blocks until data arrives. Serialized: signals.
@Suite(.serialized) struct DeschedNotifierTests {
    /// Reads one byte from `fd`; a helper thread writes it after `delay` microseconds.
    private func blockingRead(_ pipe: (read: Int32, write: Int32), writeAfter delay: UInt32) -> (result: Int, errno: Int32) {
        var writer = pthread_t()
        let context = UnsafeMutablePointer<(Int32, UInt32)>.allocate(capacity: 1)
        context.initialize(to: (pipe.write, delay))
        pthread_create(&writer, nil, { raw in
            let context = raw!.assumingMemoryBound(to: (Int32, UInt32).self).pointee
            usleep(context.1)
            var byte: UInt8 = 1
            _ = write(context.0, &byte, 1)
            return nil
        }, context)
        var byte: UInt8 = 0
        let result = read(pipe.read, &byte, 1)
        let code = errno
        pthread_join(writer, nil)
        if result < 0 { _ = read(pipe.read, &byte, 1) }  // collect the late byte
        context.deallocate()
        return (result, code)
    }

    @Test(arguments: DeschedNotifier.Mechanism.allCases)
    func armedBlockingReadIsInterruptedAndDisarmedIsNot(mechanism: DeschedNotifier.Mechanism) throws {
        #expect(perch_install_interrupting_handler(SIGUSR2) == 0)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let notifier: DeschedNotifier
        do {
            notifier = try DeschedNotifier(signal: SIGUSR2, preferred: mechanism)
        } catch {
            // Only acceptable where the kernel cannot offer it: the counter needs paranoid <= 1
            // or CAP_PERFMON, the switch-record path Linux >= 6.10. Root on our machines has both.
            #expect(geteuid() != 0, "root should have \(mechanism): \(error)")
            return
        }
        #expect(notifier.mechanism == mechanism)

        try notifier.arm()
        let armed = blockingRead((fds[0], fds[1]), writeAfter: 300_000)
        try notifier.disarm()
        #expect(armed.result == -1 && armed.errno == EINTR, "armed read returned \(armed.result), errno \(armed.errno)")

        let disarmed = blockingRead((fds[0], fds[1]), writeAfter: 50_000)
        #expect(disarmed.result == 1, "disarmed read returned \(disarmed.result), errno \(disarmed.errno)")
    }
}
