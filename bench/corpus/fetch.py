#!/usr/bin/env python3
"""Download the public corpus pinned in bench/corpus/manifest.toml and extract its SQL files.

    python3 bench/corpus/fetch.py [--cache DIR]

Each package is fetched with its registry's own client (`pip download`, `npm pack`,
`apt-get download`), its SHA-256 is checked against the manifest, and the files under its
`include` directories whose names end with one of its `suffixes` are copied to
`DIR/files/<registry>/<name>-<version>/`, each renamed to end in `.sql`. Downloads are kept in
`DIR/downloads`, so a second run fetches nothing. The default DIR is
`~/.cache/migration-safety/corpus`. The last line printed is the directory of the files, for
`MIGRATION_SAFETY_CORPUS` (see tests/corpus.rs):

    export MIGRATION_SAFETY_CORPUS="$(python3 bench/corpus/fetch.py | tail -n 1)"

A pinned version a registry no longer serves, or a file whose digest differs, stops the script
with an error: the corpus is exactly the manifest or nothing.
"""

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

# A wheel is chosen by platform: ask for the manylinux x86-64 CPython one the manifest pins,
# whatever machine runs the script.
PIP_PLATFORM = [
    "--only-binary", ":all:", "--platform", "manylinux_2_28_x86_64",
    "--python-version", "3.12", "--implementation", "cp",
]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(package, downloads):
    """The package's file in `downloads`, fetched with the registry's client when missing."""
    path = os.path.join(downloads, package["file"])
    if os.path.exists(path) and sha256(path) == package["sha256"]:
        return path
    name, version = package["name"], package["version"]
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        registry = package["registry"]
        if registry == "pypi":
            command = ["pip", "download", "--quiet", "--no-deps", *PIP_PLATFORM,
                       "-d", tmp, f"{name}=={version}"]
        elif registry == "npm":
            command = ["npm", "pack", "--silent", f"{name}@{version}"]
        elif registry == "debian":
            command = ["apt-get", "download", "-qq", f"{name}={version}"]
        else:
            sys.exit(f"fetch.py: {name}: unknown registry `{registry}`")
        result = subprocess.run(command, cwd=tmp, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        fetched = os.path.join(tmp, package["file"])
        if result.returncode != 0 or not os.path.exists(fetched):
            hint = " (run `apt-get update` first?)" if registry == "debian" else ""
            sys.exit(f"fetch.py: `{' '.join(command)}` did not give {package['file']}{hint}\n"
                     f"{result.stderr.strip()}")
        actual = sha256(fetched)
        if actual != package["sha256"]:
            sys.exit(f"fetch.py: {package['file']} has SHA-256 {actual}, "
                     f"the manifest pins {package['sha256']}")
        os.replace(fetched, path)
    return path


def members(path, registry):
    """(name, bytes) of every regular file in the package archive."""
    if registry == "pypi":
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, archive.read(info)
    elif registry == "npm":
        with tarfile.open(path) as archive:
            for info in archive:
                if info.isfile():
                    yield info.name, archive.extractfile(info).read()
    else:
        # A .deb keeps its files in data.tar.*; dpkg-deb reads every compression Debian uses.
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", path], check=True,
                              stdout=subprocess.PIPE).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for info in archive:
                if info.isfile():
                    yield info.name.removeprefix("./"), archive.extractfile(info).read()


def extract(package, archive, files):
    """Copy the package's selected files under `files`; return how many."""
    target = os.path.join(files, package["registry"],
                          f"{package['name'].replace('/', '__')}-{package['version']}")
    shutil.rmtree(target, ignore_errors=True)
    count = 0
    for name, data in members(archive, package["registry"]):
        include = next((d for d in package["include"] if name.startswith(d)), None)
        if include is None or not name.endswith(tuple(package["suffixes"])):
            continue
        relative = name[len(include):]
        if not relative.endswith(".sql"):
            relative += ".sql"
        destination = os.path.join(target, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        with open(destination, "wb") as f:
            f.write(data)
        count += 1
    if count == 0:
        sys.exit(f"fetch.py: {package['file']} holds no file under {package['include']}")
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(
        os.path.expanduser("~"), ".cache", "migration-safety", "corpus"))
    parser.add_argument("--manifest", default=os.path.join(HERE, "manifest.toml"))
    args = parser.parse_args()
    with open(args.manifest, "rb") as f:
        packages = tomllib.load(f)["package"]
    downloads = os.path.join(args.cache, "downloads")
    files = os.path.join(args.cache, "files")
    os.makedirs(downloads, exist_ok=True)
    total = 0
    for package in packages:
        archive = download(package, downloads)
        count = extract(package, archive, files)
        total += count
        print(f"{package['registry']:6} {package['name']} {package['version']}: {count} files",
              file=sys.stderr)
    print(f"{total} files from {len(packages)} packages", file=sys.stderr)
    print(os.path.abspath(files))


if __name__ == "__main__":
    main()
