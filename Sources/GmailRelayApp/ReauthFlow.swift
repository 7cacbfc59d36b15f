import Delivery
import Dispatch
import Foundation
import GmailAPI
import RelayStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `reauth NAME`: Google's installed-app consent for one account, end to end.
///
/// Waits for the redirect on the loopback listener and, at the same time, for the operator to paste
/// the redirected address on stdin (headless servers); the first real redirect wins. The new grant is
/// checked (a send-capable scope, one working refresh) before anything is stored, so every failure,
/// the time-out and Ctrl-C leave the old grant as it was.
struct ReauthFlow {
    struct Options {
        var port = 0
        var scopes = GmailScope.reauthDefault
        var timeout: Duration = .seconds(300)
        var openBrowser = true
    }

    /// What a successful run did.
    struct Outcome {
        var email: String?
        var grantedScopes: Set<String>
        var released: Int
        var consentedAt: Date
    }

    let store: any RelayStoreAPI
    let account: Account
    let clientID: String
    let clientSecret: String
    let endpoints: GoogleEndpoints
    let options: Options
    let transport = HTTPTransport(timeout: 30)
    let terminal: Terminal

    func run() async throws -> Outcome {
        let listener: LoopbackRedirectListener
        do {
            listener = try await LoopbackRedirectListener.bind(port: options.port)
        } catch {
            throw OperatorError("cannot listen on 127.0.0.1:\(options.port) for Google's redirect (\(error)); choose another --port")
        }
        let redirectURI = ConsentRequest.loopbackRedirectURI(port: listener.port)
        let pkce = PKCE.random()
        let consent = ConsentRequest(
            clientID: clientID, redirectURI: redirectURI, scopes: options.scopes, state: ConsentRequest.randomState(),
            codeChallenge: pkce.challenge, loginHint: account.primaryAddress)
        let consentURL = consent.url(authURL: endpoints.authURL)

        // Ctrl-C from here on says that nothing changed, instead of killing the process silently;
        // set up before the address is printed, so no interrupt falls between the two.
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { continuation.yield(.interrupted) }
        interrupt.resume()

        terminal.say("""
            Open this address in a browser and allow access with the Google account \(account.primaryAddress ?? "that sends the mail"):

            \(consentURL.absoluteString)

            Waiting for Google's redirect to \(redirectURI) (at most \(Self.minutes(options.timeout))).
            On a server without a browser: open the address on any computer. The browser then ends on a page
            that does not load (\(redirectURI)?state=...); copy that whole address from the address bar and
            paste it here, then press Enter. (Or forward the port: ssh -L \(listener.port):127.0.0.1:\(listener.port) THIS-SERVER)
            """)
        if options.openBrowser { BrowserLauncher.open(consentURL) }

        let winner: (response: AuthorizationResponse, browser: LoopbackRequest?)
        do {
            defer {
                // Once the code is in hand, Ctrl-C works as usual: the store writes in one transaction.
                interrupt.cancel()
                signal(SIGINT, SIG_DFL)
                continuation.finish()
            }
            winner = try await waitForRedirect(
                events: events, continuation: continuation, listener: listener, state: consent.state, redirectURI: redirectURI)
        } catch {
            await listener.close()
            throw error
        }

        let outcome: Result<Outcome, any Error>
        do {
            outcome = .success(try await complete(code: winner.response.code, verifier: pkce.verifier, redirectURI: redirectURI))
        } catch {
            outcome = .failure(error)
        }
        if let browser = winner.browser {
            switch outcome {
            case .success(let done):
                await browser.answer(LoopbackPage(
                    status: .ok, title: "gmail-relay: account \(account.name) is connected",
                    text: "Google's consent was received\(done.email.map { " for \($0)" } ?? ""). You can close this window."))
            case .failure(let error):
                await browser.answer(LoopbackPage(
                    status: .badRequest, title: "gmail-relay: the account was not connected",
                    text: "\(Self.sentence("\(error)")) You can close this window; the terminal says what to do next."))
            }
        }
        await listener.close()
        return try outcome.get()
    }

    // MARK: Waiting

    private enum Event: Sendable {
        case browser(LoopbackRequest)
        case pasted(String)
        case timedOut
        case interrupted
    }

    /// The first redirect that is Google's answer to this run, from the browser or pasted.
    private func waitForRedirect(
        events: AsyncStream<Event>, continuation: AsyncStream<Event>.Continuation,
        listener: LoopbackRedirectListener, state: String, redirectURI: String
    ) async throws -> (response: AuthorizationResponse, browser: LoopbackRequest?) {
        let feeders = [
            Task { for await request in listener.requests { continuation.yield(.browser(request)) } },
            // End of input (stdin is /dev/null, or the operator pressed Ctrl-D) leaves the browser path.
            Task { for await line in StandardInputLines.stream() { continuation.yield(.pasted(line)) } },
            Task { [timeout = options.timeout] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { continuation.yield(.timedOut) }
            },
        ]
        defer { feeders.forEach { $0.cancel() } }

        for await event in events {
            switch event {
            case .browser(let request):
                switch AuthorizationRedirect.parse(request.target, expectedState: state) {
                case .success(let response):
                    return (response, request)
                case .failure(.notARedirect):
                    await request.answer(.notFound)
                case .failure(let error):
                    await request.answer(LoopbackPage(
                        status: .badRequest, title: "gmail-relay: the account was not connected",
                        text: "\(Self.sentence(error.description)) Nothing was changed. You can close this window."))
                    throw ReauthError.redirect(error)
                }
            case .pasted(let line):
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                switch AuthorizationRedirect.parse(line, expectedState: state) {
                case .success(let response):
                    return (response, nil)
                case .failure(.notARedirect):
                    terminal.say("That is not the redirected address. Paste the whole address from the browser's address bar; it starts with \(redirectURI)?")
                case .failure(let error):
                    throw ReauthError.redirect(error)
                }
            case .timedOut:
                throw ReauthError.timedOut(options.timeout)
            case .interrupted:
                throw ReauthError.interrupted
            }
        }
        throw ReauthError.interrupted
    }

