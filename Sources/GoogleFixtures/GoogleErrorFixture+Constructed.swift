// Bodies docs/google-api.md describes but does not print whole, built from the pieces it gives, and
// two HTML pages of Google's front end. Each says what it rests on; [INF] marks assembled shapes.

extension GoogleErrorFixture {
    // The envelopes the [INF] bodies below are assembled in, printed as Google prints them (compare the
    // captured `failedPrecondition`, `delegationDeniedOldEnvelope` and `invalidGrantRevoked`). The texts go
    // in as they are: none has a quote or a backslash.

    /// The current Gmail error envelope (docs/google-api.md section 0) with one `errors` entry, its
    /// `extendedHelp` when given, and `details` (the entries as printed, six spaces in) when given.
    static func gmailError(
        _ code: Int, _ message: String, domain: String, reason: String, extendedHelp: String? = nil, status: String,
        details: String? = nil
    ) -> String {
        let help = extendedHelp.map { ",\n        \"extendedHelp\": \"\($0)\"" } ?? ""
        let detailList = details.map { ",\n    \"details\": [\n\($0)\n    ]" } ?? ""
        return """
            {
              "error": {
                "code": \(code),
                "message": "\(message)",
                "errors": [
                  {
                    "message": "\(message)",
                    "domain": "\(domain)",
                    "reason": "\(reason)"\(help)
                  }
                ],
                "status": "\(status)"\(detailList)
              }
            }
            """
    }

    /// The old Gmail error envelope (`errors` first, then `code` and `message`), one-space indent as in the
    /// captured `delegationDeniedOldEnvelope`, with one `errors` entry and its `extendedHelp` when given.
    static func oldGmailError(_ code: Int, _ message: String, domain: String, reason: String, extendedHelp: String? = nil) -> String {
        let help = extendedHelp.map { ",\n    \"extendedHelp\": \"\($0)\"" } ?? ""
        return """
            {
             "error": {
              "errors": [
               {
                "domain": "\(domain)",
                "reason": "\(reason)",
                "message": "\(message)"\(help)
               }
              ],
              "code": \(code),
              "message": "\(message)"
             }
            }
            """
    }

    /// A token endpoint error (docs/google-api.md section 4.2).
    static func oauthError(_ error: String, _ description: String) -> String {
        """
        {
          "error": "\(error)",
          "error_description": "\(description)"
        }
        """
    }

    /// 2.8 (a) [INF] full body; the message text (two spaces after "exceeded.") is [OBS] GAMADV-XTD3 #149.
    public static let userRateLimit429 = gmailError(
        429, "User-rate limit exceeded.  Retry after 2026-11-22T19:04:05.123Z",
        domain: "usageLimits", reason: "rateLimitExceeded", status: "RESOURCE_EXHAUSTED")

