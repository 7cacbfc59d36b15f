import Foundation

/// What happened to one send attempt, with the whole exchange kept for the send log.
public enum SendOutcome: Sendable {
    case sent(gmailID: String, threadID: String?, response: HTTPResponse)
    /// Google answered with an error (from the token endpoint or from Gmail), or did not answer.
    case failed(FailedCall)
}

/// One call of users.messages.send (media upload) with token handling: a 401 from Gmail gets one
/// token refresh and one retry, since a token can be revoked or expire early.
public struct GmailSender: Sendable {
    public let endpoints: GoogleEndpoints
    let transport: HTTPTransport

    public init(endpoints: GoogleEndpoints, transport: HTTPTransport) {
        self.endpoints = endpoints
        self.transport = transport
    }

    /// `messageFile` holds the complete message as Gmail should see it (rewritten header + original body).
    public func send(messageFile: URL, tokens: TokenCache) async -> (SendOutcome, attempts: [HTTPExchange]) {
        await send(message: .file(messageFile), tokens: tokens)
    }

    /// `message` is the complete message as Gmail should see it, in memory or in a file.
    public func send(message messageFile: UploadBody, tokens: TokenCache) async -> (SendOutcome, attempts: [HTTPExchange]) {
        var exchanges: [HTTPExchange] = []
        do {
            var token = try await tokens.token()
            var response = try await post(messageFile, token: token, recordingInto: &exchanges)
            if response.status == 401 {
                token = try await tokens.tokenAfterRejection(of: token)
                response = try await post(messageFile, token: token, recordingInto: &exchanges)
            }
            if response.status == 200, let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
               let id = object["id"] as? String {
                return (.sent(gmailID: id, threadID: object["threadId"] as? String, response: response), exchanges)
            }
            return (.failed(FailedCall(endpoint: .gmailSend, url: endpoints.sendURL, response: response, transportError: nil)), exchanges)
        } catch let error as TransportError {
            return (.failed(FailedCall(endpoint: .gmailSend, url: endpoints.sendURL, response: nil, transportError: "\(error)")), exchanges)
        } catch {
            return (.failed(FailedCall(tokenError: error)), exchanges)
        }
    }

    /// One upload, recorded whether or not an answer came.
    private func post(_ body: UploadBody, token: AccessToken, recordingInto exchanges: inout [HTTPExchange]) async throws -> HTTPResponse {
        let started = Date()
        do {
            let response = try await transport.upload(endpoints.sendURL, body: body, contentType: "message/rfc822", bearer: token.value)
            exchanges.append(HTTPExchange(url: endpoints.sendURL, startedAt: started, finishedAt: Date(), response: response, transportError: nil))
            return response
        } catch {
            exchanges.append(HTTPExchange(url: endpoints.sendURL, startedAt: started, finishedAt: Date(), response: nil, transportError: "\(error)"))
            throw error
        }
    }
}

/// One HTTP request and its answer, as the send log records it.
public struct HTTPExchange: Sendable {
    public var url: URL
    public var startedAt: Date
    public var finishedAt: Date
    public var response: HTTPResponse?
    public var transportError: String?
}

extension HTTPExchange {
    /// A failed call as an exchange of its own: a failed token request is an attempt too, with Google's whole answer.
    public init(_ call: FailedCall, at time: Date) {
        self.init(url: call.url, startedAt: time, finishedAt: time, response: call.response, transportError: call.transportError)
    }
}

/// A call to Google that did not succeed: which endpoint, and the whole answer (or why there was none).
public struct FailedCall: Error, Sendable, CustomStringConvertible {
    public enum Endpoint: String, Sendable {
        case token
        case gmailSend = "gmail_send"
        case tokeninfo
        case revoke
    }

    public var endpoint: Endpoint
    public var url: URL
    public var response: HTTPResponse?
    public var transportError: String?

    public var description: String {
        if let response { return "\(endpoint.rawValue) HTTP \(response.status): \(response.bodyText)" }
        return "\(endpoint.rawValue) unreachable: \(transportError ?? "unknown")"
    }
}

// In an extension, so the memberwise initializer (GmailAPI's own calls) stays.
extension FailedCall {
    /// A failed token refresh, from the error the grant threw.
    public init(tokenError error: any Error) {
        if let error = error as? TokenEndpointError {
            self.init(endpoint: .token, url: error.endpoint, response: error.response, transportError: error.transportError?.description)
        } else {
            self.init(endpoint: .token, url: URL(string: "about:token")!, response: nil, transportError: "\(error)")
        }
    }
}
