"""The seccomp profile names the architectures of the machine it is made on (its syscall names are that
machine's), as Docker's default profile does; a machine it does not know gets the runtime's native-only reading."""

from __future__ import annotations

import platform

import pytest

from containerguard.runtime.baseline.seccomp import seccomp_profile


@pytest.mark.parametrize(("machine", "first", "also"), [
    ("x86_64", "SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}),
    ("aarch64", "SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}),
    ("s390x", "SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}),
    ("ppc64le", "SCMP_ARCH_PPC64LE", set()),
])
def test_a_profile_names_its_machines_architectures(machine: str, first: str, also: set[str]) -> None:
    doc = seccomp_profile({"read", "write"}, machine=machine)
    assert doc["architectures"][0] == first
    assert set(doc["architectures"][1:]) == also


def test_an_unknown_machine_gets_an_empty_list_the_runtime_reads_as_native() -> None:
    assert seccomp_profile({"read"}, machine="vax")["architectures"] == []


def test_by_default_the_profile_is_this_hosts() -> None:
    host = seccomp_profile({"read"})["architectures"]
    assert host == seccomp_profile({"read"}, machine=platform.machine())["architectures"]
    if platform.machine() == "x86_64":
        assert host[0] == "SCMP_ARCH_X86_64"
