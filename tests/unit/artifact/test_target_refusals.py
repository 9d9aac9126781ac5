"""Targets that are no image reference are refused by name before any daemon, DNS or registry lookup:
a mistyped or foreign scheme (``sbom:`` given to ``sbom``, ``docker-archve:``), a bare path, and a
reference whose registry host is not a host name (``./dir`` once reached the network as host ``.``)."""

from __future__ import annotations

import pytest

from containerguard.artifact import parse_target
from containerguard.artifact.registry import split_reference
from containerguard.errors import ArtifactError, UsageError
from containerguard.model import ImageRef


@pytest.mark.parametrize("target", ["sbom:/tmp/x.json", "docker-archve:/srv/img.tar", "oci-dir:./layout",
                                    "ociarchive:~/img.tar", "Dir:./src"])
def test_unknown_scheme_before_a_path(target: str) -> None:
    with pytest.raises(UsageError, match="unknown scheme") as exc:
        parse_target(target)
    assert "\n" not in str(exc.value)


def test_sbom_scheme_names_the_command_that_reads_it() -> None:
    with pytest.raises(UsageError, match="containerguard scan"):
        parse_target("sbom:/tmp/x.json")


@pytest.mark.parametrize("target", ["/srv/img.tar", "./rootfs", "../x", "~/images/a.tar"])
def test_bare_path_asks_for_its_kind(target: str) -> None:
    with pytest.raises(UsageError, match="is a path, not an image name"):
        parse_target(target)


@pytest.mark.parametrize("target", ["nginx", "nginx:1.25", "localhost:5000/x", "reg.example.com:443/a/b:v1",
                                    "[::1]:5000/a", "ghcr.io/o/r@sha256:" + "a" * 64])
def test_image_references_still_parse(target: str) -> None:
    assert parse_target(target) == ImageRef("auto", target)


@pytest.mark.parametrize("ref", [".hidden/x", "a..b/c", "host_x.io/a", "reg.io:99999999/a", "-x.io/a",
                                 "x-.io/a", "h.io:/a", "[zz]:5000/a"])
def test_registry_host_must_be_a_host_name(ref: str) -> None:
    with pytest.raises(ArtifactError, match="invalid registry host"):
        split_reference(ref)


def test_valid_hosts() -> None:
    assert split_reference("[::1]:5000/a:t") == ("[::1]:5000", "a", "t")
    assert split_reference("my-reg.example.com:443/a/b")[0] == "my-reg.example.com:443"
    assert split_reference("localhost/x")[0] == "localhost"


@pytest.mark.parametrize("name", ["a/../../containers/x", "../../etc", "x/..%2f..", "a b", "Upper:1", "x?y=1",
                                  "x#frag"])
def test_daemon_names_that_would_leave_the_images_endpoint(name: str) -> None:
    """``docker:NAME`` goes into the daemon API's URL path: ``a/../../containers/x`` once reached
    ``/containers/x/json``. Anything that is neither an image ID nor a reference is refused first."""
    from containerguard.artifact.daemon import check_name, inspect

    with pytest.raises(ArtifactError, match="invalid"):
        check_name(name)
    assert inspect(name) is None  # a bare name then goes to the registry path, which names the error


@pytest.mark.parametrize("name", ["alpine", "cg-test/pyhttp:1", "localhost:5000/a/b:t", "0123456789ab",
                                  "sha256:" + "c" * 64, "alpine@sha256:" + "d" * 64,
                                  "nginx:1.25@sha256:" + "e" * 64])
def test_daemon_names_accepted(name: str) -> None:
    from containerguard.artifact.daemon import check_name

    check_name(name)


def test_tag_and_digest_the_digest_decides() -> None:
    assert split_reference("nginx:1.25@sha256:" + "e" * 64) == ("registry-1.docker.io", "library/nginx",
                                                                "sha256:" + "e" * 64)
    with pytest.raises(ArtifactError, match="invalid tag"):
        split_reference("nginx:bad tag@sha256:" + "e" * 64)
