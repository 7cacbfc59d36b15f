import Foundation

/// One value of a stored row, as `store copy` carries it from one store to the other without knowing
/// either database's types: SQLite's storage classes, which PostgreSQL's columns accept as they are.
public enum StoreValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// One row of a store table, its columns by name (in the table's order).
public struct StoreRow: Sendable, Equatable {
    public var columns: [String]
    public var values: [StoreValue]

    public init(columns: [String], values: [StoreValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(column: String) -> StoreValue? {
        get { columns.firstIndex(of: column).map { values[$0] } }
        set {
            if let index = columns.firstIndex(of: column) {
                if let newValue { values[index] = newValue } else { columns.remove(at: index); values.remove(at: index) }
            } else if let newValue {
                columns.append(column)
                values.append(newValue)
            }
        }
    }

    /// The row's `id` (every copied table has one).
    public var id: Int64? {
        if case .integer(let id)? = self["id"] { return id }
        return nil
    }
}

/// The tables `store copy` moves, in the order their foreign keys need (bodies go with their messages).
public enum StoreTable: String, Sendable, CaseIterable {
    case accounts, credentials, messages, attempts, events
}
