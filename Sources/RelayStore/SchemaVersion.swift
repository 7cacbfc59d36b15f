import GRDB

extension RelayStore {
    /// The SQLite schema version: how many of the migrations in Schema.swift the database has (they are
    /// named v1, v2, ... in order). `gmail-relay migrate` prints it.
    public func schemaVersion() throws -> Int {
        try pool.read { db in try Schema.migrator.appliedIdentifiers(db).count }
    }

    /// The version this binary brings a database to.
    public static var knownSchemaVersion: Int { Schema.migrator.migrations.count }
}
