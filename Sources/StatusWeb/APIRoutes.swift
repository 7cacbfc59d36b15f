import Foundation
import Hummingbird
import RelayStatus
import RelayStore
import RelayVocabulary

extension StatusWebServer {
    /// GET /api/status, GET /api/messages, GET /api/messages/{id}, POST /api/messages/{id}/retry|discard.
    func addAPIRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/api/status") { _, _ -> Response in try Self.json(try await self.reporter.report()) }

        router.get("/api/stats") { request, _ -> Response in
            guard let hours = Self.boundedNumber(Self.query(request)["hours"], default: 48, in: 1...RelayStore.maximumStatsHours) else {
                return Self.jsonError("hours must be a number from 1 to \(RelayStore.maximumStatsHours)", status: .badRequest)
            }
            return try Self.json(StatsDocument(hours: hours, buckets: try await self.store.hourlyCounts(hours: hours)))
        }

        router.get("/api/messages") { request, _ -> Response in
            let query = Self.query(request)
            var status: MessageStatus?
            if let text = query["status"], !text.isEmpty {
                guard let parsed = MessageStatus(rawValue: text) else {
                    return Self.jsonError("status must be one of \(MessageStatus.allCases.map(\.rawValue).joined(separator: ", "))", status: .badRequest)
                }
                status = parsed
            }
            guard let limit = Self.boundedNumber(query["limit"], default: 50, in: 1...1000) else {
                return Self.jsonError("limit must be a number from 1 to 1000", status: .badRequest)
            }
            guard let offset = Self.boundedNumber(query["offset"], default: 0, in: 0...Self.maximumOffset) else {
                return Self.jsonError("offset must be a number from 0 to \(Self.maximumOffset)", status: .badRequest)
            }
            let account = query["account"].flatMap { $0.isEmpty ? nil : $0 }
            let q = query["q"].flatMap { $0.isEmpty ? nil : $0 }
            let messages = try await self.store.messages(status: status, account: account, query: q, limit: limit, offset: offset)
            return try Self.json(messages)
        }

        router.get("/api/messages/{id}") { _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return Self.jsonError("the message id is a number", status: .badRequest)
            }
            guard let document = try await self.reporter.messageDocument(id: id) else {
                return Self.jsonError("no message with log id \(id)", status: .notFound)
            }
            return try Self.json(document)
        }

        router.post("/api/messages/{id}/retry") { _, context -> Response in
            try await self.apiAction(context, .retry)
        }
        router.post("/api/messages/{id}/discard") { _, context -> Response in
            try await self.apiAction(context, .discard)
        }
    }

    /// The page's deepest offset, for the API too: no arithmetic on it can overflow.
    static let maximumOffset = maximumPage * pageSize

    enum MessageAction: String {
        case retry, discard
    }

    /// The store does the transition; what it refuses (a sent message cannot be retried) is a 409 with its words.
    func perform(_ action: MessageAction, id: Int64) async throws -> Result<MessageRecord, ActionRefusal> {
        do {
            switch action {
            case .retry: try await store.retry(id: id)
            case .discard: try await store.discard(id: id, detail: "discarded on the status page")
            }
        } catch let error as StoreError {
            if case .unknownMessage = error { return .failure(.notFound("no message with log id \(id)")) }
            return .failure(.conflict("\(error)"))
        }
        guard let message = try await store.message(id: id) else { return .failure(.notFound("no message with log id \(id)")) }
        logger.info("message action from the web", metadata: ["message.id": "\(id)", "action": "\(action.rawValue)"])
        return .success(message)
    }

    enum ActionRefusal: Error {
        case notFound(String)
        case conflict(String)
    }

    func apiAction(_ context: BasicRequestContext, _ action: MessageAction) async throws -> Response {
        guard let id = context.parameters.get("id", as: Int64.self) else {
            return Self.jsonError("the message id is a number", status: .badRequest)
        }
        switch try await perform(action, id: id) {
        case .success(let message): return try Self.json(message)
        case .failure(.notFound(let text)): return Self.jsonError(text, status: .notFound)
        case .failure(.conflict(let text)): return Self.jsonError(text, status: .conflict)
        }
    }
}

/// GET /api/stats: the send log's hourly counts (docs/status-page.md "Charts" says what each one counts).
struct StatsDocument: Encodable {
    var hours: Int
    var buckets: [HourlyCounts]

    enum CodingKeys: String, CodingKey { case hours, from, to, buckets, totals }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hours, forKey: .hours)
        // The window: the first hour's start to the last (current) hour's end.
        try c.encode(buckets.first.map { ISO8601.string($0.hour) }, forKey: .from)
        try c.encode(buckets.last.map { ISO8601.string($0.hour.addingTimeInterval(3600)) }, forKey: .to)
        try c.encode(buckets, forKey: .buckets)
        try c.encode([
            "sent": buckets.reduce(0) { $0 + $1.sent }, "failed": buckets.reduce(0) { $0 + $1.failed },
            "held": buckets.reduce(0) { $0 + $1.held }, "queued": buckets.reduce(0) { $0 + $1.queued },
        ], forKey: .totals)
    }
}
