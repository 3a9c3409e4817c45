#!/usr/bin/env python3
"""A small OpenID Connect provider for the SSO integration tests.

It serves, over HTTPS on 127.0.0.1 (an ephemeral port):
  /.well-known/openid-configuration   discovery
  /jwks                                the signing keys (RSA 2048 "k1", EC P-256 "e1")
  /authorize                           approves at once and redirects with a code
  /token                               checks client authentication and PKCE, issues an ID token
  /control (POST JSON)                 what the next sign-ins get: the user, and a fault to inject

Keys, the certificate and signatures come from the `openssl` command, so the
test needs nothing beyond the Python standard library. Usage:
  oidc_idp.py DIR CLIENT_ID CLIENT_SECRET
writes DIR/ca.pem (the certificate to trust) and prints "port N" once listening.
"""
import base64
import hashlib
import http.server
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

DIR, CLIENT_ID, CLIENT_SECRET = sys.argv[1], sys.argv[2], sys.argv[3]


def run(*args, data=None):
    return subprocess.run(args, input=data, check=True, capture_output=True).stdout


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def setup_keys():
    p = lambda n: os.path.join(DIR, n)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", p("tls.key"), "-out", p("ca.pem"), "-days", "2",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    for name in ("k1", "evil"):
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", p(name + ".pem"))
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", p("e1.pem"))
    mod = run("openssl", "rsa", "-in", p("k1.pem"), "-noout", "-modulus").decode()
    n = bytes.fromhex(mod.strip().split("=", 1)[1])
    # The EC public point: the last 65 bytes of the DER SubjectPublicKeyInfo.
    der = run("openssl", "pkey", "-in", p("e1.pem"), "-pubout", "-outform", "DER")
    pt = der[-65:]
    assert pt[0] == 4
    return [
        {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": b64u(n), "e": "AQAB"},
        {"kty": "EC", "kid": "e1", "use": "sig", "alg": "ES256", "crv": "P-256",
         "x": b64u(pt[1:33]), "y": b64u(pt[33:65])},
    ]


def der_to_raw(sig):
    """An ECDSA DER signature to r || s (RFC 7518 section 3.4)."""
    assert sig[0] == 0x30
    i = 2 if sig[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert sig[i] == 2
        ln = sig[i + 1]
        v = sig[i + 2:i + 2 + ln]
        out += v.lstrip(b"\0").rjust(32, b"\0")
        i += 2 + ln
    return out


def sign(key, data):
    sig = run("openssl", "dgst", "-sha256", "-sign", os.path.join(DIR, key + ".pem"), data=data)
    return der_to_raw(sig) if key == "e1" else sig


JWKS = setup_keys()
lock = threading.Lock()
control = {"email": "alice@example.com", "preferred_username": "alice", "fault": "",
           "alg": "RS256", "email_verified": True}
codes = {}
ISSUER = ""


def id_token(entry):
    now = int(time.time())
    fault = entry["fault"]
    alg = entry["alg"]
    header = {"alg": alg, "typ": "JWT", "kid": "k1" if alg == "RS256" else "e1"}
    claims = {
        "iss": ISSUER, "sub": "sub-" + entry["email"], "aud": CLIENT_ID,
        "exp": now + 300, "iat": now, "nonce": entry["nonce"],
        "email": entry["email"], "email_verified": entry["email_verified"],
        "preferred_username": entry["preferred_username"],
        "given_name": "Alice", "family_name": "Liddell",
    }
    if fault == "wrong_aud":
        claims["aud"] = "some-other-client"
    elif fault == "expired":
        claims["exp"], claims["iat"] = now - 3600, now - 7200
    elif fault == "bad_nonce":
        claims["nonce"] = "not-" + entry["nonce"]
    elif fault == "wrong_iss":
        claims["iss"] = ISSUER + "/elsewhere"
    elif fault == "alg_none":
        header = {"alg": "none", "typ": "JWT"}
    signing_input = (b64u(json.dumps(header).encode()) + "." +
                     b64u(json.dumps(claims).encode())).encode()
    if fault == "alg_none":
        return signing_input.decode() + "."
    key = "evil" if fault == "bad_sig" else ("k1" if alg == "RS256" else "e1")
    return signing_input.decode() + "." + b64u(sign(key, signing_input))


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/.well-known/openid-configuration":
            self.send_json(200, {
                "issuer": ISSUER,
                "authorization_endpoint": ISSUER + "/authorize",
                "token_endpoint": ISSUER + "/token",
                "jwks_uri": ISSUER + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "code_challenge_methods_supported": ["S256"],
            })
        elif u.path == "/jwks":
            self.send_json(200, {"keys": JWKS})
        elif u.path == "/authorize":
            ok = (q.get("response_type") == "code" and q.get("client_id") == CLIENT_ID and
                  q.get("code_challenge_method") == "S256" and q.get("code_challenge") and
                  q.get("nonce") and q.get("state") and "openid" in q.get("scope", "").split())
            if not ok:
                self.send_json(400, {"error": "invalid_request", "query": q})
                return
            with lock:
                entry = dict(control)
            state = q["state"]
            if entry["fault"] == "deny":
                loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                    {"error": "access_denied", "error_description": "the user said no",
                     "state": state})
            else:
                code = secrets.token_urlsafe(24)
                entry.update(nonce=q["nonce"], challenge=q["code_challenge"],
                             redirect_uri=q["redirect_uri"], login_hint=q.get("login_hint", ""))
                with lock:
                    codes[code] = entry
                if entry["fault"] == "wrong_state":
                    # Another first character: "X" alone would leave a
                    # state that already starts with "X" (1 in 64) intact.
                    state = ("Y" if state[0] == "X" else "X") + state[1:]
                loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                    {"code": code, "state": state})
            self.send_response(302)
            self.send_header("Location", loc)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_json(404, {"error": "not_found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n).decode()
        if self.path == "/control":
            with lock:
                control.update(json.loads(raw))
                seen = {"codes_left": len(codes)}
            self.send_json(200, seen)
            return
        if self.path != "/token":
            self.send_json(404, {"error": "not_found"})
            return
        form = dict(urllib.parse.parse_qsl(raw))
        auth = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(
            (urllib.parse.quote(CLIENT_ID, safe="") + ":" +
             urllib.parse.quote(CLIENT_SECRET, safe="")).encode()).decode()
        if auth != want:
            self.send_json(401, {"error": "invalid_client"})
            return
        with lock:
            entry = codes.pop(form.get("code", ""), None)
        if (not entry or form.get("grant_type") != "authorization_code" or
                form.get("redirect_uri") != entry["redirect_uri"]):
            sys.stderr.write("idp: token refused: %r %r\n" % (form, entry))
            self.send_json(400, {"error": "invalid_grant"})
            return
        verifier = form.get("code_verifier", "")
        if b64u(hashlib.sha256(verifier.encode()).digest()) != entry["challenge"]:
            self.send_json(400, {"error": "invalid_grant", "error_description": "PKCE"})
            return
        self.send_json(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                             "expires_in": 300, "id_token": id_token(entry)},
                       headers=[("Cache-Control", "no-store")])


def main():
    global ISSUER
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(DIR, "ca.pem"), os.path.join(DIR, "tls.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    ISSUER = "https://127.0.0.1:%d" % srv.server_address[1]
    print("port %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
