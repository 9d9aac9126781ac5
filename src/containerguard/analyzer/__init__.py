"""Analyzers: one module per file format, each turning one file into packages, an OS or warnings.

The built-ins, listed once in :mod:`containerguard.analyzer.plugins` (the lookup table of analyzers;
not to be confused with the OCI registry client, :mod:`containerguard.artifact.registry`):

==================  ======  ==================================================  ===========
type                module  files                                               packages
==================  ======  ==================================================  ===========
os                  os      etc/os-release, usr/lib/os-release, lsb-release,    (OSInfo)
                            *-release, debian_version, SuSE-release, status.d
dpkg                dpkg    var/lib/dpkg/status, var/lib/dpkg/status.d/*        deb
apk                 apk     lib/apk/db/installed                                apk
rpm                 rpm     rpmdb.sqlite, BerkeleyDB Packages, NDB Packages.db rpm
python-pkg          python  *.dist-info/METADATA, *.egg-info[/PKG-INFO], *.egg  pypi
node-pkg            npm     node_modules/[@scope/]name/package.json             npm
gobinary            golang  executables with Go build info                      golang
rustbinary          rust    executables with a cargo-auditable .dep-v0 section  cargo
jar                 java    *.jar/war/ear/par/... (nested too)                  maven
gemspec             ruby    specifications/*.gemspec                            gem
composer-installed  php     vendor/composer/installed.json                      composer
(lockfiles)         lockfiles  source trees only (``lockfiles=True``)           pypi, npm,
                                                                                golang, cargo,
                                                                                composer, gem
==================  ======  ==================================================  ===========

Version conventions: deb versions are the full dpkg string with epoch ("1:2.36-9"); rpm versions are
"VERSION-RELEASE" with ``epoch`` and ``release`` also set; Python names are PEP 503 normalised; Maven
names are "group:artifact"; the Go standard library is the package ``stdlib`` at "vX.Y.Z".
:func:`containerguard.scanner.finalize.finalize` settles the OS (distroless, "unknown") and the
distribution part of deb/apk/rpm purls once all layers are merged.
"""
