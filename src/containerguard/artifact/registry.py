"""``registry:HOST/REPO[:TAG|@DIGEST]``: the OCI Distribution API v2 over httpx.

* Auth: anonymous first; on a 401 the ``WWW-Authenticate`` challenge decides: Basic (credentials from
  the flags or ``~/.docker/config.json`` ``auths``), or Bearer (a token fetched from the challenge's
  realm with those credentials, scoped to ``repository:REPO:pull``).
* ``insecure=True`` talks plain HTTP to the registry (and lets a plain-HTTP token realm get credentials).
* Every manifest and blob is verified against its digest while it streams: a manifest asked for by digest
  against that digest, one asked for by tag against the registry's ``Docker-Content-Digest``; blobs
  against the manifest's descriptor (and, uncompressed, against the config's diff_id).
* Redirect policy: redirects within the same origin (scheme, host, port) are followed (at most 5).
  A redirect to another origin is refused, except for blob downloads, which may be redirected to an
  **https** URL on another host (what registries do with object storage and CDNs); the Authorization
  header is never sent there, and the blob is still digest-verified. A redirect from https to http is
  refused. Manifest and token requests are never redirected to another origin.
* Egress: every connection (the registry, a token realm, a redirect target) passes :mod:`containerguard.egress`:
  a registry's answer cannot send the client to the cloud metadata address or another link-local one.
* TLS: certificates are verified (``SSL_CERT_FILE`` names extra CAs to trust); proxy variables are ignored.
* Timeouts: ``CONTAINERGUARD_REGISTRY_TIMEOUT`` seconds (default 30) to connect and between reads;
  a registry that stops answering gives RegistryError, never a hang.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode, urljoin, urlsplit

from containerguard import egress
from containerguard.artifact.image import BlobImage, build_meta, layers_from_manifest
from containerguard.artifact.manifest import (
    ACCEPT,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    Index,
    Manifest,
    parse_config,
    parse_manifest,
    select_platform,
)
from containerguard.artifact.stream import CHUNK, ReaderBase, as_io, parse_digest, verify_bytes
from containerguard.errors import ArtifactError, DigestMismatchError, RegistryError, UsageError
from containerguard.model import ImageRef, Layer
from containerguard.tls import client_verify

DOCKER_HUB = "registry-1.docker.io"
DEFAULT_TIMEOUT = 30.0
MAX_REDIRECTS = 5
MAX_PAGES = 10_000  # of a catalog or tag list (10 million names at 1,000 a page)
_CHALLENGE_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_REPO_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
#: a registry host as the reference grammar has it (domain components or a bracketed IPv6, then a port)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")


def valid_repository(name: str) -> bool:
    """Whether ``name`` is a repository name of the distribution spec (what may go into a request path)."""
    return len(name) <= 255 and bool(_REPO_RE.fullmatch(name))


def valid_tag(tag: str) -> bool:
    """Whether ``tag`` is a tag of the distribution spec (``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``)."""
    return bool(_TAG_RE.fullmatch(tag))


def split_reference(text: str) -> tuple[str, str, str]:
    """``HOST/REPO[:TAG|@DIGEST]`` -> (host, repo, tag-or-digest), Docker's defaults for bare names."""
    name, reference = text, "latest"
    digest = ""
    if "@" in name:
        name, digest = name.split("@", 1)
        try:
            parse_digest(digest)
        except DigestMismatchError:
            raise ArtifactError(f"invalid digest in image reference {text!r}") from None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # NAME:TAG, or NAME:TAG@DIGEST where the digest decides
        name, reference = name[:colon], name[colon + 1:]
        if not _TAG_RE.match(reference):
            raise ArtifactError(f"invalid tag in image reference {text!r}")
    reference = digest or reference
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, rest
    else:
        host, repo = DOCKER_HUB, name
        if "/" not in repo:
            repo = f"library/{repo}"
    if host in ("docker.io", "index.docker.io"):
        host = DOCKER_HUB
    if not _HOST_RE.match(host):
        raise ArtifactError(f"invalid registry host {host[:100]!r} in image reference {text[:200]!r}")
    if not repo or not _REPO_RE.match(repo):
        raise ArtifactError(f"invalid repository name in image reference {text!r}")
    return host, repo, reference


