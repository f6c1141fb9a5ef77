"""Datasette plugin loaded by `tipwatch serve`: a browser without a login goes to the login form.

With a login configured (tipwatch/serve.py), the metadata's instance-wide `allow` answers every
page, table, query, JSON and feed with 403 until one logs in. A 403 page is a dead end in a
browser, so a page asked for as HTML by an anonymous visitor is redirected to /-/login instead;
JSON, CSV and feed clients keep the plain 403.
"""
from __future__ import annotations

from datasette import Response, hookimpl

AUTH_PLUGIN = "datasette-auth-passwords"


@hookimpl
def forbidden(datasette, request, message):
    wants_page = "text/html" in request.headers.get("accept", "")
    if request.actor is None and wants_page and datasette.plugin_config(AUTH_PLUGIN):
        return Response.redirect(datasette.urls.path("/-/login"))
    return None  # Datasette's own 403 page
