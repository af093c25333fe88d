#!/usr/bin/env python3
"""The original Python tool's workflow (ORIGINAL-TOOL.md) against Keepsake's Google
emulator, with Google's own, unmodified client libraries.

    python original_tool_workflow.py --base http://127.0.0.1:PORT \
        --client-id ID --client-secret SECRET --out DIR [--discovery-file FILE]

What it does, as the original tool (api_helper.py) does it:
  1. signs in with google_auth_oauthlib's InstalledAppFlow.run_local_server; the
     "browser" is a function registered with Python's webbrowser module that does what
     a person does (loads the consent page, picks the first demo account, Allow, and
     follows the redirect to the flow's loopback server);
  2. builds the photospicker v1 service from the emulator's discovery document;
  3. creates a session with a requestId made the way the original makes it (random
     hex in the 8-4-4-4-12 shape, mostly not a valid UUID v4);
  4. "picks" in the emulator's picker page (ticks items, presses Done) while polling
     sessions.get at pollingConfig.pollInterval until mediaItemsSet;
  5. lists every page of mediaItems.list (small pageSize, so there are several);
  6. downloads every item (photos baseUrl=d, videos baseUrl=dv) with the bearer;
  7. deletes the session and checks that it is gone (404 or 403);
  8. saves the tokens as the original does (OUT/token.json) plus an expired copy and a
     revoked one, and checks refresh works for the first and fails for the second.

Every response is checked against Google's documented field names, types and formats
(PICKER-API.md §1-5). Every failed check is collected; the run exits 1 listing them all.
Progress goes to stderr; a JSON summary goes to stdout at the end.

The emulator serves plain http, so OAUTHLIB_INSECURE_TRANSPORT=1 is set (oauthlib
refuses a non-https token endpoint otherwise); nothing else about the libraries is
changed. google-auth's Credentials.from_authorized_user_file (how the original loads
token.json) always sets token_uri to https://oauth2.googleapis.com/token, whatever
the file says: that path refreshes through a Request whose requests.Session sends
that one URL to the emulator's token endpoint; each refresh is also run with the
file's own token_uri and a plain Request().

Where the emulator refuses something Google accepts, the failure is recorded and the
run goes on with what the emulator does take (the code exchange with client_secret_post,
a UUID v4 requestId, the --discovery-file document), so the later checks still run;
the exit status stays 1.
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import html.parser
import json
import os
import re
import secrets
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import webbrowser

# oauthlib refuses http token endpoints unless told; Google's are https.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

import google.auth.exceptions  # noqa: E402
import requests  # noqa: E402
import requests.adapters  # noqa: E402
from google.auth.transport.requests import Request  # noqa: E402
from google.oauth2.credentials import Credentials  # noqa: E402
from google_auth_oauthlib.flow import InstalledAppFlow  # noqa: E402
from googleapiclient.discovery import build, build_from_document  # noqa: E402
from googleapiclient.errors import HttpError, UnknownApiNameOrVersion  # noqa: E402

SCOPES = ["https://www.googleapis.com/auth/photospicker.mediaitems.readonly"]
AUTH_PATH = "/emulator/o/oauth2/v2/auth"
TOKEN_PATH = "/emulator/token"
REVOKE_PATH = "/emulator/revoke"
PICKER_ROOT = "/emulator/picker/"
API_PATH = "/emulator/picker/v1"
DISCOVERY_PATH = "/emulator/picker/$discovery/rest?version=v1"

# Google's JSON mapping of google.protobuf.Duration / Timestamp: 0, 3, 6 or 9 fraction
# digits, Timestamps Z-normalised (https://protobuf.dev/programming-guides/json/).
DURATION_RE = re.compile(r"^-?\d+(\.\d{3}|\.\d{6}|\.\d{9})?s$")
ANY_DECIMAL_DURATION_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)s$")
TIMESTAMP_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?Z$"
)
MIME_RE = re.compile(r"^[a-z]+/[A-Za-z0-9.+-]+$")
INT64_RE = re.compile(r"^-?\d+$")
HEX_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

SESSION_FIELDS = {"id", "pickerUri", "pollingConfig", "expireTime", "pickingConfig", "mediaItemsSet"}
POLLING_FIELDS = {"pollInterval", "timeoutIn"}
PICKING_FIELDS = {"maxItemCount"}
LIST_FIELDS = {"mediaItems", "nextPageToken"}
ITEM_FIELDS = {"id", "createTime", "type", "mediaFile"}
MEDIA_FILE_FIELDS = {"baseUrl", "mimeType", "filename", "mediaFileMetadata"}
METADATA_FIELDS = {"width", "height", "cameraMake", "cameraModel", "photoMetadata", "videoMetadata"}
PHOTO_FIELDS = {"focalLength", "apertureFNumber", "isoEquivalent", "exposureTime"}
VIDEO_FIELDS = {"fps", "processingStatus"}
ITEM_TYPES = {"TYPE_UNSPECIFIED", "PHOTO", "VIDEO"}
PROCESSING_STATUSES = {"UNSPECIFIED", "PROCESSING", "READY", "FAILED"}
ERROR_STATUSES = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
}

IMAGE_KINDS = {"jpeg", "png", "gif", "webp", "heif", "avif", "tiff", "bmp"}
VIDEO_KINDS = {"mp4", "mov", "3gp", "avi", "mpeg-ps", "mpeg-ts", "m2ts", "asf"}

HTTP_TIMEOUT = 60


def log(msg):
    print(f"[workflow] {msg}", file=sys.stderr, flush=True)


class Fatal(Exception):
    """The workflow cannot go on (the failure is already recorded)."""


# --------------------------------------------------------------------------- checks


class Checks:
    """Every check run, by name, and every failure with its detail."""

    def __init__(self):
        self.results = {}
        self.failures = []
        self.notes = []

    def check(self, name, ok, detail=""):
        r = self.results.setdefault(name, {"run": 0, "failed": 0})
        r["run"] += 1
        if not ok:
            r["failed"] += 1
            self.failures.append((name, detail))
            log(f"FAIL {name}: {detail}")
        return bool(ok)

    def grouped_failures(self, examples=3):
        """Each failed check once: how often it failed and its first details."""
        out = {}
        for name, detail in self.failures:
            g = out.setdefault(name, {"check": name, "failed": 0, "details": []})
            g["failed"] += 1
            if len(g["details"]) < examples:
                g["details"].append(detail)
        return list(out.values())

    def fail(self, name, detail):
        return self.check(name, False, detail)

    def note(self, msg):
        self.notes.append(msg)
        log(f"note: {msg}")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return (isinstance(v, (int, float))) and not isinstance(v, bool)


def parse_duration(text):
    """Seconds of a Google duration string ("5s", "1.500s"); any decimal is read."""
    if not isinstance(text, str) or not ANY_DECIMAL_DURATION_RE.match(text):
        raise ValueError(f"not a duration string: {text!r}")
    return float(text[:-1])


def parse_timestamp(text):
    """An aware datetime of an RFC 3339 'Z' timestamp (up to 9 fraction digits)."""
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$", text)
    if not m:
        raise ValueError(f"not an RFC 3339 UTC timestamp: {text!r}")
    base = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    micros = int((m.group(2) or "0").ljust(9, "0")[:6])
    return base.replace(microsecond=micros, tzinfo=dt.timezone.utc)


def check_fields(c, kind, obj, where, allowed):
    unknown = sorted(set(obj) - allowed)
    c.check(f"{kind}: only documented field names", not unknown,
            f"{where} has undocumented field(s) {unknown} (documented: {sorted(allowed)})")


def check_duration(c, name, value, where):
    if not c.check(f"{name} is a string", isinstance(value, str), f"{where} = {value!r}"):
        return None
    c.check(f"{name} is a google-duration (decimal seconds, 0/3/6/9 fraction digits, 's')",
            DURATION_RE.match(value), f"{where} = {value!r}")
    try:
        return parse_duration(value)
    except ValueError as e:
        c.fail(f"{name} parses as decimal seconds", f"{where}: {e}")
        return None


def check_timestamp(c, name, value, where):
    if not c.check(f"{name} is a string", isinstance(value, str), f"{where} = {value!r}"):
        return None
    c.check(f"{name} is RFC 3339 UTC ('Z', 0/3/6/9 fraction digits)",
            TIMESTAMP_RE.match(value), f"{where} = {value!r}")
    try:
        return parse_timestamp(value)
    except ValueError as e:
        c.fail(f"{name} parses as RFC 3339", f"{where}: {e}")
        return None


def check_url(c, name, value, where):
    ok = isinstance(value, str)
    if ok:
        u = urllib.parse.urlsplit(value)
        ok = u.scheme in ("http", "https") and bool(u.netloc)
    return c.check(f"{name} is an absolute http(s) URL", ok, f"{where} = {value!r}")


def check_session(c, s, where, expect_set=None):
    """A PickingSession (PICKER-API.md §2). Returns (poll interval, timeout) seconds."""
    if not c.check("PickingSession is a JSON object", isinstance(s, dict), f"{where}: {s!r}"):
        return None, None
    check_fields(c, "PickingSession", s, where, SESSION_FIELDS)
    c.check("PickingSession.id is a non-empty string",
            isinstance(s.get("id"), str) and s.get("id"), f"{where}.id = {s.get('id')!r}")
    check_url(c, "PickingSession.pickerUri", s.get("pickerUri"), f"{where}.pickerUri")
    items_set = s.get("mediaItemsSet", None)
    if items_set is None:
        # proto3 JSON may leave out a false bool; the original reads .get(..., False).
        items_set = False
        c.note(f"{where}: mediaItemsSet absent (read as false)")
    else:
        c.check("PickingSession.mediaItemsSet is a boolean", isinstance(items_set, bool),
                f"{where}.mediaItemsSet = {items_set!r}")
    if expect_set is not None:
        c.check("PickingSession.mediaItemsSet has the expected value", items_set is expect_set,
                f"{where}.mediaItemsSet = {items_set!r}, expected {expect_set}")
    interval = timeout = None
    pc = s.get("pollingConfig")
    if items_set is True:
        c.check("PickingSession.pollingConfig absent once mediaItemsSet is true", pc is None,
                f"{where}.pollingConfig = {pc!r}")
    elif c.check("PickingSession.pollingConfig present while mediaItemsSet is false",
                 isinstance(pc, dict), f"{where}.pollingConfig = {pc!r}"):
        check_fields(c, "PollingConfig", pc, f"{where}.pollingConfig", POLLING_FIELDS)
        for f in ("pollInterval", "timeoutIn"):
            if c.check(f"PollingConfig.{f} present", f in pc, f"{where}.pollingConfig has no {f}"):
                v = check_duration(c, f"PollingConfig.{f}", pc[f], f"{where}.pollingConfig.{f}")
                if v is not None:
                    c.check(f"PollingConfig.{f} is not negative", v >= 0, f"{where}.pollingConfig.{f} = {pc[f]!r}")
                    if f == "pollInterval":
                        interval = v
                    else:
                        timeout = v
    if c.check("PickingSession.expireTime present", "expireTime" in s, f"{where} has no expireTime"):
        t = check_timestamp(c, "PickingSession.expireTime", s["expireTime"], f"{where}.expireTime")
        if t is not None:
            c.check("PickingSession.expireTime is in the future",
                    t > dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5),
                    f"{where}.expireTime = {s['expireTime']}")
    pk = s.get("pickingConfig")
    if pk is None:
        c.note(f"{where}: pickingConfig absent")
    elif c.check("PickingSession.pickingConfig is an object", isinstance(pk, dict), f"{where}.pickingConfig = {pk!r}"):
        check_fields(c, "PickingConfig", pk, f"{where}.pickingConfig", PICKING_FIELDS)
        if "maxItemCount" in pk:
            m = pk["maxItemCount"]
            if c.check("PickingConfig.maxItemCount is an int64 written as a JSON string",
                       isinstance(m, str) and INT64_RE.match(m), f"{where}.pickingConfig.maxItemCount = {m!r}"):
                c.check("PickingConfig.maxItemCount is positive", int(m) > 0, f"= {m!r}")
    return interval, timeout


def check_item(c, item, where):
    """A PickedMediaItem (PICKER-API.md §3). Returns (type, processingStatus)."""
    if not c.check("PickedMediaItem is a JSON object", isinstance(item, dict), f"{where}: {item!r}"):
        return None, None
    check_fields(c, "PickedMediaItem", item, where, ITEM_FIELDS)
    c.check("PickedMediaItem.id is a non-empty string",
            isinstance(item.get("id"), str) and item.get("id"), f"{where}.id = {item.get('id')!r}")
    if "createTime" in item:
        check_timestamp(c, "PickedMediaItem.createTime", item["createTime"], f"{where}.createTime")
    else:
        c.note(f"{where}: createTime absent (allowed)")
    kind = item.get("type", "TYPE_UNSPECIFIED")
    if "type" not in item:
        c.note(f"{where}: type absent (read as TYPE_UNSPECIFIED)")
    c.check("PickedMediaItem.type is PHOTO, VIDEO or TYPE_UNSPECIFIED", kind in ITEM_TYPES,
            f"{where}.type = {kind!r}")
    mf = item.get("mediaFile")
    status = None
    if not c.check("PickedMediaItem.mediaFile is an object", isinstance(mf, dict), f"{where}.mediaFile = {mf!r}"):
        return kind, status
    w = f"{where}.mediaFile"
    check_fields(c, "MediaFile", mf, w, MEDIA_FILE_FIELDS)
    check_url(c, "MediaFile.baseUrl", mf.get("baseUrl"), f"{w}.baseUrl")
    c.check("MediaFile.mimeType is a MIME type string",
            isinstance(mf.get("mimeType"), str) and MIME_RE.match(mf.get("mimeType")),
            f"{w}.mimeType = {mf.get('mimeType')!r}")
    c.check("MediaFile.filename is a non-empty string",
            isinstance(mf.get("filename"), str) and mf.get("filename"), f"{w}.filename = {mf.get('filename')!r}")
    if kind == "PHOTO" and isinstance(mf.get("mimeType"), str):
        c.check("MediaFile.mimeType of a PHOTO is image/*", mf["mimeType"].startswith("image/"), f"{w}.mimeType = {mf['mimeType']!r}")
    if kind == "VIDEO" and isinstance(mf.get("mimeType"), str):
        c.check("MediaFile.mimeType of a VIDEO is video/*", mf["mimeType"].startswith("video/"), f"{w}.mimeType = {mf['mimeType']!r}")
    md = mf.get("mediaFileMetadata")
    if md is None:
        c.note(f"{w}: mediaFileMetadata absent")
        return kind, status
    if not c.check("MediaFile.mediaFileMetadata is an object", isinstance(md, dict), f"{w}.mediaFileMetadata = {md!r}"):
        return kind, status
    w = f"{w}.mediaFileMetadata"
    check_fields(c, "MediaFileMetadata", md, w, METADATA_FIELDS)
    for f in ("width", "height"):
        if c.check(f"MediaFileMetadata.{f} present", f in md, f"{w} has no {f}"):
            c.check(f"MediaFileMetadata.{f} is a JSON integer (int32)", is_int(md[f]), f"{w}.{f} = {md[f]!r}")
            if is_int(md[f]):
                c.check(f"MediaFileMetadata.{f} is positive", md[f] > 0, f"{w}.{f} = {md[f]!r}")
    for f in ("cameraMake", "cameraModel"):
        if f in md:
            c.check(f"MediaFileMetadata.{f} is a string", isinstance(md[f], str), f"{w}.{f} = {md[f]!r}")
    pm, vm = md.get("photoMetadata"), md.get("videoMetadata")
    c.check("MediaFileMetadata has not both photoMetadata and videoMetadata", not (pm is not None and vm is not None), w)
    if pm is not None:
        c.check("photoMetadata only on a PHOTO", kind == "PHOTO", f"{w}.photoMetadata on type {kind}")
        if c.check("PhotoMetadata is an object", isinstance(pm, dict), f"{w}.photoMetadata = {pm!r}"):
            check_fields(c, "PhotoMetadata", pm, f"{w}.photoMetadata", PHOTO_FIELDS)
            for f in ("focalLength", "apertureFNumber"):
                if f in pm:
                    c.check(f"PhotoMetadata.{f} is a JSON number (float)", is_number(pm[f]), f"{w}.photoMetadata.{f} = {pm[f]!r}")
            if "isoEquivalent" in pm:
                c.check("PhotoMetadata.isoEquivalent is a JSON integer (int32)", is_int(pm["isoEquivalent"]),
                        f"{w}.photoMetadata.isoEquivalent = {pm['isoEquivalent']!r}")
            if "exposureTime" in pm:
                check_duration(c, "PhotoMetadata.exposureTime", pm["exposureTime"], f"{w}.photoMetadata.exposureTime")
    if vm is not None:
        c.check("videoMetadata only on a VIDEO", kind == "VIDEO", f"{w}.videoMetadata on type {kind}")
        if c.check("VideoMetadata is an object", isinstance(vm, dict), f"{w}.videoMetadata = {vm!r}"):
            check_fields(c, "VideoMetadata", vm, f"{w}.videoMetadata", VIDEO_FIELDS)
            if "fps" in vm:
                c.check("VideoMetadata.fps is a JSON number (double)", is_number(vm["fps"]), f"{w}.videoMetadata.fps = {vm['fps']!r}")
            if "processingStatus" in vm:
                status = vm["processingStatus"]
                c.check("VideoMetadata.processingStatus is UNSPECIFIED/PROCESSING/READY/FAILED",
                        status in PROCESSING_STATUSES, f"{w}.videoMetadata.processingStatus = {status!r}")
    if kind == "VIDEO" and vm is None:
        c.note(f"{w}: a VIDEO without videoMetadata")
    return kind, status


def check_google_error(c, name, status, body, want_http, want_status):
    """Google's JSON error body {"error": {"code", "message", "status"}}."""
    c.check(f"{name}: HTTP status {want_http}", status in want_http, f"got HTTP {status}: {body[:300]!r}")
    try:
        j = json.loads(body)
    except (ValueError, TypeError):
        c.fail(f"{name}: Google JSON error body", f"not JSON: {body[:300]!r}")
        return None
    err = j.get("error") if isinstance(j, dict) else None
    if not c.check(f"{name}: Google JSON error body", isinstance(err, dict)
                   and is_int(err.get("code")) and isinstance(err.get("message"), str)
                   and err.get("status") in ERROR_STATUSES, f"body {body[:300]!r}"):
        return None
    c.check(f"{name}: error.code equals the HTTP status", err["code"] == status, f"code {err['code']} vs HTTP {status}")
    if want_status:
        c.check(f"{name}: error.status {'/'.join(want_status)}", err["status"] in want_status, f"got {err['status']!r}")
    return err