def docker_config_credentials(host: str, warn: Callable[[str], None] | None = None) -> tuple[str, str] | None:
    """Credentials for ``host`` from ``$DOCKER_CONFIG/config.json`` (default ~/.docker): its credential
    helper (``credHelpers`` / ``credsStore``, run as ``docker-credential-NAME get``), else ``auths``. A
    config that is not valid JSON, or a helper that is missing or fails, is reported through ``warn``."""
    cfg_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    path = cfg_dir / "config.json"
    say = warn or (lambda _m: None)
    try:
        cfg = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        say(f"{path}: not a valid Docker config ({str(exc)[:80]}); no credentials taken from it")
        return None
    if not isinstance(cfg, dict):
        say(f"{path}: not a valid Docker config (not an object); no credentials taken from it")
        return None
    raw_helpers = cfg.get("credHelpers")
    helpers: dict[str, Any] = raw_helpers if isinstance(raw_helpers, dict) else {}
    helper = helpers.get(host) or cfg.get("credsStore")
    if isinstance(helper, str) and helper:
        creds = _credential_helper(helper, host, path, say)
        if creds is not None:
            return creds
    auths = cfg.get("auths")
    if not isinstance(auths, dict):
        return None
    keys = [host, f"https://{host}", f"http://{host}"]
    if host == DOCKER_HUB:
        keys += ["https://index.docker.io/v1/", "index.docker.io", "docker.io"]
    for k in keys:
        entry = auths.get(k)
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            return user, pw
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return entry["username"], entry["password"]
    return None


def _credential_helper(name: str, host: str, path: Path, say: Callable[[str], None]) -> tuple[str, str] | None:
    """``docker-credential-NAME get`` with ``host`` on stdin, as the Docker CLI runs it."""
    import shutil
    import subprocess

    exe = shutil.which(f"docker-credential-{name}")
    if exe is None:
        say(f"{path}: credential helper docker-credential-{name} (for {host}) is not on PATH; "
            "trying without its credentials")
        return None
    try:
        out = subprocess.run([exe, "get"], input=host, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        say(f"{path}: credential helper docker-credential-{name} failed: {str(exc)[:80]}")
        return None
    if out.returncode != 0:
        return None  # no credentials stored for this host: anonymous access
    try:
        doc = json.loads(out.stdout)
        return str(doc["Username"]), str(doc["Secret"])
    except (ValueError, KeyError, TypeError):
        say(f"{path}: credential helper docker-credential-{name} answered something that is not credentials")
        return None


def _looks_like_plain_http(exc: BaseException) -> bool:
    """A TLS handshake answered by a plain-HTTP server (OpenSSL: "wrong version number", "record layer
    failure", "http request")."""
    text = " ".join(str(e) for e in (exc, exc.__cause__, exc.__context__) if e is not None).lower()
    return any(s in text for s in ("wrong version number", "record layer failure", "http_request", "http request",
                                   "unknown protocol", "packet length too long"))


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE_RE.finditer(rest)}
    return scheme.lower(), params


