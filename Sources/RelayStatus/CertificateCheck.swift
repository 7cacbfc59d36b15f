import Foundation
import ProblemCatalogue
import RelayVocabulary

/// The SMTP certificate the relay serves, as far as the status report cares: where it is and when it ends.
public struct ServedCertificate: Sendable, Equatable {
    public var path: String
    public var notValidAfter: Date

    public init(path: String, notValidAfter: Date) {
        self.path = path
        self.notValidAfter = notValidAfter
    }
}

/// Warns 14 days before the SMTP certificate ends (Let's Encrypt renews at 30 days left, so a warning
/// means renewal has been failing for two weeks), and says so plainly once it has ended.
public enum CertificateCheck {
    public static let warningWindow: TimeInterval = 14 * 86_400

    public static func problem(_ certificate: ServedCertificate?, now: Date) -> Explanation? {
        guard let certificate else { return nil }
        let left = certificate.notValidAfter.timeIntervalSince(now)
        guard left <= warningWindow else { return nil }
        var context = ProblemContext(accountName: "relay", accountKind: nil, now: now)
        context.certificatePath = certificate.path
        context.certificateNotAfter = certificate.notValidAfter
        let code = left <= 0 ? ProblemCode.smtpCertificateExpired : .smtpCertificateExpiring
        return ProblemCatalogue.explain(code: code, context: context)
    }
}
