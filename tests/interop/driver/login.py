#!/usr/bin/env python3
"""Headless browser for Postern's real login and consent forms.

Usage: login.py AUTHORIZATION_URL  ->  prints the URL Postern redirected to (the client's
redirect_uri with code, state and iss). Exits 1 with the page's text on anything else.

It behaves like a user's browser and nothing more: it keeps cookies (in $LOGIN_COOKIE_JAR when
set, so a second authorization in the same "browser" reuses the session, as a real one would),
follows the forms the server renders, signs in as $DEMO_USERNAME / $DEMO_PASSWORD and presses
"Approve" (or "Deny" with LOGIN_DECISION=deny). It never follows the final redirect: that goes to
the client, whose callback is given the URL instead. Standard library only.
"""

from __future__ import annotations

import html.parser
import http.cookiejar
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_STEPS = 6


class _Forms(html.parser.HTMLParser):
    """Collects each <form>'s action and its hidden inputs and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": [], "buttons": []})
        elif tag == "input" and self.forms:
            if a.get("type") == "hidden":
                self.forms[-1]["fields"].append((a.get("name", ""), a.get("value") or ""))
            elif a.get("name"):
                self.forms[-1]["fields"].append((a["name"], None))  # a field the user fills in
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _fail(message: str) -> None:
    print(f"login driver: {message}", file=sys.stderr)
    sys.exit(1)


def authorize(url: str) -> str:
    jar_path = os.environ.get("LOGIN_COOKIE_JAR")
    jar = http.cookiejar.MozillaCookieJar(jar_path) if jar_path else http.cookiejar.CookieJar()
    if jar_path and os.path.exists(jar_path):
        jar.load(ignore_discard=True, ignore_expires=True)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    decision = os.environ.get("LOGIN_DECISION", "approve")

    request = urllib.request.Request(url)
    for _ in range(MAX_STEPS):
        try:
            response = opener.open(request, timeout=30)
            status, headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx/5xx land here
            status, headers, body = error.code, error.headers, error.read()
        if jar_path:
            jar.save(ignore_discard=True, ignore_expires=True)
        if status in (302, 303):
            location = urllib.parse.urljoin(request.full_url, headers["Location"])
            if not location.startswith(_origin(url)):
                return location  # the redirect to the client
            request = urllib.request.Request(location)
            continue
        page = _Forms()
        page.feed(body.decode("utf-8", "replace"))
        if status != 200 or not page.forms:
            _fail(f"HTTP {status} without a form: {' '.join(page.text)[:600]}")
        form = page.forms[0]
        fields = []
        for name, value in form["fields"]:
            if value is not None:
                fields.append((name, value))
            elif name == "username":
                fields.append((name, os.environ.get("DEMO_USERNAME", "demo")))
            elif name == "password":
                fields.append((name, os.environ.get("DEMO_PASSWORD", "")))
        buttons = dict(form["buttons"])
        if "decision" in buttons:
            fields.append(("decision", decision))
        data = urllib.parse.urlencode(fields).encode()
        action = urllib.parse.urljoin(request.full_url, form["action"])
        request = urllib.request.Request(
            action, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    _fail(f"no redirect to the client after {MAX_STEPS} pages")
    return ""


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


if __name__ == "__main__":
    if len(sys.argv) != 2 or not re.match(r"^https?://", sys.argv[1]):
        _fail("usage: login.py AUTHORIZATION_URL")
    print(authorize(sys.argv[1]))
