"""The web dashboard (``imagebio serve``): browse subjects, view images with overlays, review and correct results.

Import :func:`imagebio.web.app.create_app` to build the FastAPI application. This package's ``__init__`` and
:mod:`imagebio.store.review` / :mod:`imagebio.store.overrides` import only SQLAlchemy, so that response code and the
store migrations can use the review tables without loading FastAPI.
"""