    // MARK: Completing

    /// Code -> tokens -> checks -> store. Nothing is written before every check passed.
    private func complete(code: String, verifier: String, redirectURI: String) async throws -> Outcome {
        let now = Date()
        let exchange = AuthorizationCodeGrant(clientID: clientID, clientSecret: clientSecret, tokenURL: endpoints.tokenURL, transport: transport)
        var grant: ConsentGrant
        do {
            grant = try await exchange.exchange(code: code, verifier: verifier, redirectURI: redirectURI, now: now)
        } catch let error as TokenEndpointError {
            throw ReauthError.exchangeFailed(GoogleExplanation.line(for: FailedCall(tokenError: error), now: now))
        } catch is MissingRefreshTokenError {
            throw ReauthError.noRefreshToken
        }

        // tokeninfo knows the address (with the email scope) and the scopes, should the token answer lack them.
        var email = grant.idTokenEmail
        if case .success(let info) = await TokenInfo.fetch(accessToken: grant.accessToken.value, endpoints: endpoints, transport: transport) {
            email = info.email ?? email
            if grant.accessToken.scope == nil { grant.accessToken.scope = info.scopes.sorted().joined(separator: " ") }
        }
        guard grant.canSend else {
            // Not revoked: revoking would end every grant of this client for the user, the old one included.
            throw ReauthError.noSendScope(granted: grant.grantedScopes)
        }

        let refresh = RefreshTokenGrant(
            clientID: clientID, clientSecret: clientSecret, refreshToken: grant.refreshToken, tokenURL: endpoints.tokenURL, transport: transport)
        do {
            // The token itself is dropped: the delivery worker fetches its own when it sends.
            _ = try await refresh.fetchToken(now: Date())
        } catch {
            throw ReauthError.verificationFailed(GoogleExplanation.line(for: FailedCall(tokenError: error)))
        }

        let secret = try StoredGrant.oauthClient(clientID: clientID, clientSecret: clientSecret, refreshToken: grant.refreshToken).encoded()
        // One transaction: grant, consent time, address, state and the release happen together or not at all.
        let recorded = try await store.recordReauthorization(name: account.name, secret: secret, consentedAt: now, address: email)
        return Outcome(email: email, grantedScopes: grant.grantedScopes, released: recorded.released, consentedAt: now)
    }

    static func minutes(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        return seconds % 60 == 0 ? "\(seconds / 60) minute\(seconds == 60 ? "" : "s")" : "\(seconds) seconds"
    }

    static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst() + (text.hasSuffix(".") ? "" : ".")
    }
}

/// Why `reauth` stopped. Every case leaves the stored grant untouched.
enum ReauthError: Error, CustomStringConvertible {
    case redirect(AuthorizationRedirectError)
    case exchangeFailed(String)
    case noSendScope(granted: Set<String>)
    case noRefreshToken
    case verificationFailed(String)
    case timedOut(Duration)
    case interrupted

    var description: String {
        switch self {
        case .redirect(let error):
            return ReauthFlow.sentence(error.description)
        case .exchangeFailed(let line):
            var text = "The code exchange failed: \(line)" + (line.hasSuffix(".") ? "" : ".")
            if line.contains("code verifier") || line.contains("code_verifier") {
                text += " The code was issued for another PKCE code_challenge: the consent address was altered, or it belongs to another run."
            }
            return text + " Each consent address and its code work once: run reauth again and use the address that run prints."
        case .noSendScope(let granted):
            let list = granted.isEmpty ? "nothing" : granted.sorted().joined(separator: " ")
            return "Google granted only \(list), no scope that can send mail (gmail.send). Google's consent screen lets the user untick"
                + " \"Send email on your behalf\"; without it Gmail refuses every message. Nothing was stored."
                + " Run reauth again and leave that box ticked."
        case .noRefreshToken:
            return "Google's token endpoint answered without a refresh token, so there is nothing to store (the relay asks with"
                + " access_type=offline and prompt=consent, which normally yields one). Nothing was stored; run reauth again."
        case .verificationFailed(let line):
            return "the new grant did not work for a token refresh, so it was not stored: \(line)"
        case .timedOut(let duration):
            return "no redirect from Google within \(ReauthFlow.minutes(duration)); nothing was changed. Run reauth again (--timeout SECONDS waits longer)."
        case .interrupted:
            return "interrupted; nothing was changed."
        }
    }
}

/// Opens the consent address in the desktop's browser, when there is one.
enum BrowserLauncher {
    /// `xdg-open` (or macOS `open`) found on PATH; its output is discarded, and a missing or failing
    /// opener is fine: the address is printed anyway.
    static func open(_ url: URL) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        #if os(macOS)
        process.arguments = ["open", url.absoluteString]
        #else
        process.arguments = ["xdg-open", url.absoluteString]
        #endif
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }
}

/// Lines for the person at the terminal, written at once (stdout may be a pipe, where `print` buffers).
struct Terminal: Sendable {
    func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
