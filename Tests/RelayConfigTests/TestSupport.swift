import Foundation
import XCTest

@testable import RelayConfig

/// Loads `text` as `config.toml` with a fixed host name, so results do not depend on the test machine.
func load(_ text: String, env: [String: String] = [:]) throws(ConfigurationError) -> RelayConfiguration {
    try RelayConfiguration.parse(text: text, fileName: "config.toml", environment: env, hostName: "relay.test")
}

/// The error `text` + `env` produce, or a test failure when they load.
func loadError(
    _ text: String, env: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line
) -> ConfigurationError? {
    do {
        let configuration = try load(text, env: env)
        XCTFail("expected an error, loaded \(configuration)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// A temporary directory removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "relayconfig-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `contents` to `name` inside the directory and returns the full path.
    @discardableResult
    func write(_ name: String, _ contents: String = "x") throws -> String {
        let file = path + "/" + name
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
