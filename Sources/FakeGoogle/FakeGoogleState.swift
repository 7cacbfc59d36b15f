internal import Crypto
import Foundation
internal import _CryptoExtras

/// Everything the fake knows, and the rules of each endpoint as plain functions of
/// (state, request fields, now) -> answer. No I/O here: FakeGoogleServer moves the bytes.
struct FakeGoogleState {
    struct OAuthClient {
        var id: String
        var secret: String
        var deleted = false
    }

    struct RefreshGrant {
        var token: String
        var clientID: String
        var email: String
        var scopes: [String]
        var revoked = false
    }

    struct AccessGrant {
        var token: String
        var clientID: String
        /// The mailbox the token acts for; nil for a service account acting as itself.
        var user: String?
        /// The service account that minted it (JWT-bearer), if any.
        var serviceAccount: String?
        var scopes: [String]
        var expiresAt: Date
        var refreshToken: String?
        var revoked = false

        var identity: String { user ?? serviceAccount ?? "" }
    }

    struct User {
        var email: String
        var hasGmail: Bool
        var sendAs: [String]
    }

    struct ServiceAccount {
        var clientEmail: String
        var clientID: String
        var publicKey: _RSA.Signing.PublicKey
        var delegatedScopes: [String]
    }

    struct AuthorizationCode {
        var clientID: String
        var redirectURI: String
        var challenge: String?
        var method: String
        var scopes: [String]
        var email: String
        var expiresAt: Date
        var used = false
    }

    struct Injection {
        var failure: InjectedFailure
        var endpoint: FakeGoogleEndpoint
        var account: String?
        var remaining: Int
    }

    var tokenURL = "http://127.0.0.1/token"
    var clients: [String: OAuthClient] = [:]
    var refreshGrants: [String: RefreshGrant] = [:]
    var accessTokens: [String: AccessGrant] = [:]
    var users: [String: User] = [:]
    var userOrder: [String] = []
    var serviceAccounts: [String: ServiceAccount] = [:]
    var codes: [String: AuthorizationCode] = [:]
    var injections: [Injection] = []
    var consent: ConsentBehaviour = .approve()
    var accessTokenLifetime = 3599

    var outbox: [SentMessage] = []
    var tokenRequests: [String: Int] = [:]
    var sendRequests = 0
    var tokeninfoRequests = 0
    var revokeRequests = 0
    var lastAssertionClaims: JWTClaims?
    var authorizationRequests: [AuthorizationRequest] = []
    private var messageCounter: UInt64 = 0

    static let maxUploadBytes = 36_700_160

    // MARK: Setup

    mutating func addUser(email: String, hasGmail: Bool, sendAs: [String]) {
        let key = email.lowercased()
        if users[key] == nil { userOrder.append(key) }
        users[key] = User(email: email, hasGmail: hasGmail, sendAs: sendAs)
    }

    /// Workspace users must be added; consumer addresses exist by their domain.
    func userExists(_ email: String) -> Bool {
        users[email.lowercased()] != nil || Self.isConsumer(email)
    }

    static func isConsumer(_ email: String) -> Bool {
        let domain = email.split(separator: "@").last.map { $0.lowercased() } ?? ""
        return domain == "gmail.com" || domain == "googlemail.com"
    }

    mutating func ensureUser(_ email: String) {
        if !userExists(email) { addUser(email: email, hasGmail: true, sendAs: []) }
    }

    mutating func issueRefreshToken(clientID: String, email: String, scopes: [String]) -> String {
        ensureUser(email)
        let token = "1//" + Self.randomToken(bytes: 48)
        refreshGrants[token] = RefreshGrant(token: token, clientID: clientID, email: email, scopes: scopes)
        return token
    }

    mutating func issueAccessToken(
        clientID: String, user: String?, serviceAccount: String?, scopes: [String], refreshToken: String?, now: Date
    ) -> AccessGrant {
        let grant = AccessGrant(
            token: "ya29." + Self.randomToken(bytes: 60), clientID: clientID, user: user,
            serviceAccount: serviceAccount, scopes: scopes,
            expiresAt: now.addingTimeInterval(TimeInterval(accessTokenLifetime)), refreshToken: refreshToken)
        accessTokens[grant.token] = grant
        return grant
    }

