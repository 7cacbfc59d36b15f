import Foundation
import GmailAPI

/// One line for the operator about a failed call to Google: the problem code's summary, its name,
/// and Google's own words. Bodies of OAuth errors carry no tokens, so they may be shown.
enum GoogleExplanation {
    static func line(for call: FailedCall, now: Date = Date()) -> String {
        guard let failure = GoogleFailure(call, accountKind: .userGrant, now: now) else {
            return describe(call)
        }
        let verdict = FailureClassifier.classify(failure)
        var text = "\(verdict.problem.summary) (\(verdict.problem.rawValue))"
        if let message = verdict.detail.googleMessage, !message.isEmpty {
            text += "; Google said: \(verdict.detail.reason.map { "\($0): " } ?? "")\(message)"
        } else {
            text += "; " + describe(call)
        }
        return text
    }

    /// Status and body, or why there was no answer; the URL without its query (it may hold a token).
    static func describe(_ call: FailedCall) -> String {
        var components = URLComponents(url: call.url, resolvingAgainstBaseURL: false)
        components?.query = nil
        let url = components?.url?.absoluteString ?? "Google"
        if let response = call.response {
            let body = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(url) answered HTTP \(response.status)" + (body.isEmpty ? "" : ": \(body.prefix(500))")
        }
        return "\(url) did not answer: \(call.transportError ?? "unknown error")"
    }
}
