import ArgumentParser
import Foundation
import RelayStore

/// `gmail-relay web-token`: a new one-time sign-in link for the status page (and, on request, the token).
struct WebTokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web-token",
        abstract: "Print a one-time sign-in link for the status page (made with the admin token).",
        discussion: """
            The link works once, for 60 minutes, on the running relay. Without web.admin_token, the token is the one \
            serve keeps in data.dir/web-admin-token (made here when missing). --show-token prints the token itself, \
            for API clients (Authorization: Bearer); the WordPress plugin needs only web.read_token.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Also print the admin token itself (a secret: everything the page and API can do).") var showToken = false

    func run() throws {
        let configuration = try global.loadConfiguration()
        // The data directory is made (0700) and checked the way serve does, before a token file goes in it.
        try global.openSQLiteStore(configuration).close()
        let resolved = try WebAdminToken.resolve(configuration)
        guard let token = resolved.token else {
            print("web.open = true: the status page needs no token on \(configuration.web.listen)")
            return
        }
        print("Sign-in link (one use, 60 minutes): \(WebAdminToken.signInURL(configuration, token: token))")
        print("Admin token: from \(resolved.origin)\(resolved.created ? " (made now)" : "")")
        if showToken { print(token) }
    }
}