    /// Revocation removes everything the user granted the client (docs/google-api.md §4.3 item 1).
    mutating func revokeAll(clientID: String, email: String) {
        for (key, grant) in refreshGrants where grant.clientID == clientID && grant.email.lowercased() == email.lowercased() {
            refreshGrants[key]?.revoked = true
        }
        for (key, grant) in accessTokens where grant.clientID == clientID && grant.identity.lowercased() == email.lowercased() {
            accessTokens[key]?.revoked = true
        }
    }

    mutating func revokeRefreshToken(_ token: String) {
        guard let grant = refreshGrants[token] else { return }
        revokeAll(clientID: grant.clientID, email: grant.email)
    }

    mutating func expireAccessTokens(now: Date) {
        for key in accessTokens.keys { accessTokens[key]?.expiresAt = now.addingTimeInterval(-1) }
    }

    // MARK: Injection

    /// Takes one count of the first matching rule.
    mutating func takeInjection(_ endpoint: FakeGoogleEndpoint, account: String?) -> InjectedFailure? {
        guard let index = injections.firstIndex(where: { rule in
            rule.endpoint == endpoint && rule.remaining > 0
                && (rule.account == nil || rule.account?.lowercased() == account?.lowercased())
        }) else { return nil }
        injections[index].remaining -= 1
        let failure = injections[index].failure
        if injections[index].remaining == 0 { injections.remove(at: index) }
        return failure
    }

    // MARK: POST /token

    /// The account a token request is for (for injection rules), read without checking anything.
    func tokenAccount(_ form: [String: String]) -> String? {
        switch form["grant_type"] {
        case "refresh_token": return form["refresh_token"].flatMap { refreshGrants[$0]?.email }
        case "authorization_code": return form["code"].flatMap { codes[$0]?.email }
        case "urn:ietf:params:oauth:grant-type:jwt-bearer":
            guard let jwt = form["assertion"].flatMap({ try? JWTAssertion($0) }) else { return nil }
            return jwt.claims.sub ?? jwt.claims.iss
        default: return nil
        }
    }

    mutating func token(_ form: [String: String], now: Date) -> FakeResponse {
        let grantType = form["grant_type"] ?? ""
        switch grantType {
        case "refresh_token", "authorization_code":
            // Both user grants check the client first (§4.2).
            switch authenticateClient(form) {
            case .failure(let response): return response
            case .success(let client) where grantType == "refresh_token": return refreshGrant(form, client: client, now: now)
            case .success(let client): return codeGrant(form, client: client, now: now)
            }
        case "urn:ietf:params:oauth:grant-type:jwt-bearer": return jwtBearerGrant(form, now: now)
        case "": return GoogleBodies.missingParameter("grant_type")
        default: return GoogleBodies.unsupportedGrantType(grantType)
        }
    }

    /// client_id / client_secret as Google checks them for Desktop and Web clients (§4.2).
    private enum ClientCheck {
        case success(OAuthClient)
        case failure(FakeResponse)
    }

    private func authenticateClient(_ form: [String: String]) -> ClientCheck {
        guard let id = form["client_id"], !id.isEmpty else { return .failure(GoogleBodies.missingClient) }
        guard let client = clients[id] else { return .failure(GoogleBodies.invalidClientNotFound) }
        if client.deleted { return .failure(GoogleBodies.deletedClient) }
        guard let secret = form["client_secret"], !secret.isEmpty else { return .failure(GoogleBodies.missingSecret) }
        guard secret == client.secret else { return .failure(GoogleBodies.invalidClientSecret) }
        return .success(client)
    }

    private mutating func refreshGrant(_ form: [String: String], client: OAuthClient, now: Date) -> FakeResponse {
        guard let token = form["refresh_token"], !token.isEmpty else { return GoogleBodies.missingParameter("refresh_token") }
        guard let grant = refreshGrants[token] else { return GoogleBodies.invalidGrantBadRequest }
        if grant.revoked { return GoogleBodies.invalidGrantRevoked }
        guard grant.clientID == client.id else { return GoogleBodies.unauthorizedClientMismatch }
        let access = issueAccessToken(
            clientID: client.id, user: grant.email, serviceAccount: nil, scopes: grant.scopes, refreshToken: token, now: now)
        // No refresh_token: Google does not rotate it on a refresh.
        return userTokenAnswer(access, refreshToken: nil, email: grant.email, now: now)
    }

