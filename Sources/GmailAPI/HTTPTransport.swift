import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP answer with everything kept: the send log stores the full body of every failure.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A request body: small messages go from memory, large ones are streamed from their file.
public enum UploadBody: Sendable {
    case bytes(Data)
    case file(URL)
}

/// No HTTP answer at all: DNS, connection, TLS or time-out trouble.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Every call to Google goes through here: FoundationNetworking's URLSession (libcurl on Linux).
public final class HTTPTransport: Sendable {
    private let session: URLSession
    public let timeout: TimeInterval

    public init(timeout: TimeInterval = 60) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = max(timeout, 600)
        // No cookies at all: Google's APIs use none, and with a cookie store FoundationNetworking parses
        // every response header line for Set-Cookie (a measurable share of each call's CPU).
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        self.session = URLSession(configuration: configuration)
        self.timeout = timeout
    }

    /// `application/x-www-form-urlencoded` POST (token, revoke endpoints).
    public func postForm(_ url: URL, fields: [(String, String)]) async throws -> HTTPResponse {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(FormEncoding.encode(fields).utf8)
        return try await perform(request)
    }

    public func get(_ url: URL, bearer: String? = nil) async throws -> HTTPResponse {
        var request = URLRequest(url: url)
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        return try await perform(request)
    }

    /// POSTs a file as the body, streamed from disk so a 30 MB message never sits in memory.
    public func upload(_ url: URL, file: URL, contentType: String, bearer: String) async throws -> HTTPResponse {
        try await upload(url, body: .file(file), contentType: contentType, bearer: bearer)
    }

    /// POSTs a body from memory or streamed from a file.
    public func upload(_ url: URL, body: UploadBody, contentType: String, bearer: String) async throws -> HTTPResponse {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
        switch body {
        case .file(let file):
            return try await perform(request, uploading: file)
        case .bytes(let bytes):
            request.httpBody = bytes
            return try await perform(request)
        }
    }

    /// POSTs a body as is (the account-state webhook's JSON).
    public func post(
        _ url: URL, body: Data, contentType: String, userAgent: String? = nil, headers: [String: String] = [:]
    ) async throws -> HTTPResponse {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if let userAgent { request.setValue(userAgent, forHTTPHeaderField: "User-Agent") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        return try await perform(request)
    }

    /// One exchange over URLSession's completion-handler API, cancellable from Swift concurrency.
    ///
    /// Not `session.data(for:)`/`upload(for:fromFile:)`: on Linux their cancellation handler calls
    /// `URLSessionTask.cancel()`, which waits for the session's work queue while the runtime holds the
    /// Swift task's status lock, and the work queue, finishing the same exchange, waits for that lock
    /// to resume the task: a deadlock whenever a cancel meets an answer (swift-corelibs-foundation
    /// #5412). Here the cancel is handed to another thread, so nothing waits under that lock.
    private func perform(_ request: URLRequest, uploading file: URL? = nil) async throws -> HTTPResponse {
        let exchange = CancellableExchange()
        do {
            let (data, response) = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Data, URLResponse), any Error>) in
                    let finished: @Sendable (Data?, URLResponse?, (any Error)?) -> Void = { data, response, error in
                        if let response, error == nil {
                            continuation.resume(returning: (data ?? Data(), response))
                        } else {
                            continuation.resume(throwing: error ?? URLError(.badServerResponse))
                        }
                    }
                    let task: URLSessionTask = if let file {
                        session.uploadTask(with: request, fromFile: file, completionHandler: finished)
                    } else {
                        session.dataTask(with: request, completionHandler: finished)
                    }
                    exchange.start(task)
                }
            } onCancel: {
                exchange.cancel()
            }
            return Self.wrap(data, response)
        } catch {
            throw TransportError("\(error.localizedDescription)")
        }
    }

    private static func wrap(_ data: Data, _ response: URLResponse) -> HTTPResponse {
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http?.allHeaderFields ?? [:] {
            headers["\(key)"] = "\(value)"
        }
        return HTTPResponse(status: http?.statusCode ?? 0, headers: headers, body: data)
    }
}

/// The URLSessionTask of one exchange and whether its Swift task was cancelled, whichever comes first.
private final class CancellableExchange: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionTask?
    private var cancelled = false

    func start(_ task: URLSessionTask) {
        let cancelNow = lock.withLock {
            self.task = task
            return cancelled
        }
        task.resume()
        if cancelNow { Self.cancelElsewhere(task) }
    }

    /// Called by the Swift runtime with the task's status lock held: must not wait for anything.
    func cancel() {
        let running = lock.withLock {
            cancelled = true
            return task
        }
        if let running { Self.cancelElsewhere(running) }
    }

    private static func cancelElsewhere(_ task: URLSessionTask) {
        DispatchQueue.global().async { task.cancel() }
    }
}

enum FormEncoding {
    /// RFC 3986 unreserved characters stay; everything else is percent-encoded (so '+' and '/' in tokens survive).
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { key, value in "\(component(key))=\(component(value))" }.joined(separator: "&")
    }

    /// One key or value, percent-encoded for a form body or a query string.
    static func component(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
