import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The page the browser sees at the end of the consent, or for a request that is not the redirect.
struct LoopbackPage: Sendable {
    var status: HTTPResponseStatus
    var title: String
    var text: String

    var html: String {
        """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>\(Self.escape(title))</title></head>
        <body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
        <h1>\(Self.escape(title))</h1>
        <p>\(Self.escape(text))</p>
        </body></html>

        """
    }

    static let notFound = LoopbackPage(
        status: .notFound, title: "Not found", text: "This is gmail-relay's sign-in listener: it only waits for Google's redirect.")
    static let finished = LoopbackPage(
        status: .gone, title: "This sign-in has finished",
        text: "gmail-relay is no longer waiting for this redirect. You can close this window.")

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// A `GET /...` the listener received, waiting for its page. The browser gets the final page only
/// when the flow knows the outcome, so it can say whether the account is connected.
struct LoopbackRequest: Sendable {
    /// The request target as sent, e.g. `/?state=...&code=...`. Holds the code: never print it.
    let target: String
    fileprivate let id: Int
    fileprivate let listener: LoopbackRedirectListener

    func answer(_ page: LoopbackPage) async {
        await listener.answer(id: id, with: page)
    }
}

/// The redirect target of the installed-app flow: a small HTTP server on 127.0.0.1 (never another
/// address) that hands every `GET /` to the flow through `requests`, and answers other paths
/// (`/favicon.ico` ...) with 404 at once. One flow, then `close()`.
final class LoopbackRedirectListener: @unchecked Sendable {
    let port: Int
    let requests: AsyncStream<LoopbackRequest>
    private let continuation: AsyncStream<LoopbackRequest>.Continuation
    private var serverChannel: Channel?
    /// Requests handed out but not answered yet; `close()` answers the rest.
    private var pending: [Int: (reply: EventLoopPromise<LoopbackPage>, sent: EventLoopFuture<Void>)] = [:]
    private var nextID = 0
    private var closed = false
    private let lock = NSLock()

    private init(port: Int) {
        self.port = port
        let pair = AsyncStream.makeStream(of: LoopbackRequest.self)
        requests = pair.stream
        continuation = pair.continuation
    }

    /// Binds 127.0.0.1:`port` (0: a free port the system picks).
    static func bind(port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> LoopbackRedirectListener {
        let holder = ListenerHolder()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RedirectRequestHandler(holder: holder))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .bind(host: "127.0.0.1", port: port)
            .get()
        let listener = LoopbackRedirectListener(port: channel.localAddress?.port ?? port)
        listener.serverChannel = channel
        holder.listener = listener
        return listener
    }

    /// Called on the event loop for each complete `GET /` request: the page to answer with (once
    /// the flow decides) and the promise the handler completes when the page is written.
    fileprivate func accept(target: String, on eventLoop: any EventLoop) -> (page: EventLoopFuture<LoopbackPage>, sent: EventLoopPromise<Void>) {
        let reply = eventLoop.makePromise(of: LoopbackPage.self)
        let sent = eventLoop.makePromise(of: Void.self)
        let id: Int? = lock.withLock {
            guard !closed else { return nil }
            nextID += 1
            pending[nextID] = (reply, sent.futureResult)
            return nextID
        }
        guard let id else {
            reply.succeed(.finished)
            return (reply.futureResult, sent)
        }
        continuation.yield(LoopbackRequest(target: target, id: id, listener: self))
        return (reply.futureResult, sent)
    }

    fileprivate func answer(id: Int, with page: LoopbackPage) async {
        guard let entry = lock.withLock({ pending.removeValue(forKey: id) }) else { return }
        entry.reply.succeed(page)
        try? await entry.sent.get()
    }

    /// Stops listening; requests still waiting get the "finished" page.
    func close() async {
        let rest: [(reply: EventLoopPromise<LoopbackPage>, sent: EventLoopFuture<Void>)] = lock.withLock {
            closed = true
            defer { pending = [:] }
            return Array(pending.values)
        }
        continuation.finish()
        for entry in rest { entry.reply.succeed(.finished) }
        for entry in rest { try? await entry.sent.get() }
        try? await serverChannel?.close()
    }

    /// Ties the child handlers to the listener, which exists only once the bind succeeded.
    fileprivate final class ListenerHolder: @unchecked Sendable {
        private let lock = NSLock()
        private var value: LoopbackRedirectListener?
        var listener: LoopbackRedirectListener? {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }
}

/// One connection: reads one request, answers it, closes (`Connection: close`).
private final class RedirectRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let holder: LoopbackRedirectListener.ListenerHolder
    private var head: HTTPRequestHead?
    private var answered = false

    init(holder: LoopbackRedirectListener.ListenerHolder) {
        self.holder = holder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
        case .body:
            break
        case .end:
            guard let head, !answered else { return }
            answered = true
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard head.method == .GET, path == "/", let listener = holder.listener else {
                respond(context: context, page: .notFound)
                return
            }
            let (page, sent) = listener.accept(target: head.uri, on: context.eventLoop)
            page.assumeIsolated().whenSuccess { page in
                self.respond(context: context, page: page, sent: sent)
            }
        }
    }

    private func respond(context: ChannelHandlerContext, page: LoopbackPage, sent: EventLoopPromise<Void>? = nil) {
        let body = context.channel.allocator.buffer(string: page.html)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        let responseHead = HTTPResponseHead(version: .http1_1, status: page.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
            sent?.succeed(())
        }
    }
}
