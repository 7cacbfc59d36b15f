import Crypto
import Foundation
import RelayConfig
import StatusWeb

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The admin token of the status page when `web.admin_token` is not set: secure by default.
///
/// `serve` makes it on first start in `data.dir/web-admin-token` (mode 0600, 32 random bytes in
/// base64url) and prints a one-time sign-in link; `gmail-relay web-token` prints a new link later.
/// With `web.open = true` there is no token at all (loopback only).
enum WebAdminToken {
    static let fileName = "web-admin-token"

    struct Resolved {
        /// nil only with `web.open`.
        let token: String?
        /// True when this call made the token file (the first start).
        let created: Bool
        let origin: String
    }

    static func path(_ configuration: RelayConfiguration) -> String {
        (configuration.dataDirectory as NSString).appendingPathComponent(fileName)
    }

    /// The token the page requires: the configured one, else the file's (made when missing).
    static func resolve(_ configuration: RelayConfiguration) throws -> Resolved {
        if configuration.web.open { return Resolved(token: nil, created: false, origin: "web.open = true") }
        if let token = configuration.web.adminToken { return Resolved(token: token, created: false, origin: "web.admin_token") }
        let path = path(configuration)
        if let token = try read(path) { return Resolved(token: token, created: false, origin: path) }
        let token = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            // Another process made it between our read and our create: use theirs.
            if errno == EEXIST, let token = try read(path) { return Resolved(token: token, created: false, origin: path) }
            throw OperatorError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array((token + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw OperatorError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return Resolved(token: token, created: true, origin: path)
    }

    /// The file's token, nil when there is no file. A file open to other users is refused like the secret key.
    static func read(_ path: String) throws -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw OperatorError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if info.st_mode & 0o077 != 0 {
            throw OperatorError("\(path) (the status page's admin token) must not be accessible by group or others; run `chmod 600 \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OperatorError("cannot read \(path) (check its permissions)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= RelayConfiguration.minimumWebTokenLength else {
            throw OperatorError("\(path) holds no usable token (at least \(RelayConfiguration.minimumWebTokenLength) characters); delete it and start serve again to make a new one")
        }
        return token
    }

    /// `http://HOST:PORT/login?ticket=...`: a wildcard listen address is shown as 127.0.0.1.
    static func signInURL(_ configuration: RelayConfiguration, token: String) -> String {
        let listen = configuration.web.listen
        var host = listen.host
        if host == "0.0.0.0" || host.isEmpty { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        if host.contains(":") { host = "[\(host)]" }
        let ticket = SignInLinks(adminToken: token).makeTicket()
        return "http://\(host):\(listen.port)" + SignInLinks.path(ticket: ticket)
    }
}
