import MessageRewrite
import Submission
import Testing

/// The header capture reads Subject, Message-ID and header recipients from DATA as it streams in.
/// It must give what the header parser gives for the same bytes, however the bytes are split.
@Suite struct HeaderCaptureTests {
    /// What `HeaderBlock` reads from the first `limit` bytes: the reference the capture must match.
    struct Summary: Equatable, CustomStringConvertible {
        var subject: String?
        var messageID: String?
        var recipients: Int
        var description: String { "subject \(subject.debugDescription), id \(messageID.debugDescription), \(recipients) recipients" }
    }

    static func reference(_ message: [UInt8], limit: Int, envelope: [String] = []) -> Summary {
        let block = HeaderBlock(messagePrefix: Array(message.prefix(limit)), isWholeMessage: message.count <= limit)
        return Summary(subject: block.subject.map(EncodedWord.decode), messageID: block.messageID,
                       recipients: block.gmailRecipientCount(envelopeRecipients: envelope))
    }

    static func capture(_ chunks: [[UInt8]], limit: Int = HeaderCapture.defaultLimit, envelope: [String] = []) -> Summary {
        var capture = HeaderCapture(limit: limit)
        for chunk in chunks { capture.scan(chunk) }
        capture.finish()
        return Summary(subject: capture.subject, messageID: capture.messageID,
                       recipients: capture.gmailRecipientCount(envelopeRecipients: envelope))
    }

    /// The message cut at `first` and `second` (three chunks, some maybe empty).
    static func split(_ bytes: [UInt8], _ first: Int, _ second: Int) -> [[UInt8]] {
        [Array(bytes[..<first]), Array(bytes[first..<second]), Array(bytes[second...])]
    }

    static let message = Array("""
        From: Site <site@example.com>\r
        Subject: Your order\r
         has shipped\r
        To: a@example.org, "Doe, J" <j@example.org>\r
        Message-ID: <abc.123@example.com>\r
        Cc: c@example.org\r
        \r
        Subject: not a header, the body\r
        To: body@example.org\r

        """.utf8)

    @Test func capturesSubjectMessageIDAndRecipientsSplitAnywhere() {
        let expected = Summary(subject: "Your order has shipped", messageID: "<abc.123@example.com>", recipients: 4)
        #expect(Self.reference(Self.message, limit: HeaderCapture.defaultLimit, envelope: ["x@example.net"]) == expected)
        // Every pair of cut points: inside header names ("Subj|ect"), between CR and LF, at the blank line.
        for first in 0...Self.message.count {
            for second in stride(from: first, through: Self.message.count, by: 7) {
                let got = Self.capture(Self.split(Self.message, first, second), envelope: ["x@example.net"])
                #expect(got == expected, "cut at \(first) and \(second)")
            }
        }
        // And one byte at a time.
        #expect(Self.capture(Self.message.map { [$0] }, envelope: ["x@example.net"]) == expected)
    }

    @Test func foldedFieldsAndEncodedWords() {
        let message = Array("Subject: =?UTF-8?B?Q2Fmw6k=?=\r\n au lait\r\nMessage-ID:\r\n\t<folded@example.com>\r\nTo: a@example.org,\r\n b@example.org\r\n\r\nbody\r\n".utf8)
        let got = Self.capture(Self.split(message, 9, 40))
        #expect(got.subject == "Café au lait")
        #expect(got.messageID == "<folded@example.com>")
        #expect(got.recipients == 2)
        #expect(got == Self.reference(message, limit: HeaderCapture.defaultLimit))
    }

    @Test func theFirstSubjectAndMessageIDCountAndABlankMessageIDIsNone() {
        let message = Array("Message-ID:  \r\nSubject: first\r\nSubject: second\r\nMessage-ID: <late@example.com>\r\n\r\n".utf8)
        let got = Self.capture([message])
        #expect(got.subject == "first")
        #expect(got.messageID == nil)
        #expect(got == Self.reference(message, limit: HeaderCapture.defaultLimit))
    }

    @Test func stopsAtTheEndOfTheHeaderBlock() {
        var capture = HeaderCapture()
        capture.scan(Array("Subject: hi\n\n".utf8))
        #expect(capture.isComplete)
        capture.scan(Array("Subject: body text\r\nTo: b@example.org\r\n".utf8))
        capture.finish()
        #expect(capture.subject == "hi")
        #expect(capture.gmailRecipientCount(envelopeRecipients: []) == 0)
    }

