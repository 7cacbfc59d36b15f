// fake-google: the FakeGoogle test double as a process, for tests written in other languages.
//
//     fake-google [--host 127.0.0.1] [--port 0] [--port-file PATH]
//
// Prints "fake-google listening on http://HOST:PORT", writes PORT to the port file, and serves
// until SIGTERM or SIGINT. Set-up and observation go through the /_fake/... control plane.
import FakeGoogle
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Options {
    var host = "127.0.0.1"
    var port = 0
    var portFile: String?

    static let usage = "usage: fake-google [--host 127.0.0.1] [--port 0] [--port-file PATH]"

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            var name = argument
            var inlineValue: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            func value() throws -> String {
                if let inlineValue { return inlineValue }
                guard let next = rest.popFirst() else { throw UsageError("\(name) needs a value") }
                return next
            }
            switch name {
            case "--host": host = try value()
            case "--port":
                let text = try value()
                guard let number = Int(text), (0...65535).contains(number) else { throw UsageError("bad port \(text)") }
                port = number
            case "--port-file": portFile = try value()
            case "-h", "--help":
                print(Self.usage)
                exit(0)
            default: throw UsageError("unknown argument \(argument)")
            }
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fake-google: \(message)\n".utf8))
    exit(2)
}

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)\n\(Options.usage)")
}

// Signals arrive on a dispatch source; the default handlers are turned off first.
let (signals, signalContinuation) = AsyncStream.makeStream(of: Int32.self)
var signalSources: [any DispatchSourceSignal] = []
for number in [SIGTERM, SIGINT] {
    signal(number, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
    source.setEventHandler { signalContinuation.yield(number) }
    source.resume()
    signalSources.append(source)
}

let server = FakeGoogleServer()
let url: URL
do {
    url = try await server.start(host: options.host, port: options.port)
} catch {
    fail("\(error)")
}
if let portFile = options.portFile, let port = url.port {
    do {
        try "\(port)\n".write(toFile: portFile, atomically: true, encoding: .utf8)
    } catch {
        fail("cannot write \(portFile): \(error)")
    }
}
FileHandle.standardOutput.write(Data("fake-google listening on \(url.absoluteString)\n".utf8))

for await _ in signals { break }
await server.stop()
withExtendedLifetime(signalSources) {}
