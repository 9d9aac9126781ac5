"""Generate the secret-detection corpus: real-FORMAT fake secrets and look-alike negatives.

Run ``python tests/data/secrets/generate.py`` to rewrite ``corpus/`` and ``expected.json`` (deterministic:
a fixed seed). Every token has its provider's real shape: prefixes, lengths, alphabets, and checksums
where the format has one (GitHub's CRC32 in base62). None of them is, or was ever, a live credential.
Private keys are not stored here: tests/integration/test_secrets_corpus.py makes them with openssl,
ssh-keygen and gpg at test time (``keys.generate``).

expected.json maps each file (relative to corpus/) to the rule ids that must fire in it; a file with an
empty list is a negative: any finding there is a false positive.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ALNUM = string.ascii_letters + string.digits


def rnd(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def github_token(r: random.Random, prefix: str) -> str:
    body = rnd(r, ALNUM, 30)
    n = zlib.crc32(body.encode())
    digits = ""
    while n:
        n, rem = divmod(n, 62)
        digits = B62[rem] + digits
    return f"{prefix}_{body}{digits.rjust(6, '0')}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(r: random.Random, claims: dict[str, object]) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64url(bytes(r.getrandbits(8) for _ in range(32)))
    return f"{header}.{payload}.{sig}"


def aws_key_id(r: random.Random, prefix: str = "AKIA") -> str:
    return prefix + rnd(r, string.ascii_uppercase + "234567", 16)


def aws_secret(r: random.Random) -> str:
    return rnd(r, ALNUM + "/+", 40)


def positives(r: random.Random) -> dict[str, tuple[str, list[str]]]:
    ak, sk = aws_key_id(r), aws_secret(r)
    files: dict[str, tuple[str, list[str]]] = {}
    files["pos/app/.env"] = (
        f"# production settings\nDEBUG=false\nAWS_ACCESS_KEY_ID={ak}\nAWS_SECRET_ACCESS_KEY={sk}\nAWS_REGION=eu-west-1\n",
        ["aws-access-key-id", "aws-secret-access-key"])
    ak2, sk2 = aws_key_id(r, "ASIA"), aws_secret(r)
    files["pos/root/.aws/credentials"] = (
        f"[default]\naws_access_key_id = {ak2}\naws_secret_access_key = {sk2}\n\n[ci]\nregion = us-east-1\n",
        ["aws-access-key-id", "aws-secret-access-key"])
    files["pos/deploy/terraform.tfvars"] = (f'access_key = "{aws_key_id(r)}"\nregion = "us-east-2"\n',
                                            ["aws-access-key-id"])
    files["pos/app/config/github.yaml"] = (
        f"github:\n  api: https://api.github.com\n  token: {github_token(r, 'ghp')}\n", ["github-token"])
    files["pos/ci/oauth.json"] = (json.dumps({"provider": "github", "access_token": github_token(r, "gho"),
                                              "scope": "repo"}, indent=2) + "\n", ["github-token"])
    files["pos/app/bin/release.sh"] = (
        f"#!/bin/sh\nset -eu\nexport GH_APP_TOKEN={github_token(r, 'ghs')}\ngh release create \"$1\"\n",
        ["github-token"])
    files["pos/etc/refresh.txt"] = (github_token(r, "ghr") + "\n", ["github-token"])
    pat = f"github_pat_{rnd(r, ALNUM, 22)}_{rnd(r, ALNUM, 59)}"
    files["pos/home/dev/.config/gh/hosts.yml"] = (f"github.com:\n    oauth_token: {pat}\n    user: dev\n",
                                                  ["github-fine-grained-pat"])
    files["pos/builds/.gitlab-ci.yml"] = (
        f"variables:\n  GITLAB_TOKEN: glpat-{rnd(r, ALNUM + '_-', 20)}\nbuild:\n  script: make\n", ["gitlab-token"])
    bot = f"xoxb-{rnd(r, string.digits, 12)}-{rnd(r, string.digits, 13)}-{rnd(r, ALNUM, 24)}"
    user = f"xoxp-{rnd(r, string.digits, 11)}-{rnd(r, string.digits, 11)}-{rnd(r, string.digits, 13)}-{rnd(r, '0123456789abcdef', 32)}"
    files["pos/app/slack.py"] = (f'BOT_TOKEN = "{bot}"\nUSER_TOKEN = "{user}"\n', ["slack-token"])
    xapp = f"xapp-1-A{rnd(r, string.ascii_uppercase + string.digits, 10)}-{rnd(r, string.digits, 13)}-{rnd(r, '0123456789abcdef', 64)}"
    files["pos/app/socket-mode.env"] = (f"SLACK_APP_TOKEN={xapp}\nSLACK_SOCKET_MODE=true\n", ["slack-token"])
    hook = (f"https://hooks.slack.com/services/T{rnd(r, string.ascii_uppercase + string.digits, 10)}/"
            f"B{rnd(r, string.ascii_uppercase + string.digits, 10)}/{rnd(r, ALNUM, 24)}")
    files["pos/etc/alertmanager/alertmanager.yml"] = (
        f"receivers:\n- name: ops\n  slack_configs:\n  - api_url: '{hook}'\n    channel: '#ops'\n", ["slack-webhook"])
    files["pos/app/fixtures/session.txt"] = (
        "Authorization: Bearer " + jwt(r, {"sub": "4711", "name": "svc-billing", "iat": 1735689600,
                                           "exp": 1893456000, "scope": "billing:write"}) + "\n", ["jwt"])
    files["pos/app/frontend/config.js"] = (
        f"export const stripeKey = '{'sk_live_' + rnd(r, ALNUM, 99)}';\nexport const currency = 'eur';\n",
        ["stripe-secret-key"])
    files["pos/app/payments.ini"] = (f"[stripe]\nrestricted = rk_live_{rnd(r, ALNUM, 24)}\n", ["stripe-secret-key"])
    files["pos/app/maps.html"] = (
        f'<script src="https://maps.googleapis.com/maps/api/js?key=AIza{rnd(r, ALNUM + "_-", 35)}"></script>\n',
        ["gcp-api-key"])
    acct = base64.b64encode(bytes(r.getrandbits(8) for _ in range(64))).decode()
    files["pos/app/appsettings.json"] = (json.dumps({"ConnectionStrings": {"Blob": (
        f"DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey={acct};EndpointSuffix=core.windows.net")}},
        indent=2) + "\n", ["azure-storage-account-key"])
    azs = rnd(r, ALNUM, 3) + str(r.randrange(10)) + "Q~" + rnd(r, ALNUM + "_~.-", 34)
    files["pos/app/azure.env"] = (f"AZURE_TENANT_ID=72f988bf-86f1-41af-91ab-2d7cd011db47\nAZURE_CLIENT_SECRET={azs}\n",
                                  ["azure-client-secret"])
    files["pos/app/settings.py"] = (
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', 'PASSWORD': '{rnd(r, ALNUM + '!@#%^&*', 20)}'}}}}\n",
        ["generic-secret-assignment"])
    files["pos/etc/app/config.yaml"] = (
        f"server:\n  port: 8080\nauth:\n  client_secret: \"{rnd(r, ALNUM, 32)}\"\n  issuer: https://id.example.org\n",
        ["generic-secret-assignment"])
    files["pos/docker/Dockerfile"] = (
        f"FROM debian:bookworm\nENV API_KEY={rnd(r, ALNUM, 28)}\nCMD [\"/app\"]\n", ["generic-secret-assignment"])
    files["pos/k8s/secret-env.yaml"] = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: web:1\n"
        f"    env:\n    - name: DB_PASSWORD\n      value: \"{rnd(r, ALNUM + '#%', 18)}\"\n", ["generic-secret-assignment"])
    files["pos/app/mixed.env"] = (
        f"GITHUB_TOKEN={github_token(r, 'ghp')}\nSTRIPE_KEY=sk_test_{rnd(r, ALNUM, 24)}\nJWT_SECRET={rnd(r, ALNUM, 40)}\n",
        ["github-token", "stripe-secret-key", "generic-secret-assignment"])
    return files


LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex "
         "ea commodo consequat. Password reset tokens expire after one hour; the secret sauce is consistency.\n")


def negatives(r: random.Random) -> dict[str, tuple[str, list[str]]]:
    files: dict[str, tuple[str, list[str]]] = {}
    files["neg/docs/aws-example.md"] = (
        "# Configure the CLI\n\n```\n$ aws configure\nAWS Access Key ID [None]: AKIAIOSFODNN7EXAMPLE\n"
        "AWS Secret Access Key [None]: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n```\n", [])
    files["neg/docs/github-example.md"] = (
        "Use a token such as `ghp_16C7e42F292c6912E7710c838347Ae178B4a` in the Authorization header.\n", [])
    files["neg/docs/jwt-example.md"] = (
        "Example: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n", [])
    files["neg/docs/stripe-example.md"] = ("curl https://api.stripe.com/v1/charges -u sk_test_4eC39HqLyjWDarjtT1zdp7dc:\n", [])
    files["neg/docs/slack-example.md"] = (
        "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n"
        "token: xoxb-not-a-real-token-this-will-not-work\n", [])
    files["neg/docs/pem-placeholder.md"] = (
        "Paste your key:\n\n    -----BEGIN RSA PRIVATE KEY-----\n    ...\n    -----END RSA PRIVATE KEY-----\n", [])
    files["neg/data/uuids.txt"] = ("".join(
        "{}-{}-4{}-{}{}-{}\n".format(rnd(r, "0123456789abcdef", 8), rnd(r, "0123456789abcdef", 4),
                                     rnd(r, "0123456789abcdef", 3), r.choice("89ab"), rnd(r, "0123456789abcdef", 3),
                                     rnd(r, "0123456789abcdef", 12)) for _ in range(200)), [])
    files["neg/data/SHA256SUMS.txt"] = ("".join(f"{rnd(r, '0123456789abcdef', 64)}  pkg-{i}.tar.gz\n" for i in range(100)), [])
    files["neg/data/commits.log"] = ("".join(f"commit {rnd(r, '0123456789abcdef', 40)}\nAuthor: dev <dev@example.org>\n\n"
                                             for _ in range(50)), [])
    blob = base64.b64encode(bytes(r.getrandbits(8) for _ in range(3000))).decode()
    files["neg/web/logo.json"] = (json.dumps({"name": "logo", "data": "data:image/png;base64," + blob}) + "\n", [])
    files["neg/web/package-lock.json"] = (json.dumps({"name": "web", "lockfileVersion": 3, "packages": {
        f"node_modules/pkg{i}": {"version": f"1.{i}.0", "resolved": f"https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.{i}.0.tgz",
                                 "integrity": "sha512-" + base64.b64encode(bytes(r.getrandbits(8) for _ in range(64))).decode()}
        for i in range(40)}}, indent=2) + "\n", [])
    files["neg/go/go.sum"] = ("".join(
        f"golang.org/x/mod{i} v0.{i}.0 h1:{base64.b64encode(bytes(r.getrandbits(8) for _ in range(32))).decode()}\n"
        for i in range(40)), [])
    files["neg/text/lorem.txt"] = (LOREM * 20, [])
    files["neg/app/settings_env.py"] = (
        "import os\n\nfrom app import get_token, request, settings\n\nPASSWORD = os.environ['DB_PASSWORD']\nSECRET_KEY = os.getenv('SECRET_KEY')\n"
        "token = get_token(request)\napi_key = settings.API_KEY\n", [])
    files["neg/app/compose.yaml"] = (
        "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n"
        "      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n", [])
    files["neg/app/defaults.env"] = ("PASSWORD=changeme\nSECRET=secret\nTOKEN=\nADMIN_PASSWORD=password123\n", [])
    files["neg/app/forms.html"] = ('<input type="password" name="password" autocomplete="current-password">\n'
                                   '<label for="token">Access token</label>\n', [])
    files["neg/app/crypto_test_vectors.txt"] = (
        "key = 000102030405060708090a0b0c0d0e0f\nnonce = 000000000000000000000000\n"
        "password: aaaaaaaaaaaaaaaaaaaaaaaa\n", [])
    files["neg/app/jwt_like.txt"] = ("eyJzb21lIjoidGhpbmcifQ.eyJvdGhlciI6InRoaW5nIn0.c2lnbmF0dXJlLWlzLWhlcmU\n"
                                     "eyJhbGciOiJub25lIn0\n", [])
    files["neg/app/low-entropy-tokens.txt"] = ("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nglpat-xxxxxxxxxxxxxxxxxxxx\n"
                                               "AKIAXXXXXXXXXXXXXXXX\n", [])
    files["neg/app/ids.txt"] = ("order AKIA-2024-00017\nbuild-id: akia7q3lmnopqrs2\nsku ASIA2345\n", [])
    files["neg/k8s/deployment-checksums.yaml"] = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    metadata:\n"
        f"      annotations:\n        checksum/secret: {rnd(r, '0123456789abcdef', 64)}\n"
        f"        checksum/config: {rnd(r, '0123456789abcdef', 64)}\n", [])
    files["neg/etc/ssh/ssh_known_hosts"] = (
        "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n", [])
    return files


def main() -> None:
    r = random.Random(20260101)
    files = {**positives(r), **negatives(r)}
    for rel, (text, _) in files.items():
        p = CORPUS / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    expected = {rel: sorted(ids) for rel, (_, ids) in sorted(files.items())}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
