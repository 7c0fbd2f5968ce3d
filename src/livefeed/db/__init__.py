"""Storage: SQLAlchemy Core tables, engine, queries and Alembic migrations."""
