"""The admin console (issue 11): server-rendered pages at ``/admin/`` over ``exchange.admin``.

How to add a page:

- Register a view on ``exchange.console.blueprint.bp`` in a module of this package, import that
  module below, and guard the view with ``@requires(...)`` naming the roles that may see
  it (``"admin"``, ``"reviewer"``, ``"observer"``); the check is made on the server for every
  request, anonymous users are sent to sign in, other roles get 403.
- Render a template that ``{% extends "console/base.html" %}`` and fills ``{% block title %}``
  and ``{% block content %}``; page scripts go in ``{% block scripts %}`` as
  ``<script src=...>`` from ``static/`` (the CSP refuses inline scripts and styles).
- Every POST form carries ``{{ csrf_token_field() }}``; Flask-WTF refuses a POST without it.
- ``g.operator`` is the signed-in ``Operator``; log entries name ``g.operator.actor``.
- Every string a person reads is translatable: ``{{ _('English source') }}`` in templates,
  ``gettext(...)`` in Python, its Chinese in ``translations/zh_Hans_CN/LC_MESSAGES/messages.po``
  (``exchange.console.i18n``).
"""

from __future__ import annotations

import os
import secrets

from flask import Flask, redirect, url_for
from flask_babel import Babel

# The modules that register views on the blueprint: importing them adds their pages.
from exchange.console import (
    agreements_views,  # noqa: F401
    auth,  # noqa: F401
    dashboard_views,  # noqa: F401
    deliveries_views,  # noqa: F401
    log_views,  # noqa: F401
    messages_views,  # noqa: F401
    partners_views,  # noqa: F401
    review,  # noqa: F401
    users_views,  # noqa: F401
)
from exchange.console.blueprint import bp, csrf
from exchange.console.i18n import DEFAULT_LANGUAGE, TRANSLATIONS, compile_catalogs, select_locale

_babel = Babel()


def init_console(app: Flask) -> None:
    """Register the console on the hub app: session cookie settings, CSRF, the blueprint."""
    secure = os.environ.get("EXCHANGE_SECURE_COOKIES", "") not in ("", "0", "false")
    app.config.update(
        # A fixed secret keeps sessions across restarts and workers; else one per process.
        SECRET_KEY=os.environ.get("EXCHANGE_CONSOLE_SECRET") or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_PATH="/admin",
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_CHECK_DEFAULT=False,
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    csrf.init_app(app)
    compile_catalogs()
    _babel.init_app(app, locale_selector=select_locale, default_domain="messages")
    app.register_blueprint(bp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("console.home")))
