import Logging
import SMTPServer
import ServiceLifecycle
import UnixSignals

/// SIGHUP reloads the SMTP certificate and key (certbot's `--deploy-hook` sends it after a renewal).
///
/// New handshakes get the new files; open sessions keep theirs. Files that do not load leave the current
/// certificate in place and the log says which file and why. Trapping SIGHUP here also replaces its default
/// action (terminate), so a HUP never stops the relay, with or without smtp.tls.
struct CertificateReloadService: Service {
    let certificate: SMTPCertificate?
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            reload()
        }
    }

    func reload() {
        guard let certificate else {
            logger.notice("SIGHUP: smtp.tls is not configured, no certificate to reload")
            return
        }
        notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())")
        defer { notifier.notify("READY=1") }
        do {
            let loaded = try certificate.reload()
            logger.notice("smtp certificate reloaded; new TLS handshakes use it", metadata: [
                "smtp.tls.cert": "\(certificate.certificatePath ?? "")",
                "smtp.tls.not_after": "\(loaded.notValidAfter.map { "\($0)" } ?? "?")",
            ])
        } catch {
            logger.error("smtp certificate reload failed; still serving the previous certificate", metadata: [
                "error": "\(error)",
                "smtp.tls.not_after": "\(certificate.notValidAfter.map { "\($0)" } ?? "?")",
            ])
        }
    }
}

/// Tells systemd (`Type=notify`) the relay is ready once SMTP and the status page listen, and that it is
/// stopping when graceful shutdown begins. Put last in the group so it hears the shutdown first.
struct ReadinessService: Service {
    let smtp: SMTPService
    let webListening: @Sendable () -> Bool
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        // Polled, not awaited: a listener that fails to bind never becomes ready, and the group then
        // cancels this task, which a sleeping poll notices at once.
        while !(smtp.isListening && webListening()) {
            try await Task.sleep(for: .milliseconds(20))
        }
        if notifier.notify("READY=1\nSTATUS=SMTP and the status page are listening") {
            logger.debug("systemd notified: READY=1")
        }
        try? await gracefulShutdown()
        notifier.notify("STOPPING=1")
    }
}
