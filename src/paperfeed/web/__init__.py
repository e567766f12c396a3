"""The web app: server-rendered pages with JSON twins, accounts, and the JSON API.

Build it with :func:`paperfeed.web.app.create_app`; nothing is created at import.
"""
