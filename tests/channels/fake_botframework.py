"""A fake of Microsoft's side of a Teams bot, on loopback, for the connector's tests.

One threaded HTTP server plays three services:

* **OpenID metadata and keys**: ``GET /openid`` (whose ``jwks_uri`` is ``/keys``) and
  ``GET /keys``, a JWKS holding one RSA key generated here (endorsed for ``msteams``);
  ``token()`` mints JWTs signed with it, or with a key the JWKS does not list (a forgery).
* **The token endpoint**: ``POST /token`` and ``POST /<tenant>/oauth2/v2.0/token``
  (client-credentials grant → an access token), each request kept in ``token_requests``.
* **The Bot Connector service**: ``POST /v3/conversations/<id>/activities[/<replyToId>]``,
  each activity kept in ``activities``; ``fail_next(n)`` answers the next ``n`` with 429 and
  ``Retry-After``. A request without an access token this fake issued gets 401.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
KEY_ID = "fake-signing-key"
ACTIVITIES = re.compile(r"^/v3/conversations/(?P<conversation>[^/]+)/activities(?:/(?P<reply_to>[^/]+))?$")
TENANT_TOKEN = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")


@dataclasses.dataclass
class TokenRequest:
    path: str
    form: Dict[str, str]


@dataclasses.dataclass
class ReceivedActivity:
    conversation_id: str
    reply_to_id: Optional[str]
    activity: Dict[str, Any]
    authorization: str


class FakeBotFramework:
    """Start with ``with FakeBotFramework() as fake:``; ``fake.url`` is its base URL."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = KEY_ID
        self.forger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.token_requests: List[TokenRequest] = []
        self.activities: List[ReceivedActivity] = []
        self.issued_tokens: set[str] = set()
        self.key_fetches = 0
        self._failures: List[tuple[int, str]] = []
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> "FakeBotFramework":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- tokens the channel would send ------------------------------------------------------------

    def token(self, *, audience: str, service_url: str, issuer: str = BOT_FRAMEWORK_ISSUER,
              expires_in: int = 3600, forged: bool = False, **claims: Any) -> str:  # fmt: skip
        """A JWT as the Bot Framework sends to a bot: valid unless told otherwise (``forged``: signed
        with a key the JWKS does not hold, under the JWKS's key id; a negative ``expires_in``: expired)."""
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "serviceurl": service_url, "nbf": now - 60,
                   "iat": now - 60, "exp": now + expires_in, **claims}  # fmt: skip
        signer = self.forger_key if forged else self.key
        return jwt.encode(payload, signer, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> Dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]}]}

    def rotate_key(self) -> None:
        """Sign with a new key under a new key id, as Microsoft does from time to time."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"fake-signing-key-{uuid.uuid4().hex[:6]}"

    # -- the connector service ------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 429, retry_after: str = "1") -> None:
        """Answer the next ``count`` activities with ``status`` and this ``Retry-After``."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def wait_for_activities(self, count: int, timeout: float = 30.0) -> List[ReceivedActivity]:
        """Block until at least ``count`` activities have arrived; all of them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.activities) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} activities, got {len(self.activities)}")
                self._lock.wait(left)
            return list(self.activities)

    def in_conversation(self, conversation_id: str) -> List[ReceivedActivity]:
        with self._lock:
            return [a for a in self.activities if a.conversation_id == conversation_id]

    # -- HTTP -----------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # keep test output quiet
                pass

            def _json(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/openid":
                    self._json(200, {"issuer": BOT_FRAMEWORK_ISSUER, "jwks_uri": f"{fake.url}/keys",
                                     "id_token_signing_alg_values_supported": ["RS256"]})  # fmt: skip
                elif self.path == "/keys":
                    fake.key_fetches += 1
                    self._json(200, fake.jwks())
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                path = urllib.parse.urlsplit(self.path).path
                if path == "/token" or TENANT_TOKEN.match(path):
                    form = dict(urllib.parse.parse_qsl(self._body().decode()))
                    access = f"fake-access-{uuid.uuid4().hex}"
                    with fake._lock:
                        fake.token_requests.append(TokenRequest(path, form))
                        fake.issued_tokens.add(access)
                    self._json(200, {"token_type": "Bearer", "expires_in": 3600, "access_token": access})
                    return
                match = ACTIVITIES.match(path)
                if not match:
                    self._json(404, {"error": "not found"})
                    return
                body = json.loads(self._body() or b"{}")
                authorization = self.headers.get("Authorization", "")
                with fake._lock:
                    if authorization.removeprefix("Bearer ") not in fake.issued_tokens:
                        self._json(401, {"error": {"code": "Unauthorized", "message": "no valid token"}})
                        return
                    if fake._failures:
                        status, retry_after = fake._failures.pop(0)
                        self._json(status, {"error": {"code": "Throttled", "message": "slow down"}},
                                   {"Retry-After": retry_after})  # fmt: skip
                        return
                    fake.activities.append(ReceivedActivity(
                        urllib.parse.unquote(match["conversation"]),
                        match["reply_to"] and urllib.parse.unquote(match["reply_to"]), body, authorization))  # fmt: skip
                    fake._lock.notify_all()
                self._json(200, {"id": f"activity-{uuid.uuid4().hex[:8]}"})

        return Handler