# --------------------------------------------------------------------------- HTML


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method, inputs and buttons (with attributes)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._current = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._current = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                             "id": a.get("id"), "inputs": [], "buttons": []}
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            self._current["inputs"].append(a)
        elif tag == "button" and self._current is not None:
            self._current["buttons"].append(a)

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def parse_forms(text):
    p = Forms()
    p.feed(text)
    return p.forms


# --------------------------------------------------------------------------- the user


class DemoUser(webbrowser.BaseBrowser):
    """The "browser" InstalledAppFlow opens: does what a person does at the consent
    page, in a thread, with requests."""

    def __init__(self):
        super().__init__("keepsake-demo-user")
        self.account_index = 0
        self.thread = None
        self.error = None
        self.redirect = None
        self.account_email = None
        self.auth_params = None

    def open(self, url, new=0, autoraise=True):
        self.error = self.redirect = self.account_email = None
        self.thread = threading.Thread(target=self._consent, args=(url,), daemon=True)
        self.thread.start()
        return True

    def _consent(self, url):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.auth_params = {k: v[0] for k, v in q.items()}
        redirect_uri = self.auth_params.get("redirect_uri", "")
        state = self.auth_params.get("state")
        try:
            s = requests.Session()
            r = s.get(url, timeout=HTTP_TIMEOUT)
            if r.status_code != 200:
                raise RuntimeError(f"GET auth URL: HTTP {r.status_code}: {r.text[:500]}")
            forms = [f for f in parse_forms(r.text)
                     if any(i.get("name") == "account" for i in f["inputs"])]
            if not forms:
                raise RuntimeError(f"no account form on the consent page: {r.text[:500]}")
            form = forms[0]
            radios = [i for i in form["inputs"] if i.get("type") == "radio" and i.get("name") == "account"]
            if self.account_index >= len(radios):
                raise RuntimeError(f"consent page lists {len(radios)} accounts")
            data = [(i["name"], i.get("value", "")) for i in form["inputs"]
                    if i.get("type") == "hidden" and i.get("name")]
            data.append(("account", radios[self.account_index].get("value", "")))
            # Boxes ticked as the page shows them (Google's granular consent: the
            # person leaves the photos permission ticked), as a browser submits them.
            data += [(i["name"], i.get("value", "on")) for i in form["inputs"]
                     if i.get("type") == "checkbox" and i.get("name") and "checked" in i]
            allow = [b for b in form["buttons"] if b.get("value") == "allow" or b.get("data-testid") == "consent-allow"]
            if not allow:
                raise RuntimeError("no Allow button on the consent page")
            if allow[0].get("name"):
                data.append((allow[0]["name"], allow[0].get("value", "")))
            emails = re.findall(r'data-email="([^"]+)"', r.text)
            if self.account_index < len(emails):
                self.account_email = emails[self.account_index]
            action = urllib.parse.urljoin(r.url, form["action"])
            r2 = s.request(form["method"].upper(), action, data=data, allow_redirects=False, timeout=HTTP_TIMEOUT)
            if r2.status_code not in (301, 302, 303, 307):
                raise RuntimeError(f"consent answer: HTTP {r2.status_code}: {r2.text[:500]}")
            loc = r2.headers.get("Location", "")
            if not loc.startswith(redirect_uri):
                raise RuntimeError(f"consent redirected to {loc!r}, not to {redirect_uri!r}")
            self.redirect = loc
            r3 = s.get(loc, timeout=HTTP_TIMEOUT)  # the flow's loopback server
            if r3.status_code != 200:
                raise RuntimeError(f"loopback server answered HTTP {r3.status_code}")
        except Exception as e:  # noqa: BLE001 - reported to the main thread
            self.error = e
            if redirect_uri and not self.redirect:
                # Unblock the flow's loopback server, as a user closing the tab cannot.
                with contextlib.suppress(Exception):
                    requests.get(redirect_uri + "?" + urllib.parse.urlencode(
                        {"error": "demo_user_failed", "state": state or ""}), timeout=5)


