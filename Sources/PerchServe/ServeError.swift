/// A request that cannot be answered with a profile: an HTTP status and one line saying why.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    public enum Status: Int, Sendable {
        case badRequest = 400
        case forbidden = 403
        case notFound = 404
        case methodNotAllowed = 405
        case tooManyRequests = 429
        case clientClosed = 499
        case internalError = 500
        case unavailable = 503
    }

    public var status: Status
    public var message: String
    /// Seconds after which the same request may succeed (the `Retry-After` header).
    public var retryAfter: Int?

    public init(_ status: Status, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        // One line: a body and a log line never span several.
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
