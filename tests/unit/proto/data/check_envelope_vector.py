#!/usr/bin/env python3
"""Rebuild the published envelope vector of docs/protocol.md ("Test vectors
of the envelope") from its inputs, following the specification text only,
with the Python `cryptography` package: an independent implementation of
the envelope (HPKE base mode, RFC 9180, written here from the RFC).

    python3 tests/unit/proto/data/check_envelope_vector.py docs/protocol.md
"""
import hashlib
import hmac
import re
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def hkdf_extract(salt, ikm):
    return hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def labeled_extract(sid, salt, label, ikm):
    return hkdf_extract(salt, b"HPKE-v1" + sid + label + ikm)


def labeled_expand(sid, prk, label, info, n):
    return hkdf_expand(prk, struct.pack(">H", n) + b"HPKE-v1" + sid + label + info, n)


def hpke_seal(pkr, ske, info, aad, pt):
    """SealBase for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM."""
    kem_sid = b"KEM" + struct.pack(">H", 0x20)
    sid = b"HPKE" + struct.pack(">HHH", 0x20, 1, 2)
    e = X25519PrivateKey.from_private_bytes(ske)
    enc = e.public_key().public_bytes(*RAW)
    dh = e.exchange(X25519PublicKey.from_public_bytes(pkr))
    eae = labeled_extract(kem_sid, b"", b"eae_prk", dh)
    ss = labeled_expand(kem_sid, eae, b"shared_secret", enc + pkr, 32)
    ksc = (b"\0" + labeled_extract(sid, b"", b"psk_id_hash", b"")
           + labeled_extract(sid, b"", b"info_hash", info))
    secret = labeled_extract(sid, ss, b"secret", b"")
    key = labeled_expand(sid, secret, b"key", ksc, 32)
    nonce = labeled_expand(sid, secret, b"base_nonce", ksc, 12)
    return enc, AESGCM(key).encrypt(nonce, pt, aad)


def field(doc, name):
    m = re.search(r"^" + re.escape(name) + r"\s+([0-9a-f]+)", doc, re.M)
    return bytes.fromhex(m.group(1))


def block_after(doc, title):
    i = doc.index(title)
    j = doc.index("```", i) + 3
    k = doc.index("```", j)
    return bytes.fromhex("".join(doc[j:k].split()))


def main():
    doc = open(sys.argv[1]).read()
    user = field(doc, "alice user id")
    id_sk = field(doc, "alice identity sk")
    dev_id = field(doc, "alice device id")
    dev_sk = field(doc, "alice device sk")
    bob_dev = field(doc, "bob device id")
    pre_pk = field(doc, "bob pre-key pk")
    conv = field(doc, "conversation id")
    msg_id = field(doc, "msg_id")
    mk = field(doc, "message key")
    eph = field(doc, "ephemeral sk (wrap 0)")
    pt = b"Hello, Bob! This is Parley envelope vector 1."
    prekey_id, created, flags, expires = 1, 1700000000, 1, 1700086400

    # Device certificate, signed by the identity key.
    ident = Ed25519PrivateKey.from_private_bytes(id_sk)
    dev = Ed25519PrivateKey.from_private_bytes(dev_sk)
    body = (bytes([1, 1]) + user + dev_id + ident.public_key().public_bytes(*RAW)
            + dev.public_key().public_bytes(*RAW) + struct.pack(">Q", created))
    cert = body + ident.sign(b"parley-device-cert-v1" + body)
    assert cert == block_after(doc, "Alice's device certificate"), "certificate differs"

    # Header, content, wrap, Merkle root (one leaf), signature.
    content_len = len(pt) + 16
    hdr = (b"PE" + bytes([1, 1, flags, 0, 0, 0]) + msg_id + dev_id + conv
           + struct.pack(">QIHH", expires, content_len, 1, len(cert)))
    prk = hmac.new(msg_id, mk, hashlib.sha256).digest()
    kn = hkdf_expand(prk, b"parley-envelope-v1 content", 44)
    content = AESGCM(kn[:32]).encrypt(kn[32:], pt, hdr[2:])
    aad = msg_id + dev_id + bob_dev + struct.pack(">I", prekey_id)
    enc, ct = hpke_seal(pre_pk, eph, b"parley-envelope-v1 wrap", aad, mk)
    wrap = bob_dev + struct.pack(">I", prekey_id) + enc + ct
    root = hashlib.sha256(b"\0" + wrap).digest()
    signed = (b"parley-envelope-v1" + hdr[2:] + hashlib.sha256(cert).digest()
              + hashlib.sha256(content).digest() + root)
    env = hdr + cert + content + wrap + dev.sign(signed)
    want = block_after(doc, "Full envelope")
    assert env == want, "envelope differs"
    delivery = b"PD" + env[2:len(hdr) + len(cert) + len(content)] + b"\0\0" + wrap + env[-64:]
    assert delivery == block_after(doc, "Bob's delivery"), "delivery differs"
    print("envelope vector ok: %d bytes, sha256 %s" % (len(env), hashlib.sha256(env).hexdigest()))


if __name__ == "__main__":
    main()