    private mutating func codeGrant(_ form: [String: String], client: OAuthClient, now: Date) -> FakeResponse {
        guard let code = form["code"], !code.isEmpty else { return GoogleBodies.missingParameter("code") }
        guard code.hasPrefix("4/") else { return GoogleBodies.invalidGrantMalformedCode }
        guard let entry = codes[code], !entry.used, entry.expiresAt > now, entry.clientID == client.id else {
            return GoogleBodies.invalidGrantBadRequest
        }
        guard let redirect = form["redirect_uri"], !redirect.isEmpty else { return GoogleBodies.missingParameter("redirect_uri") }
        guard redirect == entry.redirectURI else { return GoogleBodies.redirectMismatch }
        if let challenge = entry.challenge {
            guard let verifier = form["code_verifier"], !verifier.isEmpty else { return GoogleBodies.missingCodeVerifier }
            guard PKCE.isValidVerifier(verifier), PKCE.matches(verifier: verifier, challenge: challenge, method: entry.method) else {
                return GoogleBodies.invalidGrantCodeVerifier
            }
        } else if form["code_verifier"] != nil {
            return GoogleBodies.invalidGrantVerifierNotNeeded
        }
        codes[code]?.used = true
        let refresh = issueRefreshToken(clientID: client.id, email: entry.email, scopes: entry.scopes)
        let access = issueAccessToken(
            clientID: client.id, user: entry.email, serviceAccount: nil, scopes: entry.scopes, refreshToken: refresh, now: now)
        return userTokenAnswer(access, refreshToken: refresh, email: entry.email, now: now)
    }

    /// A user grant's token answer, in §4.1's sample order: access_token, expires_in, refresh_token (a code
    /// exchange only), scope, token_type, and id_token when `openid` was granted.
    private func userTokenAnswer(_ access: AccessGrant, refreshToken: String?, email: String, now: Date) -> FakeResponse {
        let scopes = access.scopes
        var body: [(String, JSONText)] = [("access_token", .string(access.token)), ("expires_in", .int(accessTokenLifetime))]
        if let refreshToken { body.append(("refresh_token", .string(refreshToken))) }
        body += [("scope", .string(scopes.joined(separator: " "))), ("token_type", .string("Bearer"))]
        if scopes.contains("openid") {
            body.append(("id_token", .string(idToken(clientID: access.clientID, email: email, scopes: scopes, now: now))))
        }
        return GoogleBodies.oauth(200, .object(body))
    }

    private mutating func jwtBearerGrant(_ form: [String: String], now: Date) -> FakeResponse {
        guard let assertion = form["assertion"], !assertion.isEmpty else { return GoogleBodies.missingParameter("assertion") }
        guard let jwt = try? JWTAssertion(assertion) else { return GoogleBodies.invalidGrantBadSignature }
        lastAssertionClaims = jwt.claims
        let claims = jwt.claims
        guard let iss = claims.iss, let account = serviceAccounts[iss.lowercased()] else { return GoogleBodies.accountNotFound }
        guard jwt.isSigned(by: account.publicKey) else { return GoogleBodies.invalidGrantBadSignature }
        guard claims.aud == tokenURL else { return GoogleBodies.badAudience(tokenURL) }
        let skew = 300
        let nowSeconds = Int(now.timeIntervalSince1970)
        guard let iat = claims.iat, let exp = claims.exp, exp > iat, exp - iat <= 3600,
              iat <= nowSeconds + skew, exp > nowSeconds - skew
        else { return GoogleBodies.invalidGrantClockSkew }
        let scopes = claims.scopes
        guard let scope = claims.scope, !scopes.isEmpty, !scope.contains(",") else { return GoogleBodies.invalidScope }

        let subject = claims.sub.flatMap { $0.isEmpty || $0.lowercased() == account.clientEmail.lowercased() ? nil : $0 }
        if let subject {
            guard userExists(subject) else { return GoogleBodies.invalidGrantUnknownSubject }
            guard !account.delegatedScopes.isEmpty, Set(scopes).isSubset(of: Set(account.delegatedScopes)) else {
                return GoogleBodies.unauthorizedClient
            }
        }
        let access = issueAccessToken(
            clientID: account.clientID, user: subject, serviceAccount: account.clientEmail, scopes: scopes,
            refreshToken: nil, now: now)
        // Whether Google echoes `scope` here is unconfirmed (§5.1), so the fake leaves it out.
        return GoogleBodies.oauth(200, .object([
            ("access_token", .string(access.token)),
            ("expires_in", .int(accessTokenLifetime)),
            ("token_type", .string("Bearer")),
        ]))
    }