def _origin(url: str) -> tuple[str, str, int | None]:
    u = urlsplit(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    return u.scheme, (u.hostname or "").lower(), port


class HttpBody(ReaderBase):
    def __init__(self, resp: Any, what: str, timeout_error: type[BaseException], http_error: type[BaseException]) -> None:
        self._resp = resp
        self._it: Iterator[bytes] = resp.iter_raw(CHUNK)
        self._buf = b""
        self._what = what
        self._timeout = timeout_error
        self._err = http_error

    def _read(self, n: int) -> bytes:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return b""
            except self._timeout:
                raise RegistryError(f"{self._what}: the registry stopped sending data (timed out)") from None
            except self._err as exc:
                raise RegistryError(f"{self._what}: download failed: {str(exc)[:160]}") from None
        if len(self._buf) <= n:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._resp.close()
        super().close()


class RegistryClient:
    def __init__(self, host: str, repo: str, *, insecure: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float | None = None, blob_redirects: str = "https") -> None:
        import httpx

        self._httpx = httpx
        self.host = host
        self.repo = repo
        self.insecure = insecure
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.warnings: list[str] = []
        if username is None and password is None:
            creds = docker_config_credentials(host, self.warnings.append)
            if creds:
                username, password = creds
        self._creds = (username, password or "") if username else None
        if timeout is None:
            try:
                timeout = float(os.environ.get("CONTAINERGUARD_REGISTRY_TIMEOUT", DEFAULT_TIMEOUT))
            except ValueError:
                timeout = DEFAULT_TIMEOUT
        self.timeout = timeout
        self._blob_redirects = blob_redirects
        self._auth: str | None = None
        try:  # SSL_CERT_FILE: the usual way to trust a private CA; proxies from the environment are not used
            verify = client_verify()
        except UsageError as exc:
            raise RegistryError(str(exc)) from None
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
                                  transport=egress.http_transport(verify=verify),
                                  headers={"User-Agent": "containerguard"})

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------ HTTP with auth and redirect policy
    def _send(self, url: str, headers: dict[str, str], kind: str) -> Any:
        httpx = self._httpx
        origin = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                req = self._http.build_request("GET", url, headers=headers)
                resp = self._http.send(req, stream=True)
            except httpx.TimeoutException:
                raise RegistryError(f"{self.host}: timed out after {self.timeout:g}s ({kind} request)") from None
            except httpx.HTTPError as exc:
                hint = ""
                if not self.insecure and _looks_like_plain_http(exc):
                    hint = "; the registry seems to speak plain HTTP: if you trust the network, use --insecure"
                raise RegistryError(f"{self.host}: {kind} request failed: {str(exc)[:160]}{hint}") from None
            if resp.status_code not in (301, 302, 303, 307, 308):
                return resp
            loc = resp.headers.get("location", "")
            resp.close()
            new = urljoin(url, loc)
            new_origin = _origin(new)
            if new_origin == origin:
                url = new
                continue
            if new_origin[0] not in ("http", "https"):
                raise RegistryError(f"{self.host}: refused redirect to a {new_origin[0]!r} URL")
            if new_origin[0] == "http" and origin[0] == "https":
                raise RegistryError(f"{self.host}: refused {kind} redirect from https to plain http")
            if new_origin[1] == origin[1] and new_origin[0] == "https":  # same host, upgraded to https
                url, origin = new, new_origin
                continue
            if kind == "blob" and self._blob_redirects == "https" and new_origin[0] == "https":
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                url, origin = new, new_origin
                continue
            raise RegistryError(f"{self.host}: refused {kind} redirect to another host "
                                f"({new_origin[0]}://{new_origin[1]}:{new_origin[2]})")
        raise RegistryError(f"{self.host}: too many redirects")

    def _get(self, path: str, kind: str, accept: str | None = None) -> Any:
        url = f"{self.base}{path}"
        for attempt in range(2):
            headers: dict[str, str] = {}
            if accept:
                headers["Accept"] = accept
            if self._auth:
                headers["Authorization"] = self._auth
            resp = self._send(url, headers, kind)
            if resp.status_code == 401 and attempt == 0:
                challenge = resp.headers.get("www-authenticate", "")
                resp.close()
                self._authenticate(challenge)
                continue
            if resp.status_code in (401, 403):
                resp.close()
                raise RegistryError(f"{self.host}/{self.repo}: access denied ({resp.status_code}); "
                                    "check --username/--password or docker login")
            return resp
        raise RegistryError(f"{self.host}: authentication failed")  # pragma: no cover

    def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if not self._creds:
                raise RegistryError(f"{self.host}: authentication required (use --username/--password "
                                    "or docker login)")
            self._auth = "Basic " + base64.b64encode(f"{self._creds[0]}:{self._creds[1]}".encode()).decode()
            return
        if scheme != "bearer":
            raise RegistryError(f"{self.host}: unsupported authentication scheme {scheme[:30]!r}")
        realm = params.get("realm", "")
        r_origin = _origin(realm)
        if r_origin[0] not in ("http", "https") or not r_origin[1]:
            raise RegistryError(f"{self.host}: invalid bearer realm {realm[:100]!r}")
        query = {"service": params.get("service", ""), "scope": params.get("scope") or f"repository:{self.repo}:pull"}
        url = realm + ("&" if "?" in realm else "?") + urlencode({k: v for k, v in query.items() if v})
        headers = {}
        if self._creds:
            if r_origin[0] != "https" and not self.insecure:
                raise RegistryError(f"{self.host}: refusing to send credentials to plain-HTTP token realm {realm[:100]}")
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{self._creds[0]}:{self._creds[1]}".encode()).decode()
        resp = self._send(url, headers, "token")
        try:
            if resp.status_code in (401, 403):
                raise RegistryError(f"{self.host}: the token service refused the credentials ({resp.status_code})")
            if resp.status_code != 200:
                raise RegistryError(f"{self.host}: token service answered {resp.status_code}")
            body = self._read_capped(resp, 1 << 20, "token response")
        finally:
            resp.close()
        try:
            obj = json.loads(body)
            token = obj.get("token") or obj.get("access_token")
        except (ValueError, AttributeError, RecursionError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: the token service returned no token")
        self._auth = f"Bearer {token}"

    def _read_capped(self, resp: Any, cap: int, what: str) -> bytes:
        body = HttpBody(resp, f"{self.host}: {what}", self._httpx.TimeoutException, self._httpx.HTTPError)
        parts: list[bytes] = []
        total = 0
        while True:
            b = body.read(CHUNK)
            if not b:
                return b"".join(parts)
            total += len(b)
            if total > cap:
                raise RegistryError(f"{self.host}: {what} larger than {cap} bytes")
            parts.append(b)

    # ------------------------------------------------------------ API

    def _pages(self, path: str, key: str, what: str, page_size: int) -> Iterator[str]:
        """The strings under ``key`` across every page of a paginated list (``?n=`` and the ``Link: <...>;
        rel="next"`` header of the distribution API, which carries ``last=``). A next link must stay on this
        registry's API path; a page that does not advance ends the walk with an error, never a loop."""
        url: str | None = f"{path}?n={page_size}"
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if url is None:
                return
            seen.add(url)
            resp = self._get(url, what)
            try:
                if resp.status_code != 200:
                    raise RegistryError(f"{self.host}: {what} request answered {resp.status_code}")
                body = self._read_capped(resp, MAX_MANIFEST_BYTES, what)
                link = resp.headers.get("link", "")
            finally:
                resp.close()
            try:
                doc = json.loads(body)
            except ValueError as exc:
                raise RegistryError(f"{self.host}: {what} is not JSON") from exc
            items = doc.get(key) if isinstance(doc, dict) else None
            yield from (i for i in items or [] if isinstance(i, str))
            url = _next_link(link, path)
            if url is not None and url in seen:
                raise RegistryError(f"{self.host}: {what} pagination repeats a page ({url[:120]})")
        raise RegistryError(f"{self.host}: {what} has more than {MAX_PAGES} pages")

    def catalog(self, page_size: int = 1000) -> list[str]:
        """Every repository the registry lists (``/v2/_catalog``, page by page)."""
        return list(self._pages("/v2/_catalog", "repositories", "catalog", page_size))

    def tags(self, page_size: int = 1000) -> list[str]:
        """Every tag of this repository (``/v2/REPO/tags/list``, page by page)."""
        return list(self._pages(f"/v2/{self.repo}/tags/list", "tags", "tag list", page_size))

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest; verified against the digest asked for or announced."""
        resp = self._get(f"/v2/{self.repo}/manifests/{reference}", "manifest", ACCEPT)
        try:
            if resp.status_code == 404:
                raise RegistryError(f"{self.host}/{self.repo}:{reference}: manifest unknown")
            if resp.status_code != 200:
                raise RegistryError(f"{self.host}/{self.repo}: manifest request answered {resp.status_code}")
            body = self._read_capped(resp, MAX_MANIFEST_BYTES, "manifest")
            media_type = resp.headers.get("content-type", "").split(";")[0].strip()
            announced = resp.headers.get("docker-content-digest", "")
        finally:
            resp.close()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha"):
            verify_bytes(body, reference, f"manifest {reference[:19]}")
            digest = reference
        elif announced:
            try:
                verify_bytes(body, announced, "manifest")
            except DigestMismatchError as exc:
                raise DigestMismatchError(f"{self.host}/{self.repo}:{reference}: {exc}") from None
        return body, media_type, digest

    def blob(self, digest: str, what: str) -> IO[bytes]:
        parse_digest(digest)
        resp = self._get(f"/v2/{self.repo}/blobs/{digest}", "blob")
        if resp.status_code != 200:
            resp.close()
            if resp.status_code == 404:
                raise RegistryError(f"{self.host}/{self.repo}: blob {digest} unknown")
            raise RegistryError(f"{self.host}/{self.repo}: blob request answered {resp.status_code}")
        return as_io(HttpBody(resp, f"{self.host}: {what}", self._httpx.TimeoutException, self._httpx.HTTPError))

    def read_blob(self, digest: str, cap: int, what: str) -> bytes:
        parse_digest(digest)
        resp = self._get(f"/v2/{self.repo}/blobs/{digest}", "blob")
        try:
            if resp.status_code != 200:
                raise RegistryError(f"{self.host}/{self.repo}: {what} blob answered {resp.status_code}")
            data = self._read_capped(resp, cap, what)
        finally:
            resp.close()
        verify_bytes(data, digest, what)
        return data


_LINK_RE = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


def _next_link(header: str, path: str) -> str | None:
    """The path and query of a ``Link: <URL>; rel="next"`` header, if it points at ``path`` on this registry
    (a relative URL, or an absolute one whose path is ``path``: the host part is ignored, never followed)."""
    m = _LINK_RE.search(header)
    if m is None:
        return None
    parts = urlsplit(m.group(1))
    if parts.path != path or not parts.query:
        raise RegistryError(f"pagination link {m.group(1)[:120]!r} leaves {path}")
    return f"{parts.path}?{parts.query}"


def open_registry(ref: ImageRef, *, platform: str = "linux/amd64", insecure: bool = False,
                  username: str | None = None, password: str | None = None,
                  timeout: float | None = None) -> BlobImage:
    host, repo, reference = split_reference(ref.ref)
    client = RegistryClient(host, repo, insecure=insecure, username=username, password=password, timeout=timeout)
    try:
        body, media_type, digest = client.manifest(reference)
        node: Manifest | Index = parse_manifest(body, media_type, what=f"{host}/{repo} manifest")
        depth = 0
        while isinstance(node, Index):
            depth += 1
            if depth > 3:
                raise ArtifactError(f"{host}/{repo}: indexes nested too deeply")
            desc = select_platform(node, platform, f"{host}/{repo}")
            body, media_type, digest = client.manifest(desc.digest)
            node = parse_manifest(body, media_type or desc.media_type, what=f"{host}/{repo} manifest")
        cfg = client.read_blob(node.config.digest, MAX_CONFIG_BYTES, "config")
        config = parse_config(cfg, f"{host}/{repo} config", node.config.media_type)
        layers = layers_from_manifest(node, config, f"{host}/{repo}")
        meta = build_meta(config, node.config.digest, (f"{host}/{repo}:{reference}",) if ":" not in reference else (),
                          (f"{host}/{repo}@{digest}",))
    except BaseException:
        client.close()
        raise

    def opener(layer: Layer) -> IO[bytes]:
        return client.blob(layer.digest, f"layer {layer.index}")

    img = BlobImage(ref, meta, layers, opener, client.close, config_bytes=cfg)
    img.warnings = tuple(client.warnings)
    return img