    @Test func aHeaderWithoutBodyEndsWithTheMessage() {
        // No blank line, no final line end: the whole message is header, its last line included.
        let message = Array("To: a@example.org\r\nSubject: last line".utf8)
        #expect(Self.capture(Self.split(message, 5, 30)) == Summary(subject: "last line", messageID: nil, recipients: 1))
        #expect(Self.capture([message]) == Self.reference(message, limit: HeaderCapture.defaultLimit))
    }

    @Test func aHeaderBlockLargerThanTheCapIsReadUpToItsLastCompleteLine() {
        // 40 recipients in a long To field, then a Subject past the cap.
        var header = "To: " + (0..<40).map { "r\($0)@example.org" }.joined(separator: ",\r\n ") + "\r\n"
        header += "Message-ID: <m@example.com>\r\nSubject: past the cap\r\n\r\nbody"
        let message = Array(header.utf8)
        for limit in [20, 100, 300, 500, message.count - 30, message.count - 10, message.count - 1] {
            let expected = Self.reference(message, limit: limit)
            for first in stride(from: 0, through: message.count, by: 11) {
                #expect(Self.capture(Self.split(message, first, min(message.count, first + 5)), limit: limit) == expected,
                        "limit \(limit), cut at \(first)")
            }
        }
        // Cut inside the To field: only its complete lines count, and nothing after it is read.
        let cut = Self.capture([message], limit: 100)
        #expect(cut.subject == nil && cut.messageID == nil)
        #expect(cut.recipients > 0 && cut.recipients < 40)
        #expect(Self.capture([message], limit: message.count - 10) == Summary(subject: nil, messageID: "<m@example.com>", recipients: 40))
    }

    @Test func oddLineEndsReadAsTheHeaderParserReadsThem() {
        let samples: [String] = [
            "Subject\r: cr before colon\r\n\r\n",
            "Sub\rject: cr in the name\r\nSubject: real\r\n\r\n",
            "\rSubject: after a lone cr\r\n\r\n",
            "Subject: a\r\r\n\r more\r\n\n",
            "garbage line\r\n continuation of nothing\r\nSubject: s\n\n",
            "Subject: lone cr at the end\r\n\r",
            "X-Long: " + String(repeating: "x", count: 600) + "\r\nSubject : spaced name\r\n\r\n",
            String(repeating: "N", count: 300) + ": long name\r\nSubject: ok\r\n\r\n",
            "Subject: \r\n\r\n",
        ]
        for sample in samples {
            let message = Array(sample.utf8)
            for limit in [HeaderCapture.defaultLimit, 25] {
                let expected = Self.reference(message, limit: limit)
                for first in 0...message.count {
                    #expect(Self.capture(Self.split(message, first, first), limit: limit) == expected,
                            "\(sample.debugDescription) limit \(limit) cut at \(first)")
                }
            }
        }
    }

    /// Random headers of field names, folds, CR and LF mixes, against the parser, split at random.
    @Test func randomHeadersMatchTheParser() {
        var random = SplitMix(seed: 0x5EED_14)
        let pieces: [String] = [
            "Subject: ", "subject:", "SUBJECT :", "Message-ID: <", "message-id:", "To: ", "cc: ", "Bcc:", "X-Other: ",
            "a@example.org", "\"Doe, J\" <j@example.org>", ", ", "=?UTF-8?Q?caf=C3=A9?=", "text", ":", " ", "\t",
            "\r\n", "\n", "\r", "\r\n ", "\r\n\t", "\r\n\r\n", "@", ">", "Sub", "ject:",
        ]
        for round in 0..<400 {
            var text = ""
            for _ in 0..<random.next(below: 30) { text += pieces[random.next(below: pieces.count)] }
            let message = Array(text.utf8)
            let limit = random.next(below: 3) == 0 ? max(1, random.next(below: message.count + 1)) : HeaderCapture.defaultLimit
            let first = random.next(below: message.count + 1)
            let second = first + random.next(below: message.count - first + 1)
            let expected = Self.reference(message, limit: limit, envelope: ["e@example.net"])
            #expect(Self.capture(Self.split(message, first, second), limit: limit, envelope: ["e@example.net"]) == expected,
                    "round \(round): \(text.debugDescription) limit \(limit) cuts \(first), \(second)")
        }
    }
}

/// A small seeded generator, so a failure replays.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(below bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }
}
