import GRDB
import RelayVocabulary

/// The schema, as migrations. Never edit a registered migration: add a new one.
///
/// Conventions: snake_case columns; timestamps are INTEGER milliseconds since the epoch (UTC);
/// lists are JSON arrays in TEXT; booleans are 0/1. Messages keep the account's name next to the
/// nullable `account_id`, so the send log still reads right after an account is removed.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE accounts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL CHECK (kind IN ('sandbox', 'oauth_user', 'service_account')),
                    from_addresses TEXT NOT NULL DEFAULT '[]',
                    state TEXT NOT NULL CHECK (state IN ('ok', 'needs_reauth', 'blocked', 'unconfigured')),
                    problem_code TEXT,
                    problem_detail TEXT,
                    secret BLOB,
                    consented_at INTEGER,
                    last_success_at INTEGER,
                    token_expires_at INTEGER,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );

                CREATE TABLE credentials (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    username TEXT NOT NULL UNIQUE,
                    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
                    password_hash TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    last_used_at INTEGER
                );
                CREATE INDEX credentials_account ON credentials(account_id);

                CREATE TABLE messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    status TEXT NOT NULL
                        CHECK (status IN ('queued', 'sending', 'sent', 'held', 'failed', 'discarded')),
                    account TEXT NOT NULL,
                    account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
                    credential_username TEXT,
                    peer TEXT NOT NULL,
                    tls INTEGER NOT NULL,
                    mail_from TEXT NOT NULL,
                    recipients TEXT NOT NULL,
                    subject TEXT,
                    message_id TEXT,
                    size INTEGER NOT NULL,
                    spool_path TEXT,
                    gmail_id TEXT,
                    sandbox INTEGER NOT NULL,
                    problem_code TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER,
                    rewritten_headers TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX messages_status_due ON messages(status, next_attempt_at);
                CREATE INDEX messages_status_updated ON messages(status, updated_at);
                CREATE INDEX messages_account ON messages(account, id);
                CREATE INDEX messages_account_id ON messages(account_id);

                CREATE TABLE attempts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                    started_at INTEGER NOT NULL,
                    finished_at INTEGER NOT NULL,
                    endpoint TEXT NOT NULL,
                    http_status INTEGER,
                    response_body TEXT,
                    problem_code TEXT,
                    next_delay_seconds REAL
                );
                CREATE INDEX attempts_message ON attempts(message_id);

                CREATE TABLE events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
                    account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
                    account TEXT,
                    at INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    detail TEXT NOT NULL
                );
                CREATE INDEX events_message ON events(message_id);
                CREATE INDEX events_account ON events(account, id);
                CREATE INDEX events_account_id ON events(account_id);
                """)
        }
        migrator.registerMigration("v2") { db in
            // When the health probe (or doctor) last asked Google for a token for the account.
            try db.execute(sql: "ALTER TABLE accounts ADD COLUMN checked_at INTEGER")
        }
        migrator.registerMigration("v3") { db in
            // The scopes Google last said the account's access token carries (space-separated), so the
            // status page can say what was granted when a send scope is missing.
            try db.execute(sql: "ALTER TABLE accounts ADD COLUMN granted_scopes TEXT")
        }
        migrator.registerMigration("v4") { db in
            // Small messages are stored here, in the accept transaction itself (IncomingMessage); the
            // rest stay spool files named by messages.spool_path. Deleting a message deletes its body.
            try db.execute(sql: """
                CREATE TABLE message_bodies (
                    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
                    body BLOB NOT NULL
                )
                """)
        }
        migrator.registerMigration("v5-stats-index-key-age") { db in
            // /api/stats and the status page's charts count events per kind and hour: this index makes
            // that one range scan per kind over the index alone (no table reads), however long the log.
            try db.execute(sql: "CREATE INDEX events_kind_at ON events(kind, at)")
            // When the account's secret (refresh token or service-account key) was last stored: the
            // key-age warning needs it past the send log's retention, which purges account events.
            // Existing secrets get the best date the database has: the consent, else the account's creation.
            try db.execute(sql: """
                ALTER TABLE accounts ADD COLUMN secret_stored_at INTEGER;
                UPDATE accounts SET secret_stored_at = COALESCE(consented_at, created_at) WHERE secret IS NOT NULL;
                """)
        }
        migrator.registerMigration("v5-attempt-problem") { db in
            try db.execute(sql: """
                ALTER TABLE attempts ADD COLUMN problem_detail TEXT;
                ALTER TABLE events ADD COLUMN problem_code TEXT;
                """)
            try db.execute(sql: Self.v5LegacyAttemptDetail)
            try db.execute(sql: Self.v5LegacyEventProblem)
        }
        migrator.registerMigration("v6-credential-daily-limit") { db in
            // A login's daily message limit (NULL: none), and the index that keeps its count cheap: the
            // messages of one login since midnight UTC, counted at each MAIL FROM of a limited login.
            try db.execute(sql: """
                ALTER TABLE credentials ADD COLUMN daily_limit INTEGER CHECK (daily_limit IS NULL OR daily_limit >= 0);
                CREATE INDEX messages_credential_created ON messages(credential_username, created_at);
                """)
        }
        migrator.registerMigration("v7-account-fallback") { db in
            // The account that sends this one's mail while it needs reauthorization or is blocked
            // (`account update NAME --fallback OTHER`). A name, as messages carry account names.
            try db.execute(sql: "ALTER TABLE accounts ADD COLUMN fallback_account TEXT")
            // The account a message actually went out through, when that was its account's fallback.
            try db.execute(sql: "ALTER TABLE messages ADD COLUMN sent_through TEXT")
        }
        return migrator
    }

    /// Each failed attempt's classified answer (ProblemDetail's JSON: endpoint, HTTP status, Google's reason
    /// and words) is stored with it from v5 on, so nothing reads a body or a URL again to explain it. Rows
    /// from before get theirs once, here, from what they kept: the endpoint from the URL called, the fields
    /// from Google's JSON body (invalid JSON is only kept as text: `json_valid` guards every extraction).
    static let v5LegacyAttemptDetail = """
        UPDATE attempts SET problem_detail = json_object(
            'endpoint', CASE
                WHEN endpoint LIKE '%tokeninfo%' THEN 'tokeninfo'
                WHEN endpoint LIKE '%/token%' THEN 'token'
                ELSE 'gmail_send' END,
            'http_status', http_status,
            'google_message', CASE WHEN json_valid(response_body) THEN COALESCE(
                json_extract(response_body, '$.error.message'), json_extract(response_body, '$.error.errors[0].message'),
                json_extract(response_body, '$.error_description')) END,
            'reason', CASE WHEN json_valid(response_body) THEN COALESCE(
                json_extract(response_body, '$.error.errors[0].reason'), json_extract(response_body, '$.error.details[0].reason'),
                CASE WHEN json_type(response_body, '$.error') = 'text' THEN json_extract(response_body, '$.error') END) END,
            'status', CASE WHEN json_valid(response_body) THEN json_extract(response_body, '$.error.status') END,
            'body_format', CASE
                WHEN COALESCE(response_body, '') = '' THEN 'empty'
                WHEN json_valid(response_body) AND json_type(response_body, '$.error') = 'object' THEN 'google_error'
                WHEN json_valid(response_body) AND json_type(response_body, '$.error') = 'text' THEN 'oauth_error'
                WHEN json_valid(response_body) THEN 'json'
                WHEN response_body LIKE '<%' THEN 'html'
                ELSE 'text' END,
            'raw_body', COALESCE(response_body, ''))
        WHERE problem_code IS NOT NULL AND http_status IS NOT NULL
        """

    /// Account-state events name their problem in a field from v5 on; before, only in the sentence
    /// "needs_reauth (testing_mode_expiry): {...}". Read once here, so no reader searches the prose.
    static let v5LegacyEventProblem = """
        UPDATE events SET problem_code = substr(detail, instr(detail, ' (') + 2, instr(detail, ')') - instr(detail, ' (') - 2)
        WHERE kind = 'account_state' AND instr(detail, ' (') > 0 AND instr(detail, ')') > instr(detail, ' (')
          AND substr(detail, 1, instr(detail, ' (') - 1) IN ('ok', 'needs_reauth', 'blocked', 'unconfigured')
          AND detail NOT LIKE 'ok (was %'

        """

}
