import Foundation

extension ProblemCatalogue {
    /// The relay's own problems, not an account's: the SMTP certificate (shown above the accounts).
    static let serverEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .smtpCertificateExpiring,
            title: "SMTP certificate expires soon",
            meaning: "The certificate the relay presents for STARTTLS and implicit TLS (smtp.tls.cert) expires within 14 days. After that, SMTP clients that check certificates (PHPMailer and WP Mail SMTP do by default) refuse to send through the relay.",
            causes: [
                "Automatic renewal (certbot's timer) is not running or fails.",
                "The certificate was renewed but the relay was not told: it reads the files at start and on SIGHUP only.",
            ],
            disposition: .unaffected,
            facts: { c in [Facts.certificate(c)].compactMap { $0 } },
            steps: { c in Steps.renewCertificate(c) }
        ),
        CatalogueEntry(
            .smtpCertificateExpired,
            title: "SMTP certificate expired",
            meaning: "The certificate the relay presents for STARTTLS and implicit TLS (smtp.tls.cert) has expired. SMTP clients that check certificates refuse to send through the relay, so mail from those sites does not arrive here.",
            causes: [
                "Automatic renewal (certbot's timer) is not running or fails.",
                "The certificate was renewed but the relay was not told: it reads the files at start and on SIGHUP only.",
            ],
            disposition: .refused,
            facts: { c in [Facts.certificate(c)].compactMap { $0 } },
            steps: { c in Steps.renewCertificate(c) + ["Then send a test from the site (WP Mail SMTP → Tools → Email Test) to check it connects again."] }
        ),
    ]
}

extension Steps {
    static func renewCertificate(_ c: ProblemContext) -> [String] {
        let file = c.certificatePath.map { "`\($0)`" } ?? "the file smtp.tls.cert names"
        return [
            "Renew the certificate: `certbot renew` (check the timer with `systemctl list-timers 'certbot*'`; `certbot renew --dry-run` shows why a renewal fails).",
            "Make sure \(file) is the renewed file (certbot's `/etc/letsencrypt/live/DOMAIN/fullchain.pem` and `privkey.pem`, readable by the relay's user).",
            "Tell the relay to load it, without a restart: `systemctl reload gmail-relay` (the unit sends SIGHUP) or `kill -HUP` the serve process. For next time, renew with a deploy hook that does it: `certbot renew --deploy-hook 'systemctl reload gmail-relay'`.",
            "The relay's log says `smtp certificate reloaded` with the new expiry, or why the new files were refused (the old certificate then stays in use).",
        ]
    }
}

extension Facts {
    /// "It expires on 2026-12-02 06:40 UTC (in 3.5 days)."
    static func certificate(_ c: ProblemContext) -> String? {
        guard let notAfter = c.certificateNotAfter else { return nil }
        let verb = notAfter > c.now ? "expires" : "expired"
        let file = c.certificatePath.map { " (\($0))" } ?? ""
        return "The certificate\(file) \(verb) on \(date(notAfter)) (\(relative(notAfter, now: c.now)))."
    }
}
