"""Trust: the hub's own keys (signing, sealing, the ID-number HMAC), the partner directory
(which keys are valid, which partners are active or take pushes) and the agreements (who may
send what to whom). Reads and key material only: changes to the trust state are made, and
logged, by `exchange.admin`.

May import: `exchange.store`, `keys`, `schemas`.
"""
