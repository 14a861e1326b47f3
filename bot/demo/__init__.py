"""`ptm demo`: PTM unchanged, beside a small Slack of its own that a browser can click through.

`simulator` is that Slack (its Web API for the bot, a page for people), `render` draws Block Kit
as HTML, `blockkit` checks blocks as Slack would, `wire` shapes and signs what Slack sends to an
app (the tests send the same), `seed` fills a fresh workspace, `run` starts it all.
"""
