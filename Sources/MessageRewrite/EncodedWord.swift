import Foundation

/// RFC 2047 encoded-words (`=?UTF-8?B?...?=`, `=?UTF-8?Q?...?=`), decoded for people: the send log
/// and the status page show subjects and names with them. Headers themselves are never rewritten
/// with the result.
public enum EncodedWord {
    /// `text` with every encoded-word it can read decoded. White space between two adjacent
    /// encoded-words is dropped (RFC 2047 §6.2). Unknown charsets and broken words stay as written.
    public static func decode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var output = ""
        var plainStart = 0  // start of the text not yet copied to output
        var previousWordEnd: Int?  // end of the last decoded word, to drop the white space after it
        var position = 0

        while position + 1 < bytes.count {
            guard bytes[position] == ASCII.equals, bytes[position + 1] == ASCII.question,
                  let word = parseWord(bytes, at: position)
            else {
                position += 1
                continue
            }
            let between = bytes[plainStart..<position]
            let onlyWhitespaceSincePreviousWord = previousWordEnd == plainStart
                && between.allSatisfy { ASCII.isWhitespace($0) || $0 == ASCII.cr || $0 == ASCII.lf }
            if !onlyWhitespaceSincePreviousWord {
                output += String(decoding: between, as: UTF8.self)
            }
            output += word.text
            position = word.end
            plainStart = word.end
            previousWordEnd = word.end
        }
        output += String(decoding: bytes[plainStart...], as: UTF8.self)
        return output
    }

    /// Reads `=?charset?encoding?payload?=` at `start`; nil when it is not one or cannot be decoded.
    private static func parseWord(_ bytes: [UInt8], at start: Int) -> (text: String, end: Int)? {
        var parts: [ArraySlice<UInt8>] = []
        var partStart = start + 2
        var position = start + 2
        while position < bytes.count, parts.count < 3 {
            let byte = bytes[position]
            if byte <= ASCII.space || byte >= ASCII.delete { return nil }
            if byte == ASCII.question {
                parts.append(bytes[partStart..<position])
                partStart = position + 1
            }
            position += 1
        }
        // After the third `?` the word must close with `=`.
        guard parts.count == 3, position < bytes.count, bytes[position] == ASCII.equals else { return nil }
        let (charset, encoding, payload) = (parts[0], parts[1], parts[2])
        guard !charset.isEmpty, encoding.count == 1 else { return nil }

        let decoded: [UInt8]?
        switch encoding.first! | 0x20 {  // ASCII lower case
        case UInt8(ascii: "b"): decoded = decodeBase64(payload)
        case UInt8(ascii: "q"): decoded = decodeQ(payload)
        default: decoded = nil
        }
        guard let decoded, let text = string(from: decoded, charset: charset) else { return nil }
        return (text, position + 1)
    }

    private static func decodeBase64(_ payload: ArraySlice<UInt8>) -> [UInt8]? {
        var text = String(decoding: payload, as: UTF8.self)
        // Some senders drop the padding.
        while text.utf8.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).map { Array($0) }
    }

    /// Q encoding (RFC 2047 §4.2): `_` is a space, `=XX` a byte in hex.
    private static func decodeQ(_ payload: ArraySlice<UInt8>) -> [UInt8]? {
        var result: [UInt8] = []
        var index = payload.startIndex
        while index < payload.endIndex {
            let byte = payload[index]
            if byte == ASCII.underscore {
                result.append(ASCII.space)
            } else if byte == ASCII.equals {
                guard index + 2 < payload.endIndex,
                      let high = hexValue(payload[index + 1]), let low = hexValue(payload[index + 2])
                else { return nil }
                result.append(high << 4 | low)
                index += 2
            } else {
                result.append(byte)
            }
            index += 1
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The charsets PHP and WordPress send; `UTF-8*en` (RFC 2231 language suffix) counts as UTF-8.
    private static func string(from bytes: [UInt8], charset: ArraySlice<UInt8>) -> String? {
        let name = String(decoding: charset, as: UTF8.self).lowercased().split(separator: "*").first ?? ""
        switch name {
        case "utf-8", "utf8", "us-ascii", "ascii":
            return String(decoding: bytes, as: UTF8.self)
        case "iso-8859-1", "latin1", "iso_8859-1":
            return String(data: Data(bytes), encoding: .isoLatin1)
        case "windows-1252", "cp1252":
            return String(data: Data(bytes), encoding: .windowsCP1252)
        default:
            return nil
        }
    }
}
