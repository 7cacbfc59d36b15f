extension HeaderBlock {
    /// How many distinct mailboxes Gmail would send this message to: Gmail delivers to the To, Cc and
    /// Bcc headers (after the rewrite adds the envelope-only recipients to Bcc), not to the envelope, so
    /// a recipient limit that only counted RCPT TO could be passed with one RCPT and a long To header.
    public func gmailRecipientCount(envelopeRecipients: [String]) -> Int {
        var keys = Set(mailboxes(in: ["To", "Cc", "Bcc"]).map(\.address.recipientKey))
        for recipient in envelopeRecipients {
            if let address = EmailAddress(parsing: recipient) { keys.insert(address.recipientKey) }
        }
        return keys.count
    }
}
