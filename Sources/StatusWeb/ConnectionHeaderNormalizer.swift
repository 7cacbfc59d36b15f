import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Hummingbird 2 ends a keep-alive connection only when the Connection header is exactly "close", but
/// connection options are case-insensitive (RFC 9110 7.6.1) and WordPress's HTTP client sends "Close":
/// such a client waited for its time-out. This lowercases the field before Hummingbird reads it.
final class ConnectionHeaderNormalizer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var part = unwrapInboundIn(data)
        if case .head(var head) = part, let value = head.headerFields[.connection], value != value.lowercased() {
            head.headerFields[.connection] = value.lowercased()
            part = .head(head)
        }
        context.fireChannelRead(wrapInboundOut(part))
    }
}
