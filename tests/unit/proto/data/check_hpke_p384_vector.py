#!/usr/bin/env python3
"""Recompute our DHKEM(P-384, HKDF-SHA384), HKDF-SHA384, AES-256-GCM vector
(docs/protocol.md, "HPKE"; test_hpke__p384_suite_vector) independently,
from RFC 9180 and the Python `cryptography` package.

    python3 tests/unit/proto/data/check_hpke_p384_vector.py
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

N384 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973
H = hashlib.sha384


def extract(salt, ikm):
    return hmac.new(salt or b"\0" * 48, ikm, H).digest()


def expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), H).digest()
        out += t
        i += 1
    return out[:n]


def lx(sid, salt, label, ikm):
    return extract(salt, b"HPKE-v1" + sid + label + ikm)


def le(sid, prk, label, info, n):
    return expand(prk, struct.pack(">H", n) + b"HPKE-v1" + sid + label + info, n)


KEM = b"KEM" + struct.pack(">H", 0x11)
SUITE = b"HPKE" + struct.pack(">HHH", 0x11, 2, 2)


def derive_key_pair(ikm):  # RFC 9180 §7.1.3
    prk = lx(KEM, b"", b"dkp_prk", ikm)
    for counter in range(256):
        sk = int.from_bytes(le(KEM, prk, b"candidate", bytes([counter]), 48), "big")
        if 0 < sk < N384:
            return ec.derive_private_key(sk, ec.SECP384R1())
    raise ValueError("DeriveKeyPairError")


def pub(k):
    return k.public_key().public_bytes(serialization.Encoding.X962,
                                       serialization.PublicFormat.UncompressedPoint)


def main():
    skr, ske = derive_key_pair(b"\x52" * 48), derive_key_pair(b"\x45" * 48)
    enc, pkr = pub(ske), pub(skr)
    dh = ske.exchange(ec.ECDH(), skr.public_key())
    ss = le(KEM, lx(KEM, b"", b"eae_prk", dh), b"shared_secret", enc + pkr, 48)
    ksc = b"\0" + lx(SUITE, b"", b"psk_id_hash", b"") + lx(SUITE, b"", b"info_hash",
                                                         b"Ode on a Grecian Urn")
    secret = lx(SUITE, ss, b"secret", b"")
    key, nonce = le(SUITE, secret, b"key", ksc, 32), le(SUITE, secret, b"base_nonce", ksc, 12)
    ct = AESGCM(key).encrypt(nonce, b"Beauty is truth, truth beauty", b"Count-0")
    assert enc.hex() == ("04a290ee659033c50033dc705468dc8f656aab1360d4edeb3b4e87c0b7f5a87d"
                         "c01114ac4d02099e0811b553a0e87d2902dc0d0ff4cb470b9373e44895759959"
                         "72645177452960741adc43424cb1aa8adac34ab8b486cc510a801da834d9301496")
    assert ct.hex() == ("30e9606d3f663f94efaca571fd93f88e7ef494108b840704020595ba35e2fc70"
                        "6422524097e94d82abe8578d8c")
    print("p384 hpke vector ok")


if __name__ == "__main__":
    main()
