"""Supervision: what the messages mean — one lifecycle per message type (referrals and their
feedback, shared results and their use, the rectification ledger 整改台账), the read models
they keep, who sees what, the figures (整改率 …), reports and the reminders that are due.

May import: `exchange.transparency`, `exchange.trust`, `exchange.store`, `keys`, `schemas`.
"""
