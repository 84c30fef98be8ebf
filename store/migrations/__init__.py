"""Schema migrations for the PostgreSQL backend (Alembic): `onemap db init|upgrade` runs them."""
