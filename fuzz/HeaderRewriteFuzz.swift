// libFuzzer target for the header rewriter (Sources/MessageRewrite). Build and run with
// scripts/fuzz.sh rewrite. Compiled in one module with Sources/MessageRewrite/*.swift (no import).
//
// The input is split at the first 0x00: before it a header block, after it envelope recipients
// (separated by newlines) and, after a second 0x00, account addresses. Invariants, which trap when broken:
//  - every line of the output ends in CRLF, and there is no bare CR or LF;
//  - every readable envelope recipient is among the output's To/Cc/Bcc recipients (Gmail sends to
//    exactly those: a miss would drop mail silently);
//  - at most one Bcc field, exactly one Message-ID and one Date;
//  - rewriting the output again with the same inputs changes nothing (the rules reach a fixed point).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRewrite(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let parts = input.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).map(Array.init)
    let header = parts[0]
    let recipients = parts.count > 1 ? lines(parts[1]) : []
    let accounts = parts.count > 2 ? lines(parts[2]) : []
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    let first = rewriteHeader(header, envelopeRecipients: recipients, accountAddresses: accounts, now: now,
                              newMessageID: "fuzz@relay.test")
    checkLineEnds(first.header)
    // Compared as mailboxes (recipientKey: case and quoting do not make another mailbox).
    let delivered = Set(first.block.mailboxes(in: ["To", "Cc", "Bcc"]).map(\.address.recipientKey))
    for recipient in recipients {
        guard let address = EmailAddress(parsing: recipient) else { continue }
        check(delivered.contains(address.recipientKey), "envelope recipient \(recipient) missing from To/Cc/Bcc")
    }
    check(first.block.fields(named: "Bcc").count <= 1, "more than one Bcc")
    check(first.block.fields(named: "Message-ID").count == 1, "Message-ID count")
    check(first.block.fields(named: "Date").count == 1, "Date count")

    let second = rewriteHeader(first.header, envelopeRecipients: recipients, accountAddresses: accounts, now: now,
                               newMessageID: "other@relay.test")
    check(second.header == first.header, "a second rewrite changed the header")
    return 0
}

private func lines(_ bytes: [UInt8]) -> [String] {
    bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
}

private func checkLineEnds(_ header: [UInt8]) {
    guard !header.isEmpty else { return }
    check(header.count >= 2 && header[header.count - 2] == 13 && header[header.count - 1] == 10, "last line not CRLF")
    for index in header.indices {
        if header[index] == 10 { check(index > 0 && header[index - 1] == 13, "bare LF at \(index)") }
        if header[index] == 13 { check(index + 1 < header.count && header[index + 1] == 10, "bare CR at \(index)") }
    }
}

private func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}
