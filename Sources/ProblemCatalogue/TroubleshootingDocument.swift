import Foundation

extension ProblemCatalogue {
    /// docs/troubleshooting.md, generated from the entries with `ProblemContext.placeholder`.
    /// Regenerate with `gmail-relay troubleshooting-doc > docs/troubleshooting.md`; a test compares the
    /// committed file with this text.
    public static func troubleshootingMarkdown() -> String {
        var out = """
            # Troubleshooting

            <!-- Generated from Sources/ProblemCatalogue by `gmail-relay troubleshooting-doc > docs/troubleshooting.md`. Do not edit by hand: a test fails when this file and the catalogue disagree. -->

            When mail does not go out, the status page (`/`), `gmail-relay status` and `gmail-relay log show ID`
            name a **problem code** and explain it with the account's real name filled in. This page lists every
            code with the same text, with `NAME` for the account's name and `USER@DOMAIN` for its address.

            What happens to mail meanwhile:

            - **held**: \(Disposition.held.sentence)
            - **retried**: \(Disposition.retried.sentence)
            - **failed**: \(Disposition.failed.sentence)
            - **unaffected**: \(Disposition.unaffected.sentence)
            - **refused**: \(Disposition.refused.sentence)

            | code | problem | mail |
            |---|---|---|

            """
        for entry in entries {
            out += "| [`\(entry.code)`](#\(entry.code)) | \(entry.title) | \(entry.disposition.rawValue) |\n"
        }
        for entry in entries {
            let explained = entry.explain(.placeholder)
            out += "\n## \(entry.code)\n\n"
            out += "**\(explained.title).** Mail: **\(explained.disposition.rawValue)**.\n\n"
            out += explained.explanation + "\n\n"
            out += "Likely causes, most likely first:\n\n"
            for (index, cause) in explained.causes.enumerated() { out += "\(index + 1). \(cause)\n" }
            out += "\nWhat to do:\n\n"
            for (index, step) in explained.steps.enumerated() { out += "\(index + 1). \(step)\n" }
        }
        return out
    }
}
