"""The console's oversight pages, read side: plain functions over a session, no Flask.

One module an idea: ``messages`` (the message search, keyset pages newest first). The pages
(``exchange.console``) call these and render what they return.
"""