    /// 2.8 (a) [FIX] the mail-sending variant with one space, as some codebases record it.
    public static let mailSendingOneSpace = #"""
{"error":{"code":429,"message":"User-rate limit exceeded. Retry after 2026-07-16T00:34:55.867Z (Mail sending)","errors":[{"message":"User-rate limit exceeded. Retry after 2026-07-16T00:34:55.867Z (Mail sending)","domain":"usageLimits","reason":"rateLimitExceeded"}],"status":"RESOURCE_EXHAUSTED"}}
"""#

    /// 2.7 [OBS] message, domain and reason (gmail-cleaner #5); `status` [INF].
    public static let queriesPerMinute = gmailError(
        403, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:861228239640'.",
        domain: "usageLimits", reason: "rateLimitExceeded", status: "PERMISSION_DENIED")

    /// 2.1 [OBS] Go client printed "Error 400: Bad Request, failedPrecondition" (service account, gmail.com); body [INF].
    public static let failedPreconditionBadRequest = gmailError(
        400, "Bad Request",
        domain: "global", reason: "failedPrecondition", status: "FAILED_PRECONDITION")

    /// 2.1 [OBS] FlowCrypt #435 saw "Mail service not enabled" in the old envelope; shape [INF].
    public static let mailServiceNotEnabledOldEnvelope = oldGmailError(
        400, "Mail service not enabled", domain: "global", reason: "failedPrecondition")

    /// 1.2 / 2.2 [OBS] message and reason (dotnet-client #856); `status` [INF].
    public static let rawRequired = gmailError(
        400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        domain: "global", reason: "badRequest", status: "INVALID_ARGUMENT")

    /// 1.3 [OBS] message and reason (dotnet-client #804/#856); envelope [INF].
    public static let payloadSizeExceeded = gmailError(
        400, "Request payload size exceeds the limit: 1048576 bytes.",
        domain: "global", reason: "badRequest", status: "INVALID_ARGUMENT")

    /// 2.5 [OBS] 2018 wording with the "Access Not Configured. " prefix (python-samples #23); envelope [INF].
    public static let accessNotConfigured2018 = oldGmailError(
        403, "Access Not Configured. Gmail API has not been used in project 1049213532491 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=1049213532491 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
        domain: "usageLimits", reason: "accessNotConfigured",
        extendedHelp: "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=1049213532491")

    /// 2.5 [OBS] message and errors entry as in the captured `accessNotConfigured`; [FIX] SERVICE_DISABLED
    /// ErrorInfo metadata keys; LocalizedMessage/Help entries as other APIs send them. Shape [INF].
    public static let serviceDisabled = gmailError(
        403, disabledMessage, domain: "usageLimits", reason: "accessNotConfigured",
        extendedHelp: "https://console.developers.google.com", status: "PERMISSION_DENIED", details: """
              {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {
                  "service": "gmail.googleapis.com",
                  "consumer": "projects/861228239640",
                  "activationUrl": "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640",
                  "serviceTitle": "Gmail API",
                  "containerInfo": "861228239640"
                }
              },
              {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "\(disabledMessage)"
              },
              {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                  {
                    "description": "Google developers console API activation",
                    "url": "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640"
                  }
                ]
              }
        """)

    /// Gmail's words for a project with the API off (project 861228239640, as in `accessNotConfigured`).
    static let disabledMessage = "Gmail API has not been used in project 861228239640 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."

    /// [INF] SERVICE_DISABLED whose message carries no link: only details[].metadata.activationUrl has it,
    /// and the ErrorInfo comes after another entry.
    public static let serviceDisabledLinkOnlyInDetails = #"""
{"error":{"code":403,"message":"Gmail API is disabled for project 42.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"Gmail API is disabled."},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com","metadata":{"service":"gmail.googleapis.com","consumer":"projects/42","activationUrl":"https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=42"}}]}}
"""#

    /// 2.6 [OBS] home-assistant #87920 message and errors; `status` [INF].
    public static let delegationDenied = gmailError(
        403, "Delegation denied for example@gmail.com",
        domain: "global", reason: "forbidden", status: "PERMISSION_DENIED")

    /// 4.2 [OBS] cline/cline #4080: GCP session control wants a new sign-in.
    public static let invalidGrantRapt = #"""
{"error":"invalid_grant","error_description":"reauth related error (invalid_rapt)","error_uri":"https://support.google.com/a/answer/9368756","error_subtype":"invalid_rapt"}
"""#

    /// 4.2 [INF] the fake Google's answer when the JWT `aud` is not the token URL.
    public static let invalidGrantAudience = oauthError(
        "invalid_grant",
        "Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token")

    /// 4.2 [OBS] the older clock-skew wording (fastlane #14972), prefix as in the current wording.
    public static let invalidGrantClockSkewOlder = oauthError(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values and use a clock with skew to account for clock differences between systems.")

    /// 4.2 [DOC] deleted_client; the description is [UNCONFIRMED].
    public static let deletedClient = oauthError("deleted_client", "The OAuth client was deleted.")

    /// 4.2 [DOC] access_denied and admin_policy_enforced: "(any)" description, so none here.
    public static let accessDenied = #"""
{
  "error": "access_denied"
}
"""#
    public static let adminPolicyEnforced = oauthError("admin_policy_enforced", "Admin policy enforced")

    /// [INF] the fake Google's answer for an unknown service account.
    public static let invalidGrantAccountNotFound = oauthError("invalid_grant", "Invalid grant: account not found")

    /// [INF] a request without client_secret.
    public static let invalidRequest = oauthError("invalid_request", "client_secret is missing.")

    /// An OAuth `error` the relay does not know.
    public static let unknownOAuthError = oauthError("temporarily_unavailable_in_region", "Something new.")

    /// [INF] an error list instead of an object, as some Google front ends answer.
    public static let arrayEnvelope = #"""
[{"error":{"code":400,"message":"Invalid Cc header","errors":[{"message":"Invalid Cc header","domain":"global","reason":"invalidArgument"}],"status":"INVALID_ARGUMENT"}}]
"""#

    /// Error fields of the wrong types: a tolerant parser keeps what it can.
    public static let mistypedFields = #"""
{"error":{"code":"400","message":"Invalid Bcc header","errors":[7,{"reason":"invalidArgument"}],"status":null,"details":"none"}}
"""#

    /// Google front end's 502 page, from a public capture (FakeGoogle answers it).
    public static let badGatewayHTML = #"""
<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 502 (Server Error)!!1</title>
  <style>
    *{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}html{background:#fff;color:#222;padding:15px}body{margin:7% auto 0;max-width:390px;min-height:180px;padding:30px 0 15px}* > body{background:url(//www.google.com/images/errors/robot.png) 100% 5px no-repeat;padding-right:205px}p{margin:11px 0 22px;overflow:hidden}ins{color:#777;text-decoration:none}a img{border:0}@media screen and (max-width:772px){body{background:none;margin-top:0;max-width:none;padding-right:0}}#logo{background:url(//www.google.com/images/errors/logo_sm_2.png) no-repeat}@media only screen and (min-resolution:192dpi){#logo{background:url(//www.google.com/images/errors/logo_sm_2_hr.png) no-repeat 0% 0%/100% 100%;-moz-border-image:url(//www.google.com/images/errors/logo_sm_2_hr.png) 0}}@media only screen and (-webkit-min-device-pixel-ratio:2){#logo{background:url(//www.google.com/images/errors/logo_sm_2_hr.png) no-repeat;-webkit-background-size:100% 100%}}#logo{display:inline-block;height:55px;width:150px}
  </style>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>502.</b> <ins>That’s an error.</ins>
  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>

"""#

    /// Google front end's 413 page, from public captures (FakeGoogle answers it).
    public static let payloadTooLargeHTML = #"""
<html><head>
<meta http-equiv="content-type" content="text/html;charset=utf-8">
<title>413 Request Entity Too Large</title>
</head>
<body text=#000000 bgcolor=#ffffff>
<h1>Error: Request Entity Too Large</h1>
<h2>Your client issued a request that was too large.
</h2>
<h2></h2>
</body></html>

"""#
}
