/// Decoding of the SASL mechanisms offered: PLAIN (RFC 4616) and LOGIN (the de-facto one PHPMailer prefers).
public enum SASL {
    /// Decodes base64 text from the client. "=" is the empty response (RFC 4954 section 4).
    public static func decodeResponse(_ text: String) -> [UInt8]? {
        if text == "=" { return [] }
        return Base64.decode(text)
    }

    /// `[authzid] NUL authcid NUL passwd`. We accept an authorization identity only when it is empty or
    /// equals the authentication identity: a site must not send as another site.
    public static func parsePlain(_ bytes: [UInt8]) -> (username: String, password: String)? {
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3,
              let authzid = String(validating: parts[0], as: UTF8.self),
              let username = String(validating: parts[1], as: UTF8.self),
              let password = String(validating: parts[2], as: UTF8.self),
              !username.isEmpty
        else { return nil }
        guard authzid.isEmpty || authzid == username else { return nil }
        return (username, password)
    }
}

/// Strict base64 (RFC 4648 section 4) for AUTH payloads; Foundation-free so the core stays pure.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let decodeTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], alphabet[Int(value & 63)]]
            index += 3
        }
        let remaining = bytes.count - index
        if remaining == 1 {
            let value = UInt32(bytes[index]) << 16
            out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if remaining == 2 {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let chunk = input[index..<index + 4]
            let isLast = index + 4 == input.count
            var values: [UInt32] = []
            var padding = 0
            for (position, byte) in chunk.enumerated() {
                if byte == UInt8(ascii: "=") {
                    // Padding only at the end of the last chunk, in positions 2 and 3.
                    guard isLast, position >= 2 else { return nil }
                    padding += 1
                    values.append(0)
                } else {
                    guard padding == 0 else { return nil }
                    let decoded = decodeTable[Int(byte)]
                    guard decoded >= 0 else { return nil }
                    values.append(UInt32(decoded))
                }
            }
            let value = values[0] << 18 | values[1] << 12 | values[2] << 6 | values[3]
            out.append(UInt8(value >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(value >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(value & 0xFF)) }
            index += 4
        }
        return out
    }
}
