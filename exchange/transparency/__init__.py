"""The transparency log (PROTOCOL §6): the appender and its locked window, the stored Merkle
tree and its proofs, signed checkpoints, the whole-store verification (`exchange log verify`)
and evidence bundles.

May import: `exchange.trust`, `exchange.store`, `keys`, `schemas`.
"""
