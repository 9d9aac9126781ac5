"""`containerguard admission`: the Kubernetes validating admission webhook (serve) and its manifests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from containerguard.cli._enforce import FromServerOpt, RefreshOpt, ServerOpt, SpoolOpt, TokenOpt
from containerguard.errors import UsageError

if TYPE_CHECKING:
    from containerguard.policy.admission import Mode

admission_app = typer.Typer(help="Kubernetes validating admission webhook (deploy-stage policies).",
                            no_args_is_help=True)

PolicyOpt = Annotated[list[Path] | None, typer.Option(
    "--policy", "-p", help="Policy file or directory (repeatable), on top of the default set.")]
ModeOpt = Annotated[str, typer.Option("--mode", help="enforce (deny), warn (never deny: warnings) or dry-run "
                                                     "(allow; decisions only logged).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option("--exclude-namespace", help="Namespace (glob) never "
                                                      "evaluated (repeatable).")]


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - a webhook listens for the API server


def _mode(text: str) -> Mode:
    from containerguard.policy.admission import Mode

    try:
        return Mode(text)
    except ValueError:
        raise UsageError(f"--mode {text!r}: expected enforce, warn or dry-run") from None


@admission_app.command("serve")
def serve(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve HTTPS on.")],
    tls_cert: Annotated[Path, typer.Option("--tls-cert", help="PEM serving certificate (chain).")],
    tls_key: Annotated[Path, typer.Option("--tls-key", help="PEM private key.")],
    policy: PolicyOpt = None,
    no_defaults: Annotated[bool, typer.Option("--no-defaults", help="Leave the default policy set out.")] = False,
    mode: ModeOpt = "enforce",
    exclude_namespace: ExcludeOpt = None,
    fail_open: Annotated[bool, typer.Option("--fail-open/--fail-closed", help="When a request cannot be "
                                            "evaluated at all: allow it (with a warning) or deny it.")] = False,
    server: ServerOpt = None,
    token: TokenOpt = None,
    spool_dir: SpoolOpt = None,
    policy_from_server: FromServerOpt = False,
    policy_refresh: RefreshOpt = 60.0,
) -> None:
    """Serve AdmissionReview v1 at POST /validate over HTTPS (GET /healthz for probes)."""
    import logging

    import uvicorn

    from containerguard.cli import _enforce
    from containerguard.cli.policy import live
    from containerguard.policy.admission import AdmissionConfig, create_app

    host, port = _listen(listen)
    for f in (tls_cert, tls_key):
        if not f.is_file():
            raise UsageError(f"{f}: no such file")
    config = AdmissionConfig(mode=_mode(mode), exclude_namespaces=tuple(exclude_namespace or ()),
                             fail_open=fail_open)
    policies = live(policy, no_defaults)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    server, tok = _enforce.server_and_token(server, token)
    fetcher = _enforce.server_policies(server, tok, policies, "admission", policy_refresh) if policy_from_server else None
    rep = _enforce.reporter(server, tok, spool_dir, "admission", policies)
    ps = policies.current
    print(f"containerguard admission webhook on https://{host}:{port}/validate ({config.mode}, "
          f"{len(ps.policies)} policies{', reporting to ' + str(server) if rep else ''})", file=sys.stderr, flush=True)
    try:
        def status() -> dict[str, object]:
            return {**({"reporting": rep.status()} if rep else {}),
                    **({"server_policies": fetcher.status()} if fetcher else {})}

        uvicorn.run(create_app(policies, config, rep.record if rep else None, status), host=host, port=port,
                    ssl_certfile=str(tls_cert), ssl_keyfile=str(tls_key), log_level="warning", access_log=False)
    except OSError as exc:
        raise UsageError(f"cannot serve on {listen}: {exc.strerror or exc}") from None
    finally:
        if fetcher is not None:
            fetcher.close()
        if rep is not None:
            rep.close()


@admission_app.command("manifest")
def manifest(
    ca_bundle: Annotated[Path, typer.Option("--ca-bundle", help="PEM of the CA that signed the serving "
                                            "certificate (the certificate itself when self-signed).")],
    namespace: Annotated[str, typer.Option("--namespace")] = "containerguard",
    image: Annotated[str, typer.Option("--image", help="The containerguard image to run.")] = "containerguard:latest",
    mode: ModeOpt = "enforce",
    exclude_namespace: ExcludeOpt = None,
    failure_policy: Annotated[str, typer.Option("--failure-policy", help="Fail (closed) or Ignore (open) when "
                                                "the webhook is unreachable.")] = "Fail",
    tls_secret: Annotated[str, typer.Option("--tls-secret", help="Secret (type tls) holding tls.crt/tls.key.")] = "containerguard-admission-tls",  # noqa: S107
    policy_configmap: Annotated[str, typer.Option("--policy-configmap", help="ConfigMap of policy files to "
                                                  "mount and load.")] = "",
    server: Annotated[str, typer.Option("--server", help="Central server URL the webhook reports its decisions "
                                        "to (its token from --token-secret).")] = "",
    token_secret: Annotated[str, typer.Option("--token-secret", help="Secret holding the enforcer token under "
                                              "the key 'token'.")] = "containerguard-enforcer-token",  # noqa: S107
    policy_from_server: Annotated[bool, typer.Option("--policy-from-server", help="Enforce the server's policy "
                                                     "set (with --server).")] = False,
) -> None:
    """Print the Deployment, Service and ValidatingWebhookConfiguration (YAML) for `kubectl apply -f -`."""
    import yaml

    from containerguard.policy.admission import manifests

    if failure_policy not in ("Fail", "Ignore"):
        raise UsageError("--failure-policy: expected Fail or Ignore")
    if server and not server.startswith(("http://", "https://")):
        raise UsageError(f"--server {server!r}: expected http(s)://HOST:PORT")
    if policy_from_server and not server:
        raise UsageError("--policy-from-server needs --server URL")
    try:
        pem = ca_bundle.read_bytes()
    except OSError as exc:
        raise UsageError(f"{ca_bundle}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise UsageError(f"{ca_bundle}: not a PEM certificate")
    docs = manifests(ca_bundle=pem, namespace=namespace, image=image, mode=_mode(mode),
                     failure_policy=failure_policy,
                     exclude_namespaces=tuple(exclude_namespace) if exclude_namespace is not None else ("kube-system",),
                     tls_secret=tls_secret, policy_configmap=policy_configmap, server=server,
                     token_secret=token_secret, policy_from_server=policy_from_server)
    typer.echo(yaml.safe_dump_all(docs, sort_keys=False).rstrip())


def register(app: typer.Typer) -> None:
    app.add_typer(admission_app, name="admission")
