"""Private keys (and their public halves) made at test time with the real tools: openssl, ssh-keygen, gpg.

``generate(dest)`` writes them under ``dest`` and returns {relative path: expected rule ids}; public keys
and certificates are negatives (no rule may fire). Nothing here is ever committed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path


def _run(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, cwd=cwd, env=env).stdout


def generate(dest: Path) -> dict[str, list[str]]:
    keys = dest / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    exp: dict[str, list[str]] = {}

    def rel(p: Path) -> str:
        return str(p.relative_to(dest))

    rsa = keys / "etc/ssl/private/server.key"
    rsa.parent.mkdir(parents=True, exist_ok=True)
    _run("openssl", "genrsa", "-traditional", "-out", str(rsa), "2048")  # -----BEGIN RSA PRIVATE KEY-----
    exp[rel(rsa)] = ["private-key"]
    ec = keys / "app/certs/ec.pem"
    ec.parent.mkdir(parents=True, exist_ok=True)
    _run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(ec))  # EC PRIVATE KEY
    exp[rel(ec)] = ["private-key"]
    pkcs8 = keys / "app/certs/ed25519.pem"
    _run("openssl", "genpkey", "-algorithm", "ed25519", "-out", str(pkcs8))  # PRIVATE KEY (PKCS#8)
    exp[rel(pkcs8)] = ["private-key"]
    enc = keys / "app/certs/encrypted.pem"
    _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes-256-cbc",
         "-pass", "pass:correct-horse", "-out", str(enc))  # ENCRYPTED PRIVATE KEY
    exp[rel(enc)] = ["private-key"]
    ssh = keys / "root/.ssh/id_ed25519"
    ssh.parent.mkdir(parents=True, exist_ok=True)
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploy@ci", "-f", str(ssh))  # OPENSSH PRIVATE KEY
    exp[rel(ssh)] = ["private-key"]
    exp[rel(ssh.with_suffix(".pub"))] = []

    # public halves and a certificate: negatives
    pub = keys / "app/certs/server.pub.pem"
    _run("openssl", "pkey", "-in", str(rsa), "-pubout", "-out", str(pub))
    exp[rel(pub)] = []
    crt = keys / "app/certs/server.crt"
    _run("openssl", "req", "-x509", "-key", str(rsa), "-subj", "/CN=shop.example.org", "-days", "30", "-out", str(crt))
    exp[rel(crt)] = []

    # a Google Cloud service-account key file: the PKCS#8 key sits in a JSON string with escaped newlines
    pem = pkcs8_rsa = keys / "tmp-sa.pem"
    _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pkcs8_rsa))
    sa = keys / "app/gcp/service-account.json"
    sa.parent.mkdir(parents=True, exist_ok=True)
    sa.write_text(json.dumps({
        "type": "service_account",
        "project_id": "shop-prod-4711",
        "private_key_id": os.urandom(20).hex(),
        "private_key": pem.read_text(),
        "client_email": "deployer@shop-prod-4711.iam.gserviceaccount.com",
        "client_id": "10" + "".join(str(b % 10) for b in os.urandom(19)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }, indent=2) + "\n")
    pem.unlink()
    exp[rel(sa)] = ["gcp-service-account", "private-key"]

    # an armored OpenPGP secret key from gpg
    if shutil.which("gpg"):
        home = dest / "gnupg-home"
        home.mkdir(mode=0o700)
        env = {**os.environ, "GNUPGHOME": str(home)}
        _run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
             "Release Signing <release@example.org>", "ed25519", "sign", "never", env=env)
        armored = _run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--armor",
                       "--export-secret-keys", env=env)
        gpgkey = keys / "root/.gnupg-export/release.asc"
        gpgkey.parent.mkdir(parents=True, exist_ok=True)
        gpgkey.write_text(armored)
        exp[rel(gpgkey)] = ["private-key"]
        public = _run("gpg", "--batch", "--armor", "--export", env=env)
        (keys / "root/.gnupg-export/release.pub.asc").write_text(public)
        exp[rel(keys / "root/.gnupg-export/release.pub.asc")] = []
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    return exp
