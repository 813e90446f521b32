"""Transport: how a message moves — intake (verify → validate → route → store → log →
receipt), review before release, the inbox (pull and ack), hub notices, and the outbox with
its webhook sender (push).

May import: `exchange.supervision`, `exchange.transparency`, `exchange.trust`,
`exchange.store`, `keys`, `schemas`.
"""
