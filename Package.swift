// swift-tools-version:6.1
import PackageDescription

// Module map (each module has a README saying what it owns):
//   BuildInfo     the relay's version, in one place.
//   RelayVocabulary the words every module shares: problem codes (Google's and the relay's), ProblemDetail
//                 and its one stored form, account/message/event kinds. No dependencies.
//   SMTPProtocol  pure ESMTP core: parser, replies, session state machine, DATA decoder. No I/O.
//   RelayConfig   config file + environment -> typed configuration; CIDR matching. No I/O beyond reading the file.
//   StoreModel    what every store shares, with no database in it: the store API (MessageStore, AccountStore,
//                 CredentialStore, MessageIntake protocols), the model types, the message lifecycle's table,
//                 StoreError, password hashing, the verified-login cache, the secret box.
//   RelayStore    the SQLite (GRDB) implementation of the store API: spool files, accounts, SMTP credentials,
//                 send log, the message lifecycle's writes. Re-exports StoreModel.
//   PostgresStore the PostgreSQL implementation of the store API for relays that share one database
//                 (PostgresRelayStore): connection, migrations, chunked bodies, claims with leases, heartbeats.
//   RelayBackup   backup and restore of the data directory: manifest, checksums, private file modes.
//   SMTPServer    SwiftNIO glue: sockets, TLS, timeouts, limits; drives SMTPProtocol, talks to a SubmissionBackend.
//   Submission    intake: the SubmissionBackend of the store (logins, spool + header capture, held/queued/sending, commit).
//   MessageRewrite header rewriting for Gmail: envelope recipients -> Bcc, the From rule. Pure.
//   GmailAPI      token grants, token cache, the Gmail send client, the failure classifier.
//   Delivery      the delivery worker: per-account lanes, retry policy, Gmail attempts, send log rows, metrics.
//   GoogleFixtures Google's error bodies as captured: the one fixture set of FakeGoogle and the tests.
//   ProblemCatalogue every problem code explained: title, meaning, causes, steps, disposition. Pure.
//   RelayStatus   the status report and message documents (store + catalogue), shared by the page, the API and the CLI.
//   StatusWeb     the status page, JSON API, /metrics, /healthz (Hummingbird + Mustache templates).
//   AccountAlerts alerts: watches account states; webhook (json, slack, discord, teams, ntfy), reminders, email.
//   FakeGoogle    a fake of Google's OAuth and Gmail endpoints for tests (the fake-google executable).
//   GmailRelayApp composition and command implementations shared by the executable and the tests.
//   gmail-relay   the executable: argument parsing only.
// Tests: one target per module, plus StoreContractTests (the store API's behaviour, run on SQLite and on
// PostgreSQL) and PostgresTestSupport (test-only: the throw-away PostgreSQL cluster the tests share).
let package = Package(
    name: "gmail-relay",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gmail-relay", targets: ["gmail-relay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(name: "BuildInfo", exclude: ["README.md"]),
        // The shared words: problem codes, ProblemDetail, account/message/event kinds. The bottom module.
        .target(name: "RelayVocabulary", exclude: ["README.md"]),
        .target(name: "SMTPProtocol", exclude: ["README.md"]),
        .target(name: "RelayConfig", exclude: ["README.md"]),
        .target(name: "MessageRewrite", exclude: ["README.md"]),
        // Google's error bodies as captured: one fixture set for the fake and the tests.
        .target(name: "GoogleFixtures", exclude: ["README.md"]),
        .target(
            name: "StoreModel",
            dependencies: [
                "RelayVocabulary",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            exclude: ["README.md"]
        ),
        .target(
            name: "RelayStore",
            dependencies: [
                "RelayVocabulary", "StoreModel",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // The PostgreSQL store (issue 15): several relays share one database.
        .target(
            name: "PostgresStore",
            dependencies: [
                "RelayVocabulary", "RelayConfig", "StoreModel",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        .target(
            name: "RelayBackup",
            dependencies: ["RelayVocabulary", "RelayStore", "BuildInfo", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["README.md"]
        ),
        .target(
            name: "SMTPServer",
            dependencies: [
                "SMTPProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        // Intake: the SMTP listener's backend (login, spool with header capture, the accept decision, commit).
        .target(
            name: "Submission",
            dependencies: [
                "RelayVocabulary", "SMTPServer", "SMTPProtocol", "RelayStore", "MessageRewrite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["README.md"]
        ),
        // The delivery engine: worker, per-account lanes, retry policy, send log rows, metrics.
        .target(
            name: "Delivery",
            dependencies: [
                "RelayVocabulary", "RelayStore", "GmailAPI", "MessageRewrite",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        .target(
            name: "GmailRelayApp",
            dependencies: [
                "RelayVocabulary", "SMTPProtocol", "RelayConfig", "RelayStore", "SMTPServer", "Submission", "MessageRewrite", "GmailAPI",
                "Delivery", "ProblemCatalogue", "RelayStatus", "StatusWeb", "AccountAlerts", "BuildInfo", "RelayBackup", "PostgresStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["README.md"]
        ),
        .target(
            name: "GmailAPI",
            dependencies: [
                "RelayVocabulary",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // A fake of Google's OAuth and Gmail endpoints for tests; also runnable on its own (`fake-google`).
        .target(
            name: "FakeGoogle",
            dependencies: [
                "GoogleFixtures",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            exclude: ["README.md"]
        ),
        .target(name: "ProblemCatalogue", dependencies: ["RelayVocabulary"], exclude: ["README.md"]),
        .target(name: "RelayStatus", dependencies: ["RelayVocabulary", "ProblemCatalogue", "RelayStore"], exclude: ["README.md"]),
        .target(
            name: "AccountAlerts",
            dependencies: [
                "RelayVocabulary", "RelayStatus", "ProblemCatalogue", "RelayStore", "GmailAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        .target(
            name: "StatusWeb",
            dependencies: [
                "RelayVocabulary", "RelayStatus", "ProblemCatalogue", "RelayStore", "RelayConfig", "BuildInfo",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),
        .executableTarget(name: "fake-google", dependencies: ["FakeGoogle"]),
        .executableTarget(name: "gmail-relay", dependencies: ["GmailRelayApp"]),
        .testTarget(name: "RelayVocabularyTests", dependencies: ["RelayVocabulary"]),
        .testTarget(name: "SMTPProtocolTests", dependencies: ["SMTPProtocol"]),
        .testTarget(name: "RelayConfigTests", dependencies: ["RelayConfig"]),
        .testTarget(name: "MessageRewriteTests", dependencies: ["MessageRewrite"]),
        .testTarget(name: "RelayStoreTests", dependencies: ["RelayStore", "StoreModel", "RelayVocabulary"]),
        // Test support, not shipped: the throw-away PostgreSQL cluster (scripts/postgres.sh) the PostgreSQL
        // store's tests and the store contract suite share.
        .target(
            name: "PostgresTestSupport",
            dependencies: [
                "PostgresStore", "RelayConfig",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/PostgresTestSupport"
        ),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: [
                "PostgresStore", "PostgresTestSupport", "RelayConfig", "RelayVocabulary",
                // The fleet's shared token: Delivery's AccountTokens against the fake Google.
                "Delivery", "GmailAPI", "FakeGoogle",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One suite of the store API's behaviour, run against SQLite and PostgreSQL (issue 15).
        .testTarget(
            name: "StoreContractTests",
            dependencies: [
                "StoreModel", "RelayStore", "PostgresStore", "PostgresTestSupport", "RelayConfig", "RelayVocabulary",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        .testTarget(name: "RelayBackupTests", dependencies: ["RelayBackup", "RelayStore", "RelayVocabulary"]),
        .testTarget(name: "GmailAPITests", dependencies: ["GmailAPI", "RelayVocabulary", "FakeGoogle", "GoogleFixtures"]),
        .testTarget(name: "DeliveryTests", dependencies: ["Delivery", "GmailAPI", "RelayStore", "RelayVocabulary", "FakeGoogle"]),
        .testTarget(name: "ProblemCatalogueTests", dependencies: ["ProblemCatalogue", "RelayVocabulary", "GmailAPI", "GoogleFixtures"]),
        .testTarget(
            name: "StatusWebTests",
            dependencies: [
                "StatusWeb", "RelayStatus", "AccountAlerts", "ProblemCatalogue", "RelayVocabulary", "GmailAPI", "RelayStore", "StoreModel",
                "GmailRelayApp", "RelayConfig", "Delivery", "BuildInfo",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SubmissionTests",
            dependencies: [
                "Submission", "RelayVocabulary", "SMTPServer", "SMTPProtocol", "RelayStore", "MessageRewrite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "SMTPServerTests",
            dependencies: [
                "SMTPServer", "SMTPProtocol",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