    /// An id_token with Google's claims. The signature is random bytes: the relay gets it straight
    /// from the token endpoint over TLS and has no reason to verify it.
    private func idToken(clientID: String, email: String, scopes: [String], now: Date) -> String {
        let header = JSONText.object([("alg", .string("RS256")), ("kid", .string("fake-google")), ("typ", .string("JWT"))])
        var claims: [(String, JSONText)] = [
            ("iss", .string("https://accounts.google.com")),
            ("azp", .string(clientID)),
            ("aud", .string(clientID)),
            ("sub", .string(Self.subject(for: email))),
        ]
        if !Scopes.email.isDisjoint(with: scopes) {
            claims += [("email", .string(email)), ("email_verified", .bool(true))]
        }
        let iat = Int(now.timeIntervalSince1970)
        claims += [("iat", .int(iat)), ("exp", .int(iat + 3599))]
        return [header.compact, JSONText.object(claims).compact].map { Base64URL.encode(Data($0.utf8)) }.joined(separator: ".")
            + "." + Base64URL.encode(Data(Self.randomBytes(256)))
    }

    // MARK: GET /o/oauth2/v2/auth

    mutating func authorize(_ query: [String: String], now: Date) -> FakeResponse {
        authorizationRequests.append(AuthorizationRequest(parameters: query))
        guard let clientID = query["client_id"], !clientID.isEmpty else {
            return GoogleBodies.consentError("invalid_request", "Missing required parameter: client_id")
        }
        guard let client = clients[clientID] else {
            return GoogleBodies.consentError(status: 401, "invalid_client", "The OAuth client was not found.")
        }
        if client.deleted { return GoogleBodies.consentError(status: 401, "deleted_client", "The OAuth client was deleted.") }
        guard let redirect = query["redirect_uri"], !redirect.isEmpty else {
            return GoogleBodies.consentError("invalid_request", "Missing required parameter: redirect_uri")
        }
        guard Self.isLoopbackRedirect(redirect) else {
            return GoogleBodies.consentError("redirect_uri_mismatch", "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy.")
        }
        guard query["response_type"] == "code" else {
            return GoogleBodies.consentError("invalid_request", "Invalid response_type: \(query["response_type"] ?? "")")
        }
        guard let scope = query["scope"], !scope.trimmingCharacters(in: .whitespaces).isEmpty else {
            return GoogleBodies.consentError("invalid_request", "Missing required parameter: scope")
        }
        let method = query["code_challenge_method"]
        let challenge = query["code_challenge"]
        if let method, method != "S256", method != "plain" {
            return GoogleBodies.consentError("invalid_request", "Invalid code_challenge_method value.")
        }
        if method != nil, challenge == nil {
            return GoogleBodies.consentError("invalid_grant", "Missing code_challenge.")
        }
        if let challenge, !PKCE.isValidChallenge(challenge, method: method ?? "plain") {
            return GoogleBodies.consentError("invalid_grant", "Invalid code_challenge.")
        }
        let state = query["state"]
        switch consent {
        case .deny:
            var params = [("error", "access_denied")]
            if let state { params.append(("state", state)) }
            return Self.redirect(to: redirect, params)
        case .approve(let granted, let email):
            let requested = scope.split(separator: " ").map(String.init)
            let scopes = granted ?? requested
            let hint = query["login_hint"].flatMap { $0.contains("@") ? $0 : nil }
            let firstUser = userOrder.compactMap { users[$0] }.first(where: \.hasGmail)?.email
            let who = email ?? hint ?? firstUser ?? "fake.user@gmail.com"
            let code = "4/0A" + Self.randomToken(bytes: 54)
            codes[code] = AuthorizationCode(
                clientID: clientID, redirectURI: redirect, challenge: challenge, method: method ?? "plain",
                scopes: scopes, email: who, expiresAt: now.addingTimeInterval(600))
            var params: [(String, String)] = []
            if let state { params.append(("state", state)) }
            params += [("code", code), ("scope", scopes.joined(separator: " ")), ("authuser", "0"), ("prompt", "consent")]
            return Self.redirect(to: redirect, params)
        }
    }