def sign_in(c, args, user, account_index, label):
    """One InstalledAppFlow.run_local_server, the user picking the given account."""
    client_config = {"installed": {
        "client_id": args.client_id,
        "project_id": "keepsake-demo",
        "auth_uri": args.base + AUTH_PATH,
        "token_uri": args.base + TOKEN_PATH,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_secret": args.client_secret,
        "redirect_uris": ["http://localhost"],
    }}
    flow = InstalledAppFlow.from_client_config(client_config, scopes=SCOPES)
    user.account_index = account_index
    log(f"{label}: InstalledAppFlow.run_local_server (demo account #{account_index})")
    creds = None
    try:
        creds = flow.run_local_server(port=0, open_browser=True, timeout_seconds=120)
    except Exception as e:  # noqa: BLE001
        if user.thread:
            user.thread.join(30)
        if user.error:
            c.fail(f"{label}: the user's consent in the browser", repr(user.error))
            raise Fatal(f"{label}: sign-in failed") from e
        detail = f"{type(e).__name__}: {e}"
        c.fail("token endpoint: authorization_code exchange as google-auth-oauthlib sends it "
               "(client_secret_basic: Authorization: Basic, no client_id/client_secret in the body)",
               detail)
        if not user.redirect:
            raise Fatal(f"{label}: sign-in failed: {detail}") from e
        # Keep checking the rest: the same flow's public fetch_token, secret in the body.
        log(f"{label}: retrying the exchange with client_secret_post (flagged as a failure above)")
        try:
            flow.fetch_token(authorization_response=user.redirect.replace("http", "https", 1),
                             include_client_id=True)
            creds = flow.credentials
        except Exception as e2:  # noqa: BLE001
            c.fail(f"{label}: code exchange with client_secret_post", f"{type(e2).__name__}: {e2}")
            raise Fatal(f"{label}: sign-in failed") from e2
    else:
        c.check("token endpoint: authorization_code exchange as google-auth-oauthlib sends it "
                "(client_secret_basic: Authorization: Basic, no client_id/client_secret in the body)", True)
    if user.thread:
        user.thread.join(30)
    c.check(f"{label}: the user's consent in the browser", user.error is None, repr(user.error))
    ap = user.auth_params or {}
    c.check("auth request is the installed-app code flow with PKCE S256 and offline access",
            ap.get("response_type") == "code" and ap.get("code_challenge_method") == "S256"
            and ap.get("code_challenge") and ap.get("access_type") == "offline", f"params {sorted(ap)}")
    tok = dict(flow.oauth2session.token or {})
    check_token_response(c, tok, label)
    return creds, user.account_email


