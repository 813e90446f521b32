"""Administration: the operators' changes to the trust state — partners, their keys and
webhooks — each one logged.

May import: `exchange.transparency`, `exchange.trust`, `exchange.store`, `keys`, `schemas`.
"""
