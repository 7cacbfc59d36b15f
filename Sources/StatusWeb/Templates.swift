import Mustache

/// The page templates (Mustache, HTML-escaping `{{x}}` by default). Kept in code rather than resource
/// files so SwiftPM on Linux builds and finds them without a resource bundle. `{{{x}}}` is used only for
/// HTML this module made itself (`body`, and catalogue steps through `HTMLText.rich`).
enum Templates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all { try library.register(text, named: name) }
        return library
    }

    static let all: [(String, String)] = [
        ("layout", layout), ("overview", overview), ("messages", messages), ("message", message),
        ("login", login), ("problem", problem), ("error", error), ("charts", StatsChart.template),
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>{{title}} · gmail-relay</title>
        <link rel="stylesheet" href="/style.css">
        </head>
        <body>
        <header>
        <nav>
        <a href="/" class="brand">gmail-relay</a>
        <a href="/">Status</a>
        <a href="/messages">Send log</a>
        {{#loggedIn}}
        <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="link">Log out</button></form>
        {{/loggedIn}}
        </nav>
        </header>
        <main>
        {{{body}}}
        </main>
        <footer>{{footer}}</footer>
        </body>
        </html>

        """

    static let problem = """
        <section class="problem">
        <h3>{{title}} <code class="code">{{code}}</code></h3>
        <p>{{explanation}}</p>
        <p class="disposition disposition-{{disposition}}">{{dispositionSentence}}</p>
        <h4>What to do</h4>
        <ol class="steps">
        {{#stepsHTML}}<li>{{{.}}}</li>
        {{/stepsHTML}}
        </ol>
        <details><summary>Likely causes, most likely first</summary>
        <ol>
        {{#causesHTML}}<li>{{{.}}}</li>
        {{/causesHTML}}
        </ol>
        </details>
        </section>

        """

    static let overview = """
        <h1>Status</h1>
        <section class="queue">
        <a href="/messages?status=queued"><strong>{{queue.queued}}</strong> queued</a>
        <a href="/messages?status=sending"><strong>{{queue.sending}}</strong> sending</a>
        <a href="/messages?status=held"><strong>{{queue.held}}</strong> held</a>
        <a href="/messages?status=failed"><strong>{{queue.failed}}</strong> failed</a>
        <a href="/messages?status=sent"><strong>{{queue.sent24h}}</strong> sent in 24 h</a>
        </section>
        {{> charts}}
        {{#relayProblems}}
        <article class="relay-problem">
        {{> problem}}
        </article>
        {{/relayProblems}}
        {{^accounts}}
        <p>No accounts yet. Add one with <code>gmail-relay account add NAME --sandbox</code> (or with a Google grant, see the README).</p>
        {{/accounts}}
        {{#accounts}}
        <article class="account state-{{state}}" id="account-{{name}}">
        <h2>{{name}} <span class="badge badge-{{state}}">{{stateLabel}}</span></h2>
        <dl>
        <dt>Address</dt><dd>{{email}}</dd>
        <dt>Kind</dt><dd>{{kindLabel}}</dd>
        <dt>Token expires</dt><dd>{{tokenExpires}}</dd>
        <dt>Last success</dt><dd>{{lastSuccess}}</dd>
        <dt>Grant checked</dt><dd>{{lastChecked}}</dd>
        {{#consented}}<dt>Authorized</dt><dd>{{consented}}</dd>{{/consented}}
        {{#fallback}}<dt>Fallback</dt><dd>{{fallback}}</dd>{{/fallback}}
        <dt>Messages</dt><dd><a href="/messages?account={{name}}&amp;status=queued">{{messages.queued}} queued</a> · <a href="/messages?account={{name}}&amp;status=held">{{messages.held}} held</a> · <a href="/messages?account={{name}}&amp;status=failed">{{messages.failed}} failed</a></dd>
        </dl>
        {{#warning}}<p class="{{level}}">{{text}}</p>{{/warning}}
        {{#warnings}}<div class="account-warning">{{> problem}}</div>{{/warnings}}
        {{#problem}}{{> problem}}{{/problem}}
        </article>
        {{/accounts}}
        {{#hasLogins}}
        <section class="logins">
        <h2>SMTP logins today</h2>
        <table>
        <caption>Messages accepted per login since 00:00 UTC, against its daily limit (<code>gmail-relay credential update USER --daily-limit N</code>)</caption>
        <thead><tr><th scope="col">Login</th><th scope="col">Account</th><th scope="col">Today</th><th scope="col">Daily limit</th></tr></thead>
        <tbody>
        {{/hasLogins}}
        {{#logins}}
        <tr{{#atLimit}} class="at-limit"{{/atLimit}}><td>{{username}}</td><td>{{account}}</td><td>{{sentToday}}</td><td>{{limit}}{{#atLimit}} (reached: refused until 00:00 UTC){{/atLimit}}</td></tr>
        {{/logins}}
        {{#hasLogins}}
        </tbody>
        </table>
        </section>
        {{/hasLogins}}
        {{#hasRelays}}
        <section class="relays">
        <h2>Relays sharing the store</h2>
        <table>
        <caption>Every relay on this PostgreSQL store (<code>store.url</code>). A relay is gone when its heartbeat is older than its lease; the others then take over the messages it was sending (docs/scaling.md).</caption>
        <thead><tr><th scope="col">Relay</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Last heartbeat</th><th scope="col">Sending now</th></tr></thead>
        <tbody>
        {{#relays}}
        <tr{{#gone}} class="gone"{{/gone}}><td>{{name}}</td><td>{{state}}</td><td>{{started}}</td><td>{{lastSeen}}</td><td>{{claimed}}</td></tr>
        {{/relays}}
        </tbody>
        </table>
        </section>
        {{/hasRelays}}

        """

    static let messages = """
        <h1>Send log</h1>
        <form method="get" action="/messages" class="filters">
        <label>Status <select name="status">
        {{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>
        {{/statuses}}
        </select></label>
        <label>Account <select name="account">
        {{#accounts}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>
        {{/accounts}}
        </select></label>
        <label>Search <input type="search" name="q" value="{{q}}" placeholder="address, subject, Message-ID, log id"></label>
        <button type="submit">Filter</button>
        </form>
        {{^rows}}<p>No messages match.</p>{{/rows}}
        {{#hasRows}}
        <div class="scroll">
        <table class="log">
        <thead><tr><th>ID</th><th>Received</th><th>Status</th><th>Account</th><th>From</th><th>To</th><th>Subject</th><th>Problem</th></tr></thead>
        <tbody>
        {{#rows}}
        <tr class="status-{{status}}"><td><a href="/messages/{{id}}">{{id}}</a></td><td>{{created}}</td><td><span class="badge badge-{{status}}">{{status}}</span></td><td>{{account}}</td><td>{{from}}</td><td>{{to}}</td><td><a href="/messages/{{id}}">{{subject}}</a></td><td>{{#problem}}<code>{{problem}}</code>{{/problem}}</td></tr>
        {{/rows}}
        </tbody>
        </table>
        </div>
        {{/hasRows}}
        <nav class="paging">
        {{#previous}}<a href="{{previous}}">← Newer</a>{{/previous}}
        <span>Page {{page}}</span>
        {{#next}}<a href="{{next}}">Older →</a>{{/next}}
        </nav>

        """

    static let message = """
        <p><a href="/messages">← Send log</a></p>
        <h1>Message {{id}} <span class="badge badge-{{status}}">{{status}}</span></h1>
        {{#notice}}<p class="notice">{{notice}}</p>{{/notice}}
        {{#noticeError}}<p class="warning">{{noticeError}}</p>{{/noticeError}}
        <dl class="envelope">
        <dt>Subject</dt><dd>{{subject}}</dd>
        <dt>Account</dt><dd>{{account}}</dd>
        <dt>Envelope from</dt><dd>{{from}}</dd>
        <dt>Envelope to</dt><dd>{{to}}</dd>
        <dt>Message-ID</dt><dd>{{messageID}}</dd>
        <dt>Size</dt><dd>{{size}} bytes</dd>
        <dt>Received</dt><dd>{{created}} from {{peer}}{{#tls}} over TLS{{/tls}}{{#credential}}, SMTP login {{credential}}{{/credential}}</dd>
        <dt>Last change</dt><dd>{{updated}}</dd>
        {{#gmailID}}<dt>Gmail id</dt><dd>{{gmailID}}</dd>{{/gmailID}}
        {{#sentThrough}}<dt>Sent through</dt><dd>fallback {{sentThrough}}</dd>{{/sentThrough}}
        {{#sandbox}}<dt>Sandbox</dt><dd>yes: not sent to Google</dd>{{/sandbox}}
        </dl>
        {{#canAct}}
        <div class="actions">
        {{#canRetry}}<form method="post" action="/messages/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Retry now</button></form>{{/canRetry}}
        {{#canDiscard}}<form method="post" action="/messages/{{id}}/discard"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Discard</button></form>{{/canDiscard}}
        </div>
        {{/canAct}}
        {{#problem}}{{> problem}}{{/problem}}
        <h2>Headers sent to Gmail</h2>
        {{#headers}}<pre class="headers">{{headers}}</pre>{{/headers}}
        {{^headers}}<p>Not rewritten yet (the message has not been sent to Gmail).</p>{{/headers}}
        <h2>Attempts ({{attemptCount}})</h2>
        {{^attempts}}<p>No attempts yet.</p>{{/attempts}}
        {{#attempts}}
        <section class="attempt">
        <h3>#{{number}} · {{started}} · {{httpStatus}}{{#problem}} · <code>{{problem}}</code>{{/problem}}</h3>
        <p class="endpoint">{{endpoint}} · took {{duration}}{{#nextDelay}} · next try in {{nextDelay}}{{/nextDelay}}</p>
        {{#body}}<pre class="body">{{body}}</pre>{{/body}}
        {{^body}}<p>No response body.</p>{{/body}}
        </section>
        {{/attempts}}
        <h2>History</h2>
        <ul class="history">
        {{#events}}<li><time>{{at}}</time> <strong>{{kind}}</strong> {{detail}}</li>
        {{/events}}
        </ul>

        """

    static let login = """
        <h1>Sign in</h1>
        {{#failed}}<p class="warning">That is not a token of this relay.</p>{{/failed}}
        {{#linkRefused}}<p class="warning">That sign-in link was already used or has expired. Run <code>gmail-relay web-token</code> on the relay's machine for a new one.</p>{{/linkRefused}}
        <form method="post" action="/login" class="login">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="next" value="{{next}}">
        <label>Admin token or read token (<code>gmail-relay web-token</code> prints a sign-in link)<br><input type="password" name="token" autocomplete="current-password" required autofocus></label>
        <button type="submit">Sign in</button>
        </form>

        """

    static let error = """
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        <p><a href="/">Back to the status page</a></p>

        """

    static let css = """
        :root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fafafa; --muted: #666; --line: #ddd; --ok: #1a7f37; --bad: #b42318; --warn: #9a6700; --card: #fff; }
        @media (prefers-color-scheme: dark) { :root { --fg: #e8e8e8; --bg: #161616; --muted: #aaa; --line: #333; --card: #1f1f1f; --ok: #3fb950; --bad: #f85149; --warn: #d29922; } }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
        header { border-bottom: 1px solid var(--line); background: var(--card); }
        nav { display: flex; flex-wrap: wrap; gap: .5em 1.2em; align-items: center; padding: .6em 1em; max-width: 70em; margin: 0 auto; }
        nav .brand { font-weight: 700; margin-right: auto; }
        main { max-width: 70em; margin: 0 auto; padding: 1em; }
        footer { max-width: 70em; margin: 2em auto; padding: 0 1em; color: var(--muted); font-size: .85em; }
        a { color: inherit; }
        h1 { font-size: 1.6em; margin: .3em 0 .6em; }
        h2 { font-size: 1.25em; }
        code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
        pre { background: var(--card); border: 1px solid var(--line); padding: .8em; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
        .queue { display: flex; flex-wrap: wrap; gap: .6em; margin-bottom: 1em; }
        .queue a { text-decoration: none; border: 1px solid var(--line); background: var(--card); padding: .4em .8em; border-radius: .4em; }
        .account, .attempt { background: var(--card); border: 1px solid var(--line); border-left: .4em solid var(--ok); border-radius: .4em; padding: .6em 1em; margin: 0 0 1em; }
        .account.state-needs_reauth, .account.state-blocked, .account.state-unconfigured { border-left-color: var(--bad); }
        .relay-problem { background: var(--card); border: 1px solid var(--line); border-left: .4em solid var(--warn); border-radius: .4em; padding: 0 1em .6em; margin: 0 0 1em; }
        .relay-problem .problem { border-top: none; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; margin: .5em 0; }
        dt { color: var(--muted); }
        dd { margin: 0; overflow-wrap: anywhere; }
        .badge { font-size: .75em; padding: .1em .5em; border-radius: 1em; border: 1px solid currentColor; vertical-align: middle; white-space: nowrap; }
        .badge-ok, .badge-sent { color: var(--ok); }
        .badge-needs_reauth, .badge-blocked, .badge-unconfigured, .badge-failed, .badge-held { color: var(--bad); }
        .badge-queued, .badge-sending { color: var(--warn); }
        .problem { border-top: 1px solid var(--line); margin-top: .6em; }
        .problem h3 { margin-bottom: .2em; }
        .problem p, .problem li, .warning, .note { overflow-wrap: anywhere; }
        .code { font-size: .7em; color: var(--muted); }
        .steps li { margin-bottom: .4em; overflow-wrap: anywhere; }
        .warning { color: var(--bad); font-weight: 600; }
        .note { color: var(--warn); }
        .notice { color: var(--ok); font-weight: 600; }
        .disposition { font-style: italic; }
        .filters { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; margin-bottom: 1em; }
        input, select, button { font: inherit; padding: .35em .6em; }
        button { cursor: pointer; }
        button.danger { color: var(--bad); }
        button.link { background: none; border: none; padding: 0; text-decoration: underline; color: inherit; }
        form.inline { display: inline; }
        .actions { display: flex; gap: .6em; margin: 1em 0; }
        .scroll { overflow-x: auto; }
        table.log { border-collapse: collapse; width: 100%; font-size: .92em; }
        table.log th, table.log td { text-align: left; padding: .35em .5em; border-bottom: 1px solid var(--line); vertical-align: top; }
        .paging { display: flex; gap: 1em; margin: 1em 0; }
        .login input[type=password] { width: 100%; max-width: 30em; }
        .history { padding-left: 1.2em; }
        @media (max-width: 40em) { dl { grid-template-columns: 1fr; } dt { margin-top: .4em; } table.log th:nth-child(2), table.log td:nth-child(2), table.log th:nth-child(5), table.log td:nth-child(5) { display: none; } }

        """
}
