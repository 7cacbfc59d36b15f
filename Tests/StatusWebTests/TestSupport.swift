import Foundation
import GmailAPI
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import RelayConfig
import RelayStatus
import RelayVocabulary
import Testing
import RelayStore
@testable import StatusWeb

/// A real store in a fresh temp directory (removed when the fixture goes), and a web server over it.
final class Fixture: @unchecked Sendable {
    let directory: String
    let store: RelayStore

    init() throws {
        directory = NSTemporaryDirectory() + "statusweb-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try RelayStore.open(dataDirectory: directory + "/data", options: .init(passwordHashing: .testing))
    }

    deinit {
        // No `store.close()` here: close waits for every reader to be returned, and a test's cancelled
        // watcher task may still hold one while the fixture goes; closing then blocked a cooperative
        // thread for good (seen once on a 2-core machine). The connections close when the store is freed.
        try? FileManager.default.removeItem(atPath: directory)
    }

    func server(
        token: String? = nil, readToken: String? = nil, listen: SocketAddressSpec = SocketAddressSpec(host: "127.0.0.1", port: 0),
        certificate: ServedCertificate? = nil
    ) throws -> StatusWebServer {
        var logger = Logger(label: "statusweb-test")
        logger.logLevel = .critical
        let security = try WebSecurity(listen: listen, adminToken: token, readToken: readToken)
        let store = self.store
        return try StatusWebServer(
            reporter: StatusReporter(store: store, certificate: { certificate }), security: security,
            metrics: { await StoreGauges.prometheusText(store) }, logger: logger)
    }

    func app(token: String? = nil) throws -> some ApplicationProtocol {
        try server(token: token).application(listen: SocketAddressSpec(host: "127.0.0.1", port: 0))
    }

    @discardableResult
    func addAccount(_ name: String, kind: AccountKind = .oauthUser, address: String? = nil, state: AccountState = .ok) async throws -> Account {
        try await store.addAccount(name: name, kind: kind, fromAddresses: [address ?? "\(name)@example.com"],
                                   secret: kind == .sandbox ? nil : Data("grant".utf8), state: state)
    }

    /// One call to Gmail, as `addMessage` records it.
    struct Attempt {
        var status: Int?
        var body: String?
    }

    /// A message stored the way the SMTP listener stores one. One that is to be sent or failed, or that
    /// has an attempt or rewritten headers, goes the delivery path: accepted `.sending` (as the synchronous
    /// path does), then its attempt ends in `status` through `finishAttempt`.
    func addMessage(
        account: String, subject: String = "Hello", to: [String] = ["alice@example.com"], from: String = "wordpress@example.org",
        status: MessageStatus = .queued, problem: ProblemCode? = nil, gmailID: String? = nil, headers: String? = nil,
        attempt: Attempt? = nil, accountChange: AttemptReport.AccountChange? = nil
    ) async throws -> Int64 {
        let body = "Subject: \(subject)\r\n\r\nbody\r\n"
        let file = try store.spool.create()
        try file.write(Array(body.utf8))
        let path = try file.finish()
        let delivered = [.sent, .failed].contains(status) || headers != nil || attempt != nil || accountChange != nil
        let id = try await GroupCommitter(store: store).accept(NewMessage(
            account: account, credentialUsername: "site1", peer: "127.0.0.1:50000", tls: false, mailFrom: from,
            recipients: to, subject: subject, messageID: "<\(UUID().uuidString)@example.org>",
            size: Int64(body.utf8.count), spoolPath: path, sandbox: false, status: delivered ? .sending : status,
            problemCode: delivered ? nil : problem)).id
        guard delivered else { return id }
        let now = Date()
        let outcome: AttemptReport.Outcome = switch status {
        case .sent: .sent(gmailID: gmailID)
        case .failed: .failed(problemCode: problem ?? .messageRejected, detail: (problem ?? .messageRejected).rawValue)
        case .held: .held(problemCode: problem ?? .grantRevoked)
        default: .queued(problemCode: problem, nextAttemptAt: now, detail: nil)
        }
        // A failed attempt carries the classifier's detail, as the delivery engine stores it.
        let attempts: [NewAttempt] = attempt.map { attempt in
            let detail = problem.map { _ in
                FailureClassifier.classify(GoogleFailure(
                    endpoint: .gmailSend, status: attempt.status, body: Data((attempt.body ?? "").utf8), accountKind: .userGrant,
                    now: now)).detail
            }
            return [NewAttempt(
                messageID: id, startedAt: now.addingTimeInterval(-0.4), finishedAt: now,
                endpoint: "https://gmail.googleapis.com/upload/gmail/v1/users/me/messages/send?uploadType=media",
                httpStatus: attempt.status, responseBody: attempt.body, problemCode: problem, problemDetail: detail,
                nextDelaySeconds: nil)]
        } ?? []
        try await store.finishAttempt(AttemptReport(
            messageID: id, account: account, rewrittenHeaders: headers, attempts: attempts, outcome: outcome,
            accountChange: accountChange))
        return id
    }

    /// A send through the account worked, recorded as the delivery path records one.
    func recordSuccess(_ name: String) async throws {
        _ = try await addMessage(account: name, status: .sent, gmailID: "g-success", accountChange: .succeeded(at: Date()))
    }

    /// The account blocked the way the delivery engine records it: the code and Google's detail.
    func block(_ name: String, state: AccountState = .blocked, code: ProblemCode, detail: ProblemDetail? = nil) async throws {
        try await store.setAccountState(name: name, state: state, problemCode: code, detail: detail)
    }
}

enum Setup: String, CaseIterable, CustomTestStringConvertible {
    case router, live
    var testing: TestingSetup { self == .router ? .router : .live }
    var testDescription: String { rawValue }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }
    var setCookie: String? { headers[.setCookie] }
}

func form(_ fields: [String: String]) -> ByteBuffer {
    let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
    return ByteBuffer(string: fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
}

var formHeaders: HTTPFields {
    var headers = HTTPFields()
    headers[.contentType] = "application/x-www-form-urlencoded"
    return headers
}

func headers(_ pairs: [(String, String)]) -> HTTPFields {
    var fields = HTTPFields()
    for (name, value) in pairs { fields[HTTPField.Name(name)!] = value }
    return fields
}

/// The value of `<input type="hidden" name="csrf" value="...">` in a page.
func csrfToken(in html: String) -> String? {
    guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
    return String(html[range.upperBound...].prefix { $0 != "\"" })
}
