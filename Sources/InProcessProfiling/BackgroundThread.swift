import CInProcessSampler
#if canImport(Glibc)
import Glibc
#endif

/// One named POSIX thread running a closure, joined explicitly. The profilers' drain loops run
/// on such a thread so that they never borrow one of the host's (Swift concurrency) threads.
final class BackgroundThread {
    private var thread = pthread_t()
    private var joined = false

    /// Starts `body` on a new thread named `name` (at most 15 bytes show in /proc).
    init(name: String, body: @escaping @Sendable () -> Void) throws(ProfilerError) {
        let box = Unmanaged.passRetained(Box(name: name, body: body))
        let result = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.name.withCString { perch_sampler_name_thread($0) }
            box.body()
            return nil
        }, box.toOpaque())
        if result != 0 {
            box.release()
            throw .samplerUnavailable("cannot start a thread: \(String(cString: strerror(result)))")
        }
    }

    /// Waits for the closure to return.
    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    private final class Box {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = String(decoding: name.utf8.prefix(15), as: UTF8.self)
            self.body = body
        }
    }
}