    /// Desktop clients may redirect to any port on a loopback address (docs/google-api.md §6.1).
    static func isLoopbackRedirect(_ uri: String) -> Bool {
        guard let components = URLComponents(string: uri), components.scheme == "http", let host = components.host else {
            return false
        }
        return ["127.0.0.1", "[::1]", "::1", "localhost"].contains(host.lowercased())
    }

    static func redirect(to uri: String, _ params: [(String, String)]) -> FakeResponse {
        let separator = uri.contains("?") ? "&" : "?"
        let location = uri + separator + FormCoding.encode(params)
        return FakeResponse(
            status: 302,
            headers: [("Location", location), ("Content-Type", "text/html; charset=UTF-8")],
            text: "<HTML><HEAD><meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<TITLE>302 Moved</TITLE></HEAD><BODY>\n<H1>302 Moved</H1>\nThe document has moved\n<A HREF=\"\(location)\">here</A>.\r\n</BODY></HTML>\r\n")
    }

    // MARK: tokeninfo, revoke

    func validAccessToken(_ token: String, now: Date) -> AccessGrant? {
        guard let grant = accessTokens[token], !grant.revoked, grant.expiresAt > now else { return nil }
        return grant
    }

    /// §7.2
    func tokeninfo(_ token: String?, now: Date) -> FakeResponse {
        guard let token, let grant = validAccessToken(token, now: now) else { return GoogleBodies.invalidTokenInfo }
        var body: [(String, JSONText)] = [("azp", .string(grant.clientID)), ("aud", .string(grant.clientID))]
        let identityGranted = !Scopes.identity.isDisjoint(with: grant.scopes)
        if identityGranted {
            body.append(("sub", .string(grant.user.map(Self.subject(for:)) ?? grant.clientID)))
        }
        body += [
            ("scope", .string(grant.scopes.joined(separator: " "))),
            ("exp", .string(String(Int(grant.expiresAt.timeIntervalSince1970)))),
            ("expires_in", .string(String(max(0, Int(grant.expiresAt.timeIntervalSince(now)))))),
        ]
        if !Scopes.email.isDisjoint(with: grant.scopes) {
            body += [("email", .string(grant.identity)), ("email_verified", .string("true"))]
        }
        body.append(("access_type", .string(grant.refreshToken == nil ? "online" : "offline")))
        return GoogleBodies.oauth(200, .object(body))
    }

    func tokenOwner(_ token: String?) -> String? {
        guard let token else { return nil }
        return refreshGrants[token]?.email ?? accessTokens[token]?.identity
    }

    /// §7.1: either kind of token; revoking either ends the whole grant.
    mutating func revoke(_ token: String?, now: Date) -> FakeResponse {
        guard let token, !token.isEmpty else { return GoogleBodies.invalidTokenRevoke }
        if let grant = refreshGrants[token], !grant.revoked {
            revokeAll(clientID: grant.clientID, email: grant.email)
        } else if let grant = validAccessToken(token, now: now) {
            accessTokens[token]?.revoked = true
            if grant.refreshToken != nil { revokeAll(clientID: grant.clientID, email: grant.identity) }
        } else {
            return GoogleBodies.invalidTokenRevoke
        }
        return GoogleBodies.oauth(200, .object([]))
    }

    // MARK: users.messages.send

    enum Authentication {
        case granted(AccessGrant)
        case refused(FakeResponse)
    }

    /// §2.3: no header -> CREDENTIALS_MISSING; anything but a live Bearer token -> Invalid Credentials.
    func authenticate(_ authorization: String?, now: Date) -> Authentication {
        guard let authorization, !authorization.isEmpty else { return .refused(GoogleBodies.credentialsMissing) }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer",
              let grant = validAccessToken(parts[1].trimmingCharacters(in: .whitespaces), now: now)
        else { return .refused(GoogleBodies.invalidCredentials) }
        return .granted(grant)
    }

