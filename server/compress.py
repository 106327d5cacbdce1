"""Gzip for the page's text responses (HTML, CSS, JS, JSON): a lecture hall's Wi-Fi carries
a quarter of the bytes. Each static file is compressed once per version (its ETag) and kept;
the HTML is small and compressed per request. Responses the client did not ask to be
compressed, partial or empty ones, and the Socket.IO transport are left alone."""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

TYPES = ("text/html", "text/css", "text/javascript", "application/javascript",
         "application/json", "image/svg+xml")
MIN_BYTES = 1024
LEVEL = 6
MAX_CACHED = 256  # static files kept compressed (the page has about 30)


def install(app: Flask) -> None:
    cache: dict[tuple[str, str], bytes] = {}

    @app.after_request
    def compress(response: Response) -> Response:
        if (response.status_code != 200 or response.mimetype not in TYPES
                or "gzip" not in request.headers.get("Accept-Encoding", "").lower()
                or "Content-Encoding" in response.headers
                or request.path.startswith("/socket.io")):
            return response
        etag = response.get_etag()[0]
        key = (request.path, etag or "")
        body = cache.get(key) if etag else None
        source = response.response  # a static file's wrapper: closed once replaced
        if body is None:
            response.direct_passthrough = False  # a static file: read it once
            data = response.get_data()
            if len(data) < MIN_BYTES:
                return response
            body = gzip.compress(data, LEVEL, mtime=0)
            if etag:
                if len(cache) >= MAX_CACHED:
                    cache.clear()
                cache[key] = body
        close = getattr(source, "close", None)
        if close is not None:
            close()
        response.direct_passthrough = False
        response.set_data(body)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Content-Length"] = str(len(body))
        response.vary.add("Accept-Encoding")
        return response
