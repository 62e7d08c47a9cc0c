import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 POST over SwiftNIO (the server's own dependency; no HTTP client library): the
/// response's status, or why there is none. Bounded in time (connect 5 s, whole exchange 30 s)
/// and in what it reads (the response body is discarded as it arrives).
enum HTTPPost {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func send(host: String, port: Int, path: String, contentType: String, body: [UInt8]) async -> Result<Int, Failure> {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let promise = loop.makePromise(of: Int.self)
        let answer = Answer(promise)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(StatusCollector(answer: answer))
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            answer.fail(Failure(description: "cannot connect to \(host):\(port): \(error)"))
            return .failure(Failure(description: "cannot connect to \(host):\(port): \(error)"))
        }
        let timeout = loop.scheduleTask(in: .seconds(30)) {
            answer.fail(Failure(description: "no answer from \(host):\(port) within 30 s"))
            channel.close(promise: nil)
        }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)")
        head.headers.add(name: "Content-Type", value: contentType)
        head.headers.add(name: "Content-Length", value: "\(body.count)")
        head.headers.add(name: "User-Agent", value: "perch/0.1")
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            timeout.cancel()
            channel.close(promise: nil)
        }
        do {
            return .success(try await promise.futureResult.get())
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }
}

/// A promise completed once, whoever comes first (the response, the connection's end, the timeout).
final class Answer: Sendable {
    private let promise: EventLoopPromise<Int>
    private let done = NIOLockedValueBox(false)

    init(_ promise: EventLoopPromise<Int>) { self.promise = promise }

    private func claim() -> Bool { done.withLockedValue { done in defer { done = true }; return !done } }
    func succeed(_ status: Int) { if claim() { promise.succeed(status) } }
    func fail(_ error: Error) { if claim() { promise.fail(error) } }
}

/// Completes the answer with the response's status once the response has ended, or fails it
/// when the connection ends first.
private final class StatusCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let answer: Answer
    private var status: Int?

    init(answer: Answer) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body: break
        case .end:
            if let status { answer.succeed(status) }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.fail(HTTPPost.Failure(description: "the connection closed before a whole response"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        answer.fail(HTTPPost.Failure(description: "\(error)"))
        context.close(promise: nil)
    }
}
