import Foundation

/// How many of an account's messages wait or failed; a row of the status page.
public struct AccountMessageCounts: Codable, Sendable, Equatable {
    public var queued: Int
    public var held: Int
    public var failed: Int

    public init(queued: Int = 0, held: Int = 0, failed: Int = 0) {
        self.queued = queued
        self.held = held
        self.failed = failed
    }
}
