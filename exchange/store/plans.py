"""Keyset reads in index order, whatever the planner statistics say.

Without statistics (a new table, a bulk load, autovacuum off) PostgreSQL guesses that a
partner's rows are a handful, and reads them all through a bitmap and sorts them to return
the first page: a page then costs the whole backlog. A keyset page is always cheapest read
in the order of its index, so its transaction turns bitmap scans off (the index scan that
remains returns rows already in order, and stops at the page's LIMIT).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def read_in_index_order(session: Session) -> None:
    """For the rest of ``session``'s transaction: no bitmap scans (PostgreSQL; a no-op
    elsewhere). ``SET LOCAL`` ends with the transaction, so pooled connections are unchanged.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