def check_token_response(c, tok, label):
    """The token endpoint's answer (as oauthlib kept it; it adds expires_at)."""
    w = f"{label} token response"
    c.check("token response: access_token is a non-empty string",
            isinstance(tok.get("access_token"), str) and tok.get("access_token"), f"{w}: {sorted(tok)}")
    c.check("token response: token_type is Bearer", str(tok.get("token_type", "")).lower() == "bearer",
            f"{w}: token_type = {tok.get('token_type')!r}")
    c.check("token response: expires_in is a positive number of seconds",
            is_number(tok.get("expires_in")) and tok["expires_in"] > 0, f"{w}: expires_in = {tok.get('expires_in')!r}")
    c.check("token response: refresh_token (access_type=offline) is a non-empty string",
            isinstance(tok.get("refresh_token"), str) and tok.get("refresh_token"), f"{w}: keys {sorted(tok)}")
    scope = tok.get("scope")
    granted = scope if isinstance(scope, list) else str(scope or "").split()
    c.check("token response: scope grants the Picker scope", SCOPES[0] in granted, f"{w}: scope = {scope!r}")


# --------------------------------------------------------------------------- helpers


def original_request_id():
    """The original tool's generate_request_id(): 32 random hex digits in the
    8-4-4-4-12 shape, no version or variant digits set (ORIGINAL-TOOL.md §7.1)."""
    h = secrets.token_hex(16)
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def is_uuid_v4(rid):
    return rid[14] == "4" and rid[19] in "89ab"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def sniff(b):
    """What the first bytes of a file say it is, or None."""
    if b[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if b[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if b[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if b[:4] == b"RIFF" and b[8:12] == b"WEBP":
        return "webp"
    if b[:4] == b"RIFF" and b[8:12] == b"AVI ":
        return "avi"
    if b[4:8] == b"ftyp":
        brand = b[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"):
            return "heif"
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand == b"qt  ":
            return "mov"
        if brand.startswith(b"3g"):
            return "3gp"
        return "mp4"
    if b[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if b[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if b[:2] == b"BM":
        return "bmp"
    if b[:4] == b"\x00\x00\x01\xba":
        return "mpeg-ps"
    if b[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if len(b) > 188 and b[0] == 0x47 and b[188] == 0x47:
        return "mpeg-ts"
    if len(b) > 196 and b[4] == 0x47 and b[196] == 0x47:
        return "m2ts"
    return None


def safe_name(name):
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", name or "unnamed").strip(" .")
    return name[:120] or "unnamed"


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))


GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


class RouteGoogleTokenEndpoint(requests.adapters.HTTPAdapter):
    """Sends what google-auth addresses to Google's token endpoint to the emulator's
    (google-auth's from_authorized_user_info always sets token_uri to Google's,
    whatever token.json says): the test's stand-in for DNS, the library unchanged."""

    def __init__(self):
        super().__init__()
        self.target = None
        self.seen = []

    def send(self, request, **kwargs):
        self.seen.append(request.url)
        if self.target and request.url.split("?")[0] == GOOGLE_TOKEN_URI:
            request.url = self.target
        return super().send(request, **kwargs)


ROUTED = RouteGoogleTokenEndpoint()


def load_saved(args, path, how):
    """Credentials from a saved token file and the Request to refresh them with:
    "original" as the original tool loads token.json (from_authorized_user_file,
    refreshes addressed to Google's endpoint, routed to the emulator); "token_uri"
    with the file's own token_uri and a plain Request()."""
    if how == "original":
        ROUTED.target = args.base + TOKEN_PATH
        session = requests.Session()
        session.mount("https://oauth2.googleapis.com/", ROUTED)
        return Credentials.from_authorized_user_file(path, SCOPES), Request(session=session)
    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    expiry = dt.datetime.strptime(info["expiry"].rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
    creds = Credentials(token=info.get("token"), refresh_token=info["refresh_token"], token_uri=info["token_uri"],
                        client_id=info["client_id"], client_secret=info["client_secret"],
                        scopes=info.get("scopes"), expiry=expiry)
    return creds, Request()


# --------------------------------------------------------------------------- steps


def build_service(c, args, creds, summary):
    """The photospicker v1 service from the served discovery document (the fallback,
    a --discovery-file, is recorded as a failure)."""
    url = args.base + DISCOVERY_PATH
    log(f"discovery: {url}")
    try:
        service = build("photospicker", "v1", credentials=creds, discoveryServiceUrl=url,
                        static_discovery=False)
        summary["discovery_source"] = "served"
        c.check("discovery document served at /emulator/picker/$discovery/rest?version=v1", True)
    except (UnknownApiNameOrVersion, HttpError) as e:
        r = requests.get(url, timeout=HTTP_TIMEOUT)
        c.fail("discovery document served at /emulator/picker/$discovery/rest?version=v1",
               f"{type(e).__name__}: {e}; GET {url} -> HTTP {r.status_code} {r.text[:200]!r}")
        if not args.discovery_file:
            raise Fatal("no discovery document (give --discovery-file to check the rest)") from e
        with open(args.discovery_file, encoding="utf-8") as f:
            doc = f.read().replace("{{ROOT_URL}}", args.base + PICKER_ROOT)
        args.fallback_doc = doc
        service = build_from_document(doc, credentials=creds)
        summary["discovery_source"] = f"file {args.discovery_file} (fallback)"
        return service
    # The served document itself, and build_from_document on it.
    r = requests.get(url, timeout=HTTP_TIMEOUT)
    c.check("discovery GET: HTTP 200, JSON", r.status_code == 200
            and r.headers.get("Content-Type", "").startswith("application/json"),
            f"HTTP {r.status_code} Content-Type {r.headers.get('Content-Type')!r}")
    try:
        doc = r.json()
    except ValueError:
        c.fail("discovery document is JSON", r.text[:300])
        return service
    c.check("discovery rootUrl is this emulator's picker root", doc.get("rootUrl") == args.base + PICKER_ROOT,
            f"rootUrl = {doc.get('rootUrl')!r}, want {args.base + PICKER_ROOT!r}")
    c.check("discovery: name photospicker, version v1, kind discovery#restDescription",
            doc.get("name") == "photospicker" and doc.get("version") == "v1"
            and doc.get("kind") == "discovery#restDescription",
            f"name {doc.get('name')!r} version {doc.get('version')!r} kind {doc.get('kind')!r}")
    methods = {f"{res}.{m}" for res, v in (doc.get("resources") or {}).items() for m in (v.get("methods") or {})}
    want = {"sessions.create", "sessions.get", "sessions.delete", "mediaItems.list"}
    c.check("discovery: the four Picker methods", methods == want, f"methods {sorted(methods)}")
    try:
        s2 = build_from_document(r.text, credentials=creds)
        ok = all(hasattr(s2, n) for n in ("sessions", "mediaItems")) and hasattr(s2.sessions(), "create")
        c.check("build_from_document works on the served document", ok, "resources missing")
    except Exception as e:  # noqa: BLE001
        c.fail("build_from_document works on the served document", f"{type(e).__name__}: {e}")
    if args.discovery_file:
        with open(args.discovery_file, encoding="utf-8") as f:
            filed = json.loads(f.read().replace("{{ROOT_URL}}", args.base + PICKER_ROOT))
        same = filed == doc
        c.note(f"served discovery document {'equals' if same else 'differs from'} {args.discovery_file}")
    return service


def create_session_like_original(c, args, token, request_id):
    """The original create_picking_session(): requests.post, no body, requestId."""
    url = f"{args.base}{API_PATH}/sessions"
    headers = {**bearer(token), "Content-Type": "application/json"}
    r = requests.post(url, headers=headers, params={"requestId": request_id}, timeout=HTTP_TIMEOUT)
    return r


def pick_in_picker_ui(picker_uri, max_pick, result):
    """The user: open pickerUri, tick items, press Done (in a thread)."""
    try:
        time.sleep(0.3)
        s = requests.Session()
        r = s.get(picker_uri, timeout=HTTP_TIMEOUT)
        result["page_status"] = r.status_code
        if r.status_code != 200:
            raise RuntimeError(f"GET pickerUri: HTTP {r.status_code}: {r.text[:300]}")
        forms = [f for f in parse_forms(r.text) if any(i.get("name") == "item" for i in f["inputs"])]
        if not forms:
            raise RuntimeError("no item form on the picker page")
        form = forms[0]
        boxes = [i for i in form["inputs"] if i.get("type") == "checkbox" and i.get("name") == "item"]
        result["offered"] = len(boxes)
        chosen = boxes if not max_pick else boxes[:max_pick]
        data = [(i["name"], i.get("value", "")) for i in form["inputs"] if i.get("type") == "hidden" and i.get("name")]
        data += [("item", b.get("value", "")) for b in chosen]
        result["picked_ids"] = [b.get("value", "") for b in chosen]
        action = urllib.parse.urljoin(r.url, form["action"])
        r2 = s.request(form["method"].upper(), action, data=data, timeout=HTTP_TIMEOUT)
        result["done_status"] = r2.status_code
        if r2.status_code != 200 or "picker-finished" not in r2.text:
            raise RuntimeError(f"Done: HTTP {r2.status_code}: {r2.text[:300]}")
    except Exception as e:  # noqa: BLE001
        result["error"] = repr(e)


def http_error_parts(e):
    body = e.content.decode("utf-8", "replace") if isinstance(e.content, bytes) else str(e.content)
    return int(e.resp.status), body


def download(c, args, token, item, out_dir, n, summary):
    """Download one item as the original's download_media_item() does (requests,
    bearer, streamed), with =dv for videos."""
    mf = item.get("mediaFile") or {}
    base_url, mime, filename = mf.get("baseUrl"), mf.get("mimeType", "application/octet-stream"), mf.get("filename")
    kind = item.get("type")
    status = ((mf.get("mediaFileMetadata") or {}).get("videoMetadata") or {}).get("processingStatus")
    suffix = "=dv" if kind == "VIDEO" else "=d"
    url = f"{base_url}{suffix}"
    headers = {**bearer(token), "Content-Type": mime}  # the original sends both
    entry = {"filename": filename, "type": kind, "suffix": suffix, "mimeType": mime}
    r = requests.get(url, headers=headers, stream=True, timeout=HTTP_TIMEOUT)
    entry["status"] = r.status_code
    entry["redirects"] = [h.status_code for h in r.history]
    if r.history:
        entry["redirected_to_other_host"] = urllib.parse.urlsplit(r.url).netloc != urllib.parse.urlsplit(url).netloc
        entry["bearer_sent_after_redirect"] = "Authorization" in r.request.headers
    if kind == "VIDEO" and status not in (None, "READY"):
        # PICKER-API.md §4: =dv fails until processingStatus is READY.
        c.check("=dv of a video not READY fails (never saved as the video)", not 200 <= r.status_code < 300,
                f"{filename}: processingStatus {status}, =dv gave HTTP {r.status_code}")
        entry["skipped"] = f"processingStatus {status}"
        r.close()
        summary["downloads"].append(entry)
        return 0
    if not c.check("media download: HTTP 200", r.status_code == 200,
                   f"{filename} {suffix}: HTTP {r.status_code} {r.text[:200]!r}"):
        summary["downloads"].append(entry)
        return 0
    path = os.path.join(out_dir, f"{n:03d}-{safe_name(filename)}")
    head, size, digest = b"", 0, hashlib.sha256()
    with open(path, "wb") as f:
        for chunk in r.iter_content(chunk_size=65536):
            if len(head) < 512:
                head += chunk[: 512 - len(head)]
            size += len(chunk)
            digest.update(chunk)
            f.write(chunk)
    clen = r.headers.get("Content-Length")
    if clen is not None:
        c.check("media download: body length equals Content-Length", int(clen) == size,
                f"{filename}: {size} bytes, Content-Length {clen}")
    c.check("media download: non-empty body", size > 0, f"{filename}: empty")
    sniffed = sniff(head)
    want = VIDEO_KINDS if kind == "VIDEO" else IMAGE_KINDS
    c.check("media download: bytes start with a plausible magic for the type",
            sniffed in want, f"{filename} ({kind}, {mime}) {suffix}: sniffed {sniffed}, first bytes {head[:16].hex()}")
    entry.update(bytes=size, sniffed=sniffed, sha256=digest.hexdigest(), saved=os.path.basename(path),
                 content_type=r.headers.get("Content-Type"))
    named = {"image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
             "image/heif": "heif", "image/heic": "heif", "image/avif": "avif", "image/tiff": "tiff",
             "image/bmp": "bmp", "video/mp4": "mp4", "video/quicktime": "mov"}.get(mime)
    if named and sniffed and named != sniffed:
        c.note(f"{filename}: mimeType {mime} but the {suffix} bytes are {sniffed} (documented: sniff the bytes)")
    summary["downloads"].append(entry)
    return size


def workflow(c, args, summary):
    out = args.out
    os.makedirs(out, exist_ok=True)
    user = DemoUser()
    webbrowser.register("keepsake-demo-user", None, user, preferred=True)

    # 1. Sign in (the original's _authenticate: no token.json yet, so the flow runs).
    creds, email = sign_in(c, args, user, 0, "sign-in #1")
    summary["accounts"]["token.json"] = email
    c.check("credentials valid after sign-in", creds.valid, "creds.valid is false")
    c.check("credentials carry a refresh token", bool(creds.refresh_token), "no refresh_token")
    token_json = creds.to_json()
    write_json(os.path.join(out, "token.json"), token_json)
    info = json.loads(token_json)
    c.check("token.json has the authorized_user fields",
            all(k in info for k in ("token", "refresh_token", "token_uri", "client_id", "client_secret", "scopes", "expiry")),
            f"keys {sorted(info)}")
    expired = dict(info)
    expired["expiry"] = (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                         - dt.timedelta(hours=2)).isoformat() + "Z"
    write_json(os.path.join(out, "token-expired.json"), json.dumps(expired))
    log(f"signed in as {email}; wrote token.json and token-expired.json")

    # 2. The service.
    service = build_service(c, args, creds, summary)

    # 3. Sessions, with the original's requestIds (some not UUID v4).
    ids = [original_request_id() for _ in range(5)]
    while sum(not is_uuid_v4(i) for i in ids) < 3 or is_uuid_v4(ids[0]):
        ids = [original_request_id() for _ in range(5)]
    summary["request_ids"] = [{"id": i, "version_digit": i[14], "variant_digit": i[19],
                               "uuid_v4": is_uuid_v4(i)} for i in ids]
    created = []
    try:
        r = create_session_like_original(c, args, creds.token, ids[0])
        if not c.check("sessions.create with the original's requestId (not UUID v4) as the original sends it "
                       "(requests.post, no body, Content-Type json)", r.status_code == 200,
                       f"POST {urllib.parse.urlsplit(r.request.url).path}?requestId={ids[0]} -> HTTP {r.status_code} {r.text[:300]!r}"):
            # Keep checking the rest with a UUID v4 (flagged above).
            rid = str(uuid.uuid4())
            log(f"retrying sessions.create with a UUID v4 requestId {rid}")
            r = create_session_like_original(c, args, creds.token, rid)
            if r.status_code != 200:
                c.fail("sessions.create", f"HTTP {r.status_code} {r.text[:300]!r}")
                raise Fatal("cannot create a session")
        c.check("sessions.create: Content-Type application/json",
                r.headers.get("Content-Type", "").startswith("application/json"), r.headers.get("Content-Type"))
        session = r.json()
        sid = session.get("id")
        created.append(sid)
        summary["session_id"] = sid
        check_session(c, session, "sessions.create", expect_set=False)

        for rid in ids[1:]:
            try:
                s = service.sessions().create(requestId=rid, body={}).execute()
                created.append(s.get("id"))
                c.check("sessions.create (googleapiclient) with an original-style requestId", True)
                check_session(c, s, f"sessions.create(requestId={rid})", expect_set=False)
            except HttpError as e:
                st, body = http_error_parts(e)
                c.fail("sessions.create (googleapiclient) with an original-style requestId",
                       f"POST /v1/sessions?requestId={rid} (version digit {rid[14]}, variant {rid[19]}) -> HTTP {st} {body[:300]!r}")
        try:
            again = service.sessions().create(requestId=ids[1], body={}).execute()
            c.note(f"a repeated requestId gave {'the same' if again.get('id') in created else 'a new'} session (undocumented)")
            if again.get("id") not in created:
                created.append(again.get("id"))
        except HttpError as e:
            c.note(f"a repeated requestId gave HTTP {e.resp.status} (undocumented)")
        for other in [x for x in created if x and x != sid]:
            try:
                res = service.sessions().delete(sessionId=other).execute()
                c.check("sessions.delete answers {}", res == {}, f"got {res!r}")
            except HttpError as e:
                c.fail("sessions.delete", f"{other}: HTTP {e.resp.status}")
        created = [sid]

        # 4. Poll (sessions.get at pollInterval), list too early, then the user picks.
        first = service.sessions().get(sessionId=sid).execute()
        interval, timeout = check_session(c, first, "sessions.get (before picking)", expect_set=False)
        try:
            service.mediaItems().list(sessionId=sid, pageSize=args.page_size).execute()
            c.fail("mediaItems.list before Done: 400 FAILED_PRECONDITION", "it answered 200")
        except HttpError as e:
            st, body = http_error_parts(e)
            check_google_error(c, "mediaItems.list before Done", st, body, (400,), ("FAILED_PRECONDITION",))

        picking = {}
        user_thread = threading.Thread(target=pick_in_picker_ui, args=(session["pickerUri"], args.max_pick, picking), daemon=True)
        user_thread.start()
        started = time.monotonic()
        polls, waits = 1, []
        latest = first
        while not latest.get("mediaItemsSet", False):
            wait = interval if interval is not None else 5.0
            limit = min(timeout if timeout is not None else 1800.0, args.pick_timeout)
            if time.monotonic() - started > limit:
                c.fail("mediaItemsSet within the picking time", f"still false after {limit:.0f} s ({polls} polls)")
                raise Fatal("the user's pick never arrived")
            waits.append(wait)
            time.sleep(wait)
            latest = service.sessions().get(sessionId=sid).execute()
            polls += 1
            interval, timeout = check_session(c, latest, f"sessions.get (poll {polls})")
            if latest.get("mediaItemsSet") is True:
                break
            if "error" in picking and not user_thread.is_alive():
                c.fail("the user's pick in the picker page", picking["error"])
                raise Fatal("picking failed")
        user_thread.join(30)
        c.check("the user's pick in the picker page", "error" not in picking, picking.get("error", ""))
        check_session(c, latest, "sessions.get (after Done)", expect_set=True)
        summary["polls"] = polls
        summary["poll_waits_s"] = waits
        summary["picked"] = len(picking.get("picked_ids", []))
        summary["offered_in_picker"] = picking.get("offered")
        log(f"mediaItemsSet after {polls} polls (waited {waits} s); picked {summary['picked']}")
        rp = requests.get(session["pickerUri"], timeout=HTTP_TIMEOUT)
        c.note(f"pickerUri after Done answers HTTP {rp.status_code}")

        # 5. Every page.
        items, token, pages, page_sizes = [], None, 0, []
        while True:
            kw = {"sessionId": sid, "pageSize": args.page_size}
            if token:
                kw["pageToken"] = token
            resp = service.mediaItems().list(**kw).execute()
            pages += 1
            where = f"mediaItems.list page {pages}"
            if not c.check("ListMediaItemsResponse is a JSON object", isinstance(resp, dict), f"{where}: {resp!r}"):
                break
            check_fields(c, "ListMediaItemsResponse", resp, where, LIST_FIELDS)
            page = resp.get("mediaItems", [])
            c.check("ListMediaItemsResponse.mediaItems is an array", isinstance(page, list), f"{where}: {page!r}")
            c.check("a page holds at most pageSize items", len(page) <= args.page_size, f"{where}: {len(page)} items")
            page_sizes.append(len(page))
            for k, it in enumerate(page):
                check_item(c, it, f"{where} item {k}")
            items.extend(page)
            token = resp.get("nextPageToken")
            if "nextPageToken" in resp:
                c.check("nextPageToken is a non-empty string when present",
                        isinstance(token, str) and token, f"{where}: nextPageToken = {token!r}")
            if not token:
                break
            if pages > 1000:
                c.fail("listing ends", "more than 1000 pages")
                break
        summary["pages"] = pages
        summary["page_sizes"] = page_sizes
        summary["items"] = len(items)
        summary["items_by_type"] = {}
        for it in items:
            t = it.get("type", "TYPE_UNSPECIFIED")
            summary["items_by_type"][t] = summary["items_by_type"].get(t, 0) + 1
        listed = [it.get("id") for it in items]
        c.check("listed item ids are unique", len(listed) == len(set(listed)), f"{len(listed)} listed, {len(set(listed))} distinct")
        c.check("the listing holds exactly the items picked", set(listed) == set(picking.get("picked_ids", [])),
                f"listed {len(set(listed))}, picked {len(picking.get('picked_ids', []))}; "
                f"missing {sorted(set(picking.get('picked_ids', [])) - set(listed))[:5]} extra {sorted(set(listed) - set(picking.get('picked_ids', [])))[:5]}")
        c.check("several pages with a small pageSize", pages >= 2 or len(items) <= args.page_size,
                f"{pages} page(s) for {len(items)} items at pageSize {args.page_size}")
        log(f"listed {len(items)} items on {pages} pages {page_sizes}")

        # 6. Downloads.
        dl_dir = os.path.join(out, "downloads")
        os.makedirs(dl_dir, exist_ok=True)
        photo = next((it for it in items if it.get("type") == "PHOTO"), None)
        if photo:
            r = requests.get(photo["mediaFile"]["baseUrl"] + "=d", timeout=HTTP_TIMEOUT)
            c.check("media without the bearer: 403", r.status_code == 403, f"HTTP {r.status_code}")
        total = 0
        for n, it in enumerate(items, 1):
            total += download(c, args, creds.token, it, dl_dir, n, summary)
        summary["bytes"] = total
        saved = [d for d in summary["downloads"] if "bytes" in d]
        log(f"downloaded {len(saved)} files, {total} bytes")
        video = next((it for it in items if it.get("type") == "VIDEO"), None)
        if video:
            r = requests.get(video["mediaFile"]["baseUrl"] + "=d", headers=bearer(creds.token), timeout=HTTP_TIMEOUT)
            c.note(f"=d of a video (what the original tool asks for) gives HTTP {r.status_code} "
                   f"{r.headers.get('Content-Type')} sniffed {sniff(r.content[:512])}")

        # 7. Delete, then the session is gone.
        r = requests.delete(f"{args.base}{API_PATH}/sessions/{sid}",
                            headers={**bearer(creds.token), "Content-Type": "application/json"}, timeout=HTTP_TIMEOUT)
        if c.check("sessions.delete (as the original sends it): HTTP 200", r.status_code == 200, f"HTTP {r.status_code} {r.text[:200]!r}"):
            created.remove(sid)
            try:
                c.check("sessions.delete answers {}", r.json() == {}, f"got {r.text[:200]!r}")
            except ValueError:
                c.fail("sessions.delete answers {}", f"not JSON: {r.text[:200]!r}")
        try:
            service.sessions().get(sessionId=sid).execute()
            c.fail("sessions.get after delete: 404 or 403", "it answered 200")
        except HttpError as e:
            st, body = http_error_parts(e)
            summary["get_after_delete"] = st
            err = check_google_error(c, "sessions.get after delete", st, body, (404, 403), ("NOT_FOUND", "PERMISSION_DENIED"))
            log(f"sessions.get after delete: HTTP {st} {err.get('status') if err else body[:100]}")
        if items:
            r = requests.get(items[0]["mediaFile"]["baseUrl"] + ("=dv" if items[0].get("type") == "VIDEO" else "=d"),
                             headers=bearer(creds.token), timeout=HTTP_TIMEOUT)
            summary["media_after_delete"] = r.status_code
            c.note(f"a baseUrl of the deleted session answers HTTP {r.status_code}")
    finally:
        for other in created:
            with contextlib.suppress(Exception):
                service.sessions().delete(sessionId=other).execute()

    # 8. Tokens: a second sign-in (another account: revoking ends that account's whole
    # grant), revoked; the expired copy of the first refreshed.
    creds2, email2 = sign_in(c, args, user, args.revoke_account, "sign-in #2")
    summary["accounts"]["token-revoked.json"] = email2
    write_json(os.path.join(out, "token-revoked.json"), creds2.to_json())
    r = requests.post(f"{args.base}{REVOKE_PATH}", params={"token": creds2.refresh_token},
                      headers={"Content-type": "application/x-www-form-urlencoded"}, timeout=HTTP_TIMEOUT)
    c.check("revoke the refresh token: HTTP 200", r.status_code == 200, f"HTTP {r.status_code} {r.text[:200]!r}")
    log(f"revoked the refresh token of {email2}: HTTP {r.status_code}")
    probe = f"{args.base}{API_PATH}/sessions/{uuid.uuid4()}"
    r = requests.get(probe, headers=bearer(creds2.token), timeout=HTTP_TIMEOUT)
    check_google_error(c, "the revoked grant's access token", r.status_code, r.text, (401,), ("UNAUTHENTICATED",))
    for how in ("original", "token_uri"):
        revoked, req = load_saved(args, os.path.join(out, "token-revoked.json"), how)
        try:
            revoked.refresh(req)
            c.fail("refreshing token-revoked.json fails with RefreshError invalid_grant", f"({how}) the refresh worked")
        except google.auth.exceptions.RefreshError as e:
            c.check("refreshing token-revoked.json fails with RefreshError invalid_grant", "invalid_grant" in str(e),
                    f"({how}) {e}")
            summary["revoked_refresh_error"] = str(e)

    for how in ("original", "token_uri"):
        old, req = load_saved(args, os.path.join(out, "token-expired.json"), how)
        c.check("token-expired.json loads as expired", old.expired and not old.valid,
                f"({how}) expired={old.expired} valid={old.valid}")
        # The original's _authenticate(): not valid, expired, has a refresh token -> refresh.
        if not old.valid and old.expired and old.refresh_token:
            try:
                old.refresh(req)
                c.check("refreshing token-expired.json works", old.valid and old.token != info["token"],
                        f"({how}) valid={old.valid}, same token={old.token == info['token']}")
            except google.auth.exceptions.RefreshError as e:
                c.fail("refreshing token-expired.json works", f"({how}) {e}")
        if not old.valid:
            continue
        if summary["discovery_source"] == "served":
            svc = build("photospicker", "v1", credentials=old, discoveryServiceUrl=args.base + DISCOVERY_PATH,
                        static_discovery=False)
        else:
            svc = build_from_document(args.fallback_doc, credentials=old)
        try:
            s = svc.sessions().create(body={}).execute()  # no requestId: only the token is tested
            check_session(c, s, f"sessions.create with refreshed credentials ({how})", expect_set=False)
            svc.sessions().delete(sessionId=s["id"]).execute()
            c.check("the refreshed access token works on the API", True)
        except HttpError as e:
            st, body = http_error_parts(e)
            c.fail("the refreshed access token works on the API", f"({how}) HTTP {st} {body[:200]!r}")
    if ROUTED.seen:
        c.note(f"google-auth's from_authorized_user_file ignores token.json's token_uri: its refreshes went to "
               f"{sorted(set(ROUTED.seen))}, routed to {args.base + TOKEN_PATH}")
    r = requests.get(probe, headers=bearer(info["token"]), timeout=HTTP_TIMEOUT)
    c.check("token.json's access token still works after another account's revoke (404 for an unknown session)",
            r.status_code == 404, f"HTTP {r.status_code} {r.text[:200]!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the emulator's origin, http://127.0.0.1:PORT")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret", required=True)
    ap.add_argument("--out", required=True, help="folder for token*.json and downloads/")
    ap.add_argument("--discovery-file", help="emulator/src/discovery.json, used only if the served one is missing")
    ap.add_argument("--page-size", type=int, default=2)
    ap.add_argument("--max-pick", type=int, default=0, help="items to tick in the picker (0: all)")
    ap.add_argument("--pick-timeout", type=float, default=120.0, help="seconds to wait for mediaItemsSet")
    ap.add_argument("--revoke-account", type=int, default=1,
                    help="consent-page account (0-based) of the sign-in that is revoked; not 0, since "
                         "revoking ends that account's whole grant and token.json must stay good")
    args = ap.parse_args()
    args.base = args.base.rstrip("/")

    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # libraries' prints (the flow's prompt) go to stderr
    c = Checks()
    summary = {"base": args.base, "out": os.path.abspath(args.out), "accounts": {}, "downloads": [],
               "discovery_source": None}
    t0 = time.monotonic()
    try:
        workflow(c, args, summary)
    except Fatal as e:
        c.fail("workflow", str(e))
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        c.fail("workflow: unexpected exception", f"{type(e).__name__}: {e}")
    summary["seconds"] = round(time.monotonic() - t0, 2)
    summary["downloaded_files"] = sum(1 for d in summary["downloads"] if "bytes" in d)
    summary["checks_run"] = sum(r["run"] for r in c.results.values())
    summary["checks"] = c.results
    summary["notes"] = c.notes
    grouped = c.grouped_failures()
    summary["failures"] = grouped
    summary["ok"] = not c.failures
    print(json.dumps(summary, indent=2), file=real_stdout)
    if c.failures:
        log(f"{len(grouped)} check(s) failed ({len(c.failures)} failures):")
        for g in grouped:
            log(f"  - {g['check']} [{g['failed']}x]: {g['details'][0]}")
            for d in g["details"][1:]:
                log(f"        also: {d}")
        sys.exit(1)
    log(f"all {summary['checks_run']} checks passed")


if __name__ == "__main__":
    main()
