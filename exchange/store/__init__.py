"""The store: the database engine and sessions, the tables (typed models), the one writer
that flushes a unit of work, and the schema migrations.

May import: SQLAlchemy, Alembic, and nothing else of the hub.
"""
