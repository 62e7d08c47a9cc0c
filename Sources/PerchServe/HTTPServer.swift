import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request as the responder sees it: a GET or HEAD has no body worth reading.
struct ServeRequest: Sendable {
    var method: HTTPMethod
    /// The path, without the query.
    var path: String
    /// The query's parameters, percent-decoded; the first of a repeated name wins.
    var query: [String: String]
    /// The connection the request came on (to see its client go away).
    var channel: any Channel

    init(method: HTTPMethod, uri: String, channel: any Channel) {
        self.method = method
        self.channel = channel
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts[0])
        query = [:]
        guard parts.count == 2 else { return }
        for pair in parts[1].split(separator: "&") {
            let field = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.percentDecoded(field[0])
            if query[name] == nil { query[name] = field.count == 2 ? Self.percentDecoded(field[1]) : "" }
        }
    }

    /// `%XX` escapes and `+` (a space in a form query) undone; a malformed escape is kept as it is.
    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), index + 2 < utf8.count,
               let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// What the responder answers: a status, headers and the whole body.
struct ServeResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
}

/// Answers requests; called on any thread, as many at once as there are connections.
protocol ServeResponder: Sendable {
    func respond(to request: ServeRequest) async -> ServeResponse
}

/// A small HTTP/1.1 server over SwiftNIO: keep-alive and pipelining (NIO's pipeline handler),
/// at most `maximumConnections` connections (more wait in the listen backlog), and a connection
/// that sends nothing for `idleSeconds` while no request of its is being answered is closed
/// (a stalled client, or half a request head, holds no descriptor for long).
enum HTTPServer {
    /// A bound server: its port, and the way to stop it.
    struct Listening: Sendable {
        let channel: any Channel
        /// The port bound (the one asked for, or the kernel's choice for port 0).
        let port: Int
        fileprivate let answering: Answering

        /// Stops taking connections; those open stay until their answers are written.
        func close() { channel.close(promise: nil) }

        /// Returns when the server has stopped taking connections.
        func closed() async throws { try await channel.closeFuture.get() }

        /// Returns when no request is waiting for its answer (checked every 50 ms).
        func drained() async {
            while answering.count.withLockedValue({ $0 }) > 0 {
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
        }
    }

    /// The requests of every connection that are read whole and not answered yet.
    fileprivate final class Answering: Sendable {
        let count = NIOLockedValueBox(0)
    }

    /// Binds `host:port` and serves on SwiftNIO's threads until ``Listening/close()``.
    static func listen(
        host: String, port: Int, maximumConnections: Int, idleSeconds: Int64, responder: any ServeResponder
    ) async throws -> Listening {
        let answering = Answering()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionLimit(maximum: maximumConnections))
                }
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: .seconds(idleSeconds)))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(RequestHandler(responder: responder, answering: answering))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let server = try await bootstrap.bind(host: host, port: port).get()
        return Listening(channel: server, port: server.localAddress?.port ?? port, answering: answering)
    }

    /// On the listening channel: stops accepting while `maximum` connections are open, and
    /// starts again when one closes.
    private final class ConnectionLimit: ChannelInboundHandler {
        typealias InboundIn = any Channel
        typealias InboundOut = any Channel
        private let maximum: Int
        private var open = 0

        init(maximum: Int) { self.maximum = maximum }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let child = unwrapInboundIn(data)
            open += 1
            if open >= maximum { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
            let limit = NIOLoopBound(self, eventLoop: context.eventLoop)
            let server = context.channel
            child.closeFuture.hop(to: context.eventLoop).whenComplete { _ in
                let limit = limit.value
                limit.open -= 1
                if limit.open == limit.maximum - 1 {
                    server.setOption(.autoRead, value: true).whenComplete { _ in }
                    server.read()
                }
            }
            context.fireChannelRead(data)
        }
    }

    /// On each connection: a request's head, then at its end the responder's answer, written
    /// when it is ready. Closes the connection when the idle timer fires and no whole request is
    /// waiting for its answer (a client that stalls halfway through a request is idle).
    private final class RequestHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        private let responder: any ServeResponder
        /// The server's count of requests waiting for their answers.
        private let serverAnswering: Answering
        private var head: HTTPRequestHead?
        /// This connection's requests read whole whose answers are not written yet.
        private var answering = 0

        init(responder: any ServeResponder, answering: Answering) {
            self.responder = responder
            serverAnswering = answering
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
            case .body:
                break // GET and HEAD only: a body is read and dropped, never kept.
            case .end:
                guard let head else { return }
                self.head = nil
                answering += 1
                serverAnswering.count.withLockedValue { $0 += 1 }
                answer(head, channel: context.channel)
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, answering == 0 {
                context.close(promise: nil)
                return
            }
            context.fireUserInboundEventTriggered(event)
        }

        private func answer(_ head: HTTPRequestHead, channel: any Channel) {
            let request = ServeRequest(method: head.method, uri: head.uri, channel: channel)
            let keepAlive = head.isKeepAlive, version = head.version
            let handler = NIOLoopBound(self, eventLoop: channel.eventLoop)
            let responder = self.responder, serverAnswering = self.serverAnswering
            Task {
                let response = await responder.respond(to: request)
                channel.eventLoop.execute {
                    handler.value.answering -= 1
                    var headers = HTTPHeaders(response.headers)
                    headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
                    headers.replaceOrAdd(name: "Server", value: "perch")
                    if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                    let status = HTTPResponseStatus(statusCode: response.status)
                    channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers)), promise: nil)
                    if request.method != .HEAD, !response.body.isEmpty {
                        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: response.body))), promise: nil)
                    }
                    let written = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                    written.whenComplete { _ in
                        serverAnswering.count.withLockedValue { $0 -= 1 }
                        if !keepAlive { channel.close(promise: nil) }
                    }
                }
            }
        }
    }
}
