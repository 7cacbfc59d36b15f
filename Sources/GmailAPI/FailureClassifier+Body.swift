import Foundation
import RelayVocabulary

/// The fields of a Google error body, whichever of its shapes it came in (docs/google-api.md 0).
///
/// Tolerant by design: a missing or mistyped field is nil, never a parse failure, because an
/// error we cannot read must still be classified and stored.
struct GoogleErrorBody: Equatable {
    var format: ProblemDetail.BodyFormat = .empty
    /// error.message, or error_description of an OAuth body.
    var message: String?
    /// errors[].message, in order.
    var itemMessages: [String] = []
    /// errors[].reason, in order.
    var reasons: [String] = []
    var domain: String?
    var status: String?
    var code: Int?
    /// details[].reason, in order (ErrorInfo entries first).
    var detailReasons: [String] = []
    /// details[].metadata.activationUrl, then google.rpc.Help links.
    var detailURLs: [String] = []
    /// The OAuth `error` string.
    var oauthError: String?
    /// The OAuth `error_subtype` (invalid_rapt).
    var oauthSubtype: String?

    /// Every human-readable text in the body, top-level message first.
    var allMessages: [String] { (message.map { [$0] } ?? []) + itemMessages }

    init() {}

    init(_ body: Data) {
        var bytes = body[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        self.init()
        guard let first = bytes.first(where: { !Self.isWhitespace($0) }) else { return }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
           let json = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) {
            read(json: json)
        } else {
            format = first == UInt8(ascii: "<") ? .html : .text
        }
    }

    private mutating func read(json: Any) {
        format = .json
        // Some Google front ends answer an array of error objects; the first one speaks for all.
        let object = (json as? [String: Any]) ?? ((json as? [Any])?.first as? [String: Any])
        guard let object else { return }
        if let error = object["error"] as? [String: Any] {
            readEnvelope(error)
        } else if object["error"] is String || object["error_description"] is String {
            format = .oauthError
            oauthError = object["error"] as? String
            message = object["error_description"] as? String
            oauthSubtype = object["error_subtype"] as? String
        }
    }

    private mutating func readEnvelope(_ error: [String: Any]) {
        format = .googleError
        message = error["message"] as? String
        status = error["status"] as? String
        code = Self.int(error["code"])
        for case let item as [String: Any] in (error["errors"] as? [Any]) ?? [] {
            if let text = item["message"] as? String { itemMessages.append(text) }
            if let reason = item["reason"] as? String { reasons.append(reason) }
            if domain == nil { domain = item["domain"] as? String }
        }
        let details = ((error["details"] as? [Any]) ?? []).compactMap { $0 as? [String: Any] }
        let ordered = details.filter(Self.isErrorInfo) + details.filter { !Self.isErrorInfo($0) }
        for detail in ordered {
            if let reason = detail["reason"] as? String { detailReasons.append(reason) }
            if let url = (detail["metadata"] as? [String: Any])?["activationUrl"] as? String { detailURLs.append(url) }
            for case let link as [String: Any] in (detail["links"] as? [Any]) ?? [] {
                if let url = link["url"] as? String { detailURLs.append(url) }
            }
        }
    }

    private static func isErrorInfo(_ detail: [String: Any]) -> Bool {
        (detail["@type"] as? String)?.hasSuffix("google.rpc.ErrorInfo") == true
    }

    private static func int(_ value: Any?) -> Int? {
        if let number = value as? NSNumber { return number.intValue }
        if let text = value as? String { return Int(text) }
        return nil
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    // MARK: Questions the classifier asks

    func hasReason(_ names: String...) -> Bool {
        reasons.contains { reason in names.contains { $0.caseInsensitiveCompare(reason) == .orderedSame } }
    }

    func hasDetailReason(_ names: String...) -> Bool {
        detailReasons.contains { reason in names.contains { $0.caseInsensitiveCompare(reason) == .orderedSame } }
    }

    func mentions(_ fragment: String) -> Bool {
        allMessages.contains { $0.range(of: fragment, options: .caseInsensitive) != nil }
    }

    /// The Gmail API activation link: ErrorInfo metadata, a Help link, or the link in the message.
    var activationURL: URL? {
        let fromMessages = allMessages.flatMap(Self.links(in:))
        let candidates = detailURLs + fromMessages
        let preferred = candidates.first { $0.contains("/apis/api/") } ?? detailURLs.first
        return preferred.flatMap(URL.init(string:))
    }

    /// https links in a text, without the sentence punctuation that follows them.
    static func links(in text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\"" || $0 == "'" }).compactMap { word in
            guard word.hasPrefix("https://") || word.hasPrefix("http://") else { return nil }
            var link = Substring(word)
            while let last = link.last, ".,;)]".contains(last) { link = link.dropLast() }
            return String(link)
        }
    }
}
