"""The platform-neutral core: rounds, questions, answers, anonymity, summaries.

Nothing here imports a chat platform, a web server or SQLite: people arrive as
(platform, workspace, user id) and replies leave as `bot.core.replies.Reply`.
`bot.core.service.IntegrityCheck` is the one door into the core and the store.
"""
