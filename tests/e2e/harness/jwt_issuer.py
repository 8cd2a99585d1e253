"""A stand-in for the Kubernetes API server as a service-account token issuer, for "extra JWT issuers".

The gatekeeper lets a pipeline in with `kubectl create token <sa> --audience=<aud>` as its bearer
token, checking it against the keys the cluster publishes by OpenID discovery. Running a cluster
in the suite is out of reach, so this process publishes the same two documents from keys it holds
in memory and signs tokens shaped like the API server's, while tests steer it: mint any token
(good or deliberately bad), rotate keys, take the issuer away, count what it served.

Served to the gatekeeper, as the API server serves them (pkg/routes/openidmetadata.go in
kubernetes/kubernetes; the documents are described at
https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#service-account-issuer-discovery):
  GET <issuer path>/.well-known/openid-configuration  the discovery document
  GET <issuer path><jwks path, /openid/v1/jwks>       the public keys, {"keys": [...]}, each with kid, alg, use "sig"
Both answer 503 while the issuer is "down", and 401 without the right bearer token when
--require-bearer-file is given. That mirrors a real cluster's default: the ClusterRole
`system:service-account-issuer-discovery` is bound to the group `system:serviceaccounts` only, so
a pod has to present its own service-account token to read them ("A default ClusterRoleBinding
assigns this role to the system:serviceaccounts group", kubernetes/website
content/en/docs/tasks/configure-pod-container/configure-service-account.md, section "Service Account
Issuer Discovery"; the binding is `NewClusterBinding("system:service-account-issuer-discovery")
.Groups(serviceaccount.AllServiceAccountsGroup)` in kubernetes/kubernetes
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go). A real API server answers a request
with no token at all 403 (it is then system:anonymous, whom RBAC refuses) and a bad token 401;
here both are 401, which a relying party must treat alike anyway.

Test-only control, answered to loopback clients only:
  POST /mint    {"alg": "RS256"|"ES256", "claims": {...}, "kid"?: str, "header"?: {...}} -> {"token": str}
  POST /rotate  {"alg": ..., "drop_old"?: bool} -> {"kid": str}
  POST /down    {"down": bool} -> {"down": bool}
  GET  /stats   -> {"discovery": n, "jwks": n, "unauthorized": n, "unavailable": n}

Key IDs are derived the way the API server derives them (keyIDFromPublicKey in
kubernetes/kubernetes pkg/serviceaccount/jwt.go): base64url, unpadded, of the SHA-256 of the
public key's DER SubjectPublicKeyInfo. Keys live in memory only: a restarted issuer has new keys,
as a cluster whose signing key was replaced would.

Run: python tests/e2e/harness/jwt_issuer.py --port N --issuer URL [--require-bearer-file F]
     [--tls-cert C --tls-key K] [--jwks-path /openid/v1/jwks] [--max-age 3600]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import ssl
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

if TYPE_CHECKING:
    from harness.processes import ManagedProcess, ProcessGroup

DISCOVERY_PATH = "/.well-known/openid-configuration"
DEFAULT_JWKS_PATH = "/openid/v1/jwks"
ALGORITHMS = ("RS256", "ES256")
MAX_BODY = 1 << 20
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


# --- the server ----------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or max(1, (value.bit_length() + 7) // 8), "big")


@dataclass
class SigningKey:
    alg: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    kid: str = ""
    published: bool = True

    def __post_init__(self) -> None:
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = _b64url(hashlib.sha256(der).digest())

    @classmethod
    def generate(cls, alg: str) -> SigningKey:
        if alg == "RS256":
            return cls(alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        if alg == "ES256":
            return cls(alg, ec.generate_private_key(ec.SECP256R1()))
        raise ValueError(f"unsupported alg {alg!r}; one of {', '.join(ALGORITHMS)}")

    def public_jwk(self) -> dict[str, str]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            material = {"kty": "RSA", "n": _b64url(_int_bytes(numbers.n)), "e": _b64url(_int_bytes(numbers.e))}
        else:
            point = public.public_numbers()
            material = {
                "kty": "EC",
                "crv": "P-256",
                "x": _b64url(_int_bytes(point.x, 32)),
                "y": _b64url(_int_bytes(point.y, 32)),
            }
        return {"use": "sig", **material, "kid": self.kid, "alg": self.alg}


@dataclass
class IssuerState:
    """Keys and counters, shared by the handler threads."""

    issuer: str
    jwks_path: str
    keys: list[SigningKey] = field(default_factory=list)
    current: dict[str, SigningKey] = field(default_factory=dict)
    down: bool = False
    counts: dict[str, int] = field(
        default_factory=lambda: {"discovery": 0, "jwks": 0, "unauthorized": 0, "unavailable": 0}
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for alg in ALGORITHMS:
            self.rotate(alg)

    def rotate(self, alg: str, drop_old: bool = False) -> str:
        key = SigningKey.generate(alg)
        with self.lock:
            if drop_old:
                for old in self.keys:
                    if old.alg == alg:
                        old.published = False
            self.keys.append(key)
            self.current[alg] = key
        return key.kid

    def key_for(self, alg: str, kid: str | None) -> SigningKey:
        """The current key of `alg`, or any key ever held by that kid (retired ones too: tests sign with them)."""
        with self.lock:
            if kid is None:
                if alg not in self.current:
                    raise ValueError(f"no key for alg {alg!r}; one of {', '.join(ALGORITHMS)}")
                return self.current[alg]
            for key in self.keys:
                if key.kid == kid:
                    return key
        raise ValueError(f"no key with kid {kid!r}")

    def discovery(self) -> dict[str, Any]:
        with self.lock:
            algs = sorted({key.alg for key in self.keys if key.published})
        return {
            "issuer": self.issuer,
            "jwks_uri": self.issuer.rstrip("/") + self.jwks_path,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
        }

    def jwks(self) -> dict[str, Any]:
        with self.lock:
            return {"keys": [key.public_jwk() for key in self.keys if key.published]}

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def stats(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)


def mint(state: IssuerState, alg: str, claims: dict[str, Any], kid: str | None, header: dict[str, Any]) -> str:
    """Claims signed as given, unchecked, so tests can make tokens no real issuer would.

    The header is {alg, kid} and nothing else unless asked: the API server's signer (go-jose)
    writes no "typ", so neither does this. A header field given as None is left out (no kid).
    """
    key = state.key_for(alg, kid)
    payload = json.dumps(claims, separators=(",", ":")).encode()
    headers = {name: value for name, value in {"kid": key.kid, **header}.items() if value is not None}
    headers.setdefault("typ", None)
    return jwt.PyJWS().encode(payload, key.private, algorithm=key.alg, headers=headers)


class IssuerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-jwt-issuer"
    server: IssuerServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        server = self.server
        if path in (server.discovery_path, server.jwks_route):
            self._published(path)
        elif path != "/stats":
            self._json(404, {"error": "not found"})
        elif self._from_loopback():
            self._json(200, server.state.stats())

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in (self.server.discovery_path, self.server.jwks_route):
            self._json(405, {"error": "method not allowed"})
            return
        if path not in ("/mint", "/rotate", "/down"):
            self._json(404, {"error": "not found"})
            return
        if not self._from_loopback():
            return
        try:
            body = self._body()
            self._json(200, self._control(path, body))
        except (ValueError, TypeError, KeyError) as exc:
            self._json(400, {"error": f"{type(exc).__name__}: {exc}"})

    def _control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        state = self.server.state
        if path == "/mint":
            claims, header = body.get("claims", {}), body.get("header") or {}
            if not isinstance(claims, dict) or not isinstance(header, dict):
                raise TypeError("claims and header must be JSON objects")
            return {"token": mint(state, body.get("alg", "RS256"), claims, body.get("kid"), header)}
        if path == "/rotate":
            return {"kid": state.rotate(body["alg"], drop_old=bool(body.get("drop_old", False)))}
        state.down = bool(body["down"])
        return {"down": state.down}

    def _published(self, path: str) -> None:
        state = self.server.state
        if state.down:
            state.count("unavailable")
            self._json(503, {"error": "issuer is down"})
            return
        if not self._bearer_ok():
            state.count("unauthorized")
            self._json(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized"})
            return
        if path == self.server.discovery_path:
            state.count("discovery")
            self._json(200, state.discovery(), cache=True)
        else:
            state.count("jwks")
            self._json(200, state.jwks(), content_type="application/jwk-set+json", cache=True)

    def _bearer_ok(self) -> bool:
        """Read per request, so a test can rotate the token as the kubelet rotates a projected one."""
        bearer_file = self.server.bearer_file
        if bearer_file is None:
            return True
        try:
            expected = bearer_file.read_text().strip()
        except FileNotFoundError:
            return False
        scheme, _, presented = (self.headers.get("Authorization") or "").partition(" ")
        return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), expected)

    def _from_loopback(self) -> bool:
        if self.client_address[0] in LOOPBACK:
            return True
        self._json(403, {"error": "control endpoints answer loopback clients only"})
        return False

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        raw = self.rfile.read(length) if length > 0 else b"{}"
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise TypeError("body must be a JSON object")
        return body

    def _json(self, status: int, payload: Any, *, content_type: str = "application/json", cache: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", f"public, max-age={self.server.max_age}" if cache else "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method, path and status only: the Authorization header is a credential.
        print(f"jwt-issuer {self.command} {self.path.split('?', 1)[0]} -> {code}", flush=True)

    def log_message(self, format: str, *args: object) -> None:
        print("jwt-issuer " + (format % args), flush=True)


class IssuerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        state: IssuerState,
        *,
        bearer_file: Path | None,
        tls: ssl.SSLContext | None,
        max_age: int,
    ) -> None:
        super().__init__(address, IssuerHandler)
        self.state, self.bearer_file, self.tls, self.max_age = state, bearer_file, tls, max_age
        base = urlsplit(state.issuer).path.rstrip("/")
        self.discovery_path = base + DISCOVERY_PATH
        self.jwks_route = base + state.jwks_path

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshakes happen in the request's own thread, so one stalled client can't block accept()."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            print(f"jwt-issuer TLS handshake with {client_address[0]} failed: {exc}", flush=True)
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True, help="the iss of the tokens and of the discovery document")
    parser.add_argument("--jwks-path", default=DEFAULT_JWKS_PATH)
    parser.add_argument("--require-bearer-file", type=Path, help="discovery and JWKS need this file's token")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--max-age", type=int, default=3600, help="Cache-Control max-age of the two documents")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if not args.jwks_path.startswith("/"):
        parser.error("--jwks-path must start with /")
    tls = None
    if args.tls_cert is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    state = IssuerState(args.issuer, args.jwks_path)
    server = IssuerServer(
        (args.host, args.port), state, bearer_file=args.require_bearer_file, tls=tls, max_age=args.max_age
    )
    scheme = "https" if tls else "http"
    kids = ", ".join(f"{key.alg} {key.kid}" for key in state.keys)
    print(f"jwt-issuer listening on {scheme}://{args.host}:{args.port} as {args.issuer}; keys {kids}", flush=True)
    server.serve_forever()


# --- the client side, for tests ------------------------------------------------------------------


class JwtIssuer:
    """One issuer process, and what a test does with it.

    `url` is the issuer (the iss of its tokens, what the gatekeeper is configured with);
    `local_url` is where it listens, the same unless a test named another issuer URL, e.g.
    "https://kubernetes.default.svc.cluster.local" with a gatekeeper told to reach it here.
    """

    def __init__(
        self,
        group: ProcessGroup,
        root: Path,
        *,
        tls: tuple[Path, Path] | None = None,
        ca: Path | None = None,
        require_bearer: str | None = None,
        issuer: str | None = None,
        jwks_path: str = DEFAULT_JWKS_PATH,
        max_age: int = 3600,
        name: str = "jwt-issuer",
    ) -> None:
        from harness.processes import free_port  # here, so the file also runs as a script

        self.group, self.root, self.tls, self.name = group, root, tls, name
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.local_url = f"{scheme}://127.0.0.1:{self.port}"
        self.url = (issuer or self.local_url).rstrip("/")
        self.jwks_path, self.max_age = jwks_path, max_age
        self.require_bearer = require_bearer
        self.bearer_file: Path | None = root / "discovery-bearer-token" if require_bearer is not None else None
        trusted = ca if ca is not None else tls[0] if tls is not None else None
        self.verify: str | bool = str(trusted) if trusted is not None else True
        self._http = requests.Session()
        self._uids: dict[tuple[str, str, str], str] = {}

    @classmethod
    def start(cls, group: ProcessGroup, *, root: Path, **options: Any) -> JwtIssuer:
        """A running issuer; `options` are the constructor's (`tls` is (certificate, key); `ca` is
        what verifies that certificate, by default the certificate itself)."""
        issuer_process = cls(group, root, **options)
        issuer_process.run()
        return issuer_process

    @property
    def path_prefix(self) -> str:
        return urlsplit(self.url).path.rstrip("/")

    @property
    def discovery_url(self) -> str:
        """Where the discovery document is reachable from here (under `url` when that is local)."""
        return self.local_url + self.path_prefix + DISCOVERY_PATH

    @property
    def jwks_url(self) -> str:
        return self.local_url + self.path_prefix + self.jwks_path

    def argv(self) -> list[str]:
        argv = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port), "--issuer", self.url]
        argv += ["--jwks-path", self.jwks_path, "--max-age", str(self.max_age)]
        if self.bearer_file is not None:
            argv += ["--require-bearer-file", str(self.bearer_file)]
        if self.tls is not None:
            argv += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        return argv

    def run(self) -> ManagedProcess:
        """Starts (or starts again, on the same port and with the same settings, but new keys) the process."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.bearer_file is not None and self.require_bearer is not None:
            self.bearer_file.write_text(self.require_bearer + "\n")
            self.bearer_file.chmod(0o600)
        return self.group.start(self.name, self.argv(), cwd=self.root, ready=self._ready, ready_what="/stats")

    def stop(self) -> None:
        self.group.stop(self.name)

    def _request(self, method: str, url: str, *, timeout: float = 10, **kwargs: Any) -> requests.Response:
        """`verify` on every call: requests lets REQUESTS_CA_BUNDLE override a Session's own."""
        return self._http.request(method, url, verify=self.verify, timeout=timeout, **kwargs)

    def _ready(self) -> bool:
        return self._request("GET", self.local_url + "/stats", timeout=1).status_code == 200

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._request("POST", self.local_url + path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{self.name} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def mint(
        self,
        claims: dict[str, Any],
        alg: str = "RS256",
        kid: str | None = None,
        header: dict[str, Any] | None = None,
    ) -> str:
        """`claims` signed verbatim; `kid` picks a key (a dropped one too), `header` adds or replaces fields."""
        body: dict[str, Any] = {"alg": alg, "claims": claims, "header": header or {}}
        if kid is not None:
            body["kid"] = kid
        return self._post("/mint", body)["token"]

    def rotate(self, alg: str = "RS256", drop_old: bool = False) -> str:
        """A new current key of `alg`; older keys stay published unless `drop_old`. Returns its kid."""
        return self._post("/rotate", {"alg": alg, "drop_old": drop_old})["kid"]

    def down(self, down: bool = True) -> None:
        """While down, discovery and JWKS answer 503: cached keys must carry the gatekeeper."""
        self._post("/down", {"down": down})

    def stats(self) -> dict[str, int]:
        """Requests answered: "discovery"/"jwks" with 200, "unauthorized" with 401, "unavailable" with 503."""
        response = self._request("GET", self.local_url + "/stats")
        response.raise_for_status()
        return response.json()

    def get(self, url: str, bearer: str | None = None) -> requests.Response:
        """A GET as a relying party makes it, with the bearer token configured unless another is given."""
        token = bearer if bearer is not None else self.require_bearer
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self._request("GET", url, headers=headers)

    def discovery(self) -> dict[str, Any]:
        response = self.get(self.discovery_url)
        response.raise_for_status()
        return response.json()

    def jwks(self) -> dict[str, Any]:
        response = self.get(self.jwks_url)
        response.raise_for_status()
        return response.json()

    def object_uid(self, kind: str, namespace: str, name: str) -> str:
        """One uid per object for as long as this client lives, as a cluster keeps an object's uid."""
        return self._uids.setdefault((kind, namespace, name), str(uuid.uuid4()))

    def service_account_token(
        self,
        namespace: str,
        name: str,
        audiences: list[str],
        *,
        lifetime: int = 3600,
        alg: str = "RS256",
        pod: str | None = None,
        node: str | None = None,
        kid: str | None = None,
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A token shaped as `kubectl create token <name> -n <namespace> --audience=<aud>...` returns it.

        Claims, per `Claims()` in kubernetes/kubernetes pkg/serviceaccount/claims.go (sub, aud,
        iat, nbf = iat, exp = iat + lifetime; private claims under "kubernetes.io": namespace,
        serviceaccount {name, uid}, and pod {name, uid} for a pod-bound token) plus what
        KEP-4193 (kubernetes/enhancements keps/sig-auth/4193-bound-service-account-token-improvements)
        added: "jti", a random UUID on every token (ServiceAccountTokenJTI, on by default since
        1.30, GA 1.32), and "node" {name, uid} beside "pod" (ServiceAccountTokenPodNodeInfo); iss
        is the first --service-account-issuer. The whole payload, with these exact keys, is the
        example in kubernetes/website content/en/docs/tasks/configure-pod-container/
        configure-service-account.md ("ServiceAccount token volume projection"). Left out:
        "warnafter", which only the kubelet's extended-expiry projected tokens carry. The header
        is {alg, kid}, no typ.

        `overrides` replace top-level claims (exp, nbf, iat, iss, aud, sub, jti, "kubernetes.io"
        by dict unpacking); a value of None removes the claim. That is how tests make tokens that
        are expired, early, from another issuer or for another audience.
        """
        now = int(time.time())
        k8s: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": self.object_uid("serviceaccount", namespace, name)},
        }
        if node is not None and pod is None:
            raise ValueError("the API server names a node only for a pod-bound token")
        if node is not None:
            k8s["node"] = {"name": node, "uid": self.object_uid("node", "", node)}
        if pod is not None:
            k8s["pod"] = {"name": pod, "uid": self.object_uid("pod", namespace, pod)}
        claims: dict[str, Any] = {
            "aud": list(audiences),
            "exp": now + lifetime,
            "iat": now,
            "iss": self.url,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        for claim, value in overrides.items():
            if value is None:
                claims.pop(claim, None)
            else:
                claims[claim] = value
        return self.mint(claims, alg=alg, kid=kid, header=header)


if __name__ == "__main__":
    main()
