"""Alembic migrations of the study store, applied by :func:`imagebio.store.session.open_store`."""