    /// The checks after authentication, in the order Gmail's answers suggest: scope (checked by
    /// the API front end), the userId path, the mailbox, then the message itself.
    mutating func send(grant: AccessGrant, userID: String, message: Data, now: Date) -> FakeResponse {
        guard !Scopes.sendCapable.isDisjoint(with: grant.scopes) else { return GoogleBodies.insufficientScopes }
        guard userID == "me" || userID.lowercased() == grant.identity.lowercased() else {
            return GoogleBodies.delegationDenied(grant.identity)
        }
        // §3: a service account acting as itself has no mailbox.
        guard let userEmail = grant.user else { return GoogleBodies.failedPrecondition }
        // §3 item 2: domain-wide delegation cannot reach a consumer mailbox.
        if grant.serviceAccount != nil, Self.isConsumer(userEmail) { return GoogleBodies.failedPreconditionBadRequest }
        let user = users[userEmail.lowercased()]
        if let user, !user.hasGmail { return GoogleBodies.mailServiceNotEnabled }

        let headers = MessageHeaders(message: message)
        var lists: [String: [String]] = [:]
        for name in ["To", "Cc", "Bcc"] {
            do {
                lists[name] = try AddressList.addresses(in: headers.values(name))
            } catch {
                return GoogleBodies.invalidHeader(name)
            }
        }
        var recipients: [String] = []
        for address in (lists["To"] ?? []) + (lists["Cc"] ?? []) + (lists["Bcc"] ?? [])
        where !recipients.contains(where: { $0.lowercased() == address.lowercased() }) {
            recipients.append(address)
        }
        guard !recipients.isEmpty else { return GoogleBodies.recipientAddressRequired }

        let from = headers.first("From").flatMap { try? AddressList.addresses(in: $0).first }
        let allowed = [userEmail] + (user?.sendAs ?? [])
        let sentFrom = from.flatMap { f in allowed.first { $0.lowercased() == f.lowercased() } } ?? userEmail
        // §1.4: a message to oneself also lands in the inbox, unread.
        let toSelf = recipients.contains { $0.lowercased() == userEmail.lowercased() }
        let labels = toSelf ? ["UNREAD", "SENT", "INBOX"] : ["SENT"]
        let id = nextMessageID(now: now)
        outbox.append(SentMessage(
            id: id, threadId: id, user: userEmail, from: from, sentFrom: sentFrom,
            to: lists["To"] ?? [], cc: lists["Cc"] ?? [], bcc: lists["Bcc"] ?? [], recipients: recipients,
            subject: headers.first("Subject"), labelIds: labels, raw: message, receivedAt: now))
        // §1.4: key order id, threadId, labelIds.
        return GoogleBodies.gmail(200, .object([
            ("id", .string(id)),
            ("threadId", .string(id)),
            ("labelIds", .array(labels.map { .string($0) })),
        ]))
    }

    /// 16 hex digits: milliseconds since 1970 shifted left by 20 bits plus a counter, which is how
    /// Gmail ids look (they start with 18, 19 in the 2020s).
    private mutating func nextMessageID(now: Date) -> String {
        messageCounter += 1
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let value = (millis << 20) | (messageCounter & 0xFFFFF)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }

    // MARK: Helpers

    /// A stable 21-digit Google account id for an address.
    static func subject(for email: String) -> String {
        let digest = SHA256.hash(data: Data(email.lowercased().utf8))
        let digits = digest.prefix(16).map { String($0 % 10) }.joined()
        return "10" + digits + "000".prefix(21 - 2 - digits.count)
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func randomToken(bytes: Int) -> String {
        Base64URL.encode(Data(randomBytes(bytes)))
    }
}

/// RFC 7636 (docs/google-api.md §6.2).
enum PKCE {
    static func isUnreserved(_ s: String) -> Bool {
        s.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-._~".unicodeScalars.contains(scalar))
        }
    }

    static func isValidVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.count) && isUnreserved(verifier)
    }

    static func isValidChallenge(_ challenge: String, method: String) -> Bool {
        method == "S256"
            ? challenge.count == 43 && Base64URL.decodeStrict(Substring(challenge)) != nil
            : isValidVerifier(challenge)
    }

    static func challenge(for verifier: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static func matches(verifier: String, challenge: String, method: String) -> Bool {
        method == "S256" ? Self.challenge(for: verifier) == challenge : verifier == challenge
    }
}
