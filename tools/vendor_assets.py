"""Vendor the Leaflet JS/CSS/images that onemap's web maps need, so the maps work with no internet.

Each package in ``PACKAGES`` is fetched with ``npm pack NAME@VERSION`` (only the npm registry is needed),
its tarball is checked against the pinned npm integrity hash, and only the listed files (plus every file a
listed CSS file refers to with ``url(...)``, plus the package's licence file) are copied to
``maps/vendor/<package>/``. ``maps/vendor/MANIFEST.json`` records package, version, licence, source path,
vendored path, size and sha256 of every copied file. The app serves the folder at ``/static/vendor/``.

Before anything in ``maps/vendor`` is replaced, the new tree is built in a staging folder and verified:

* every relative ``url(...)`` in every vendored CSS file resolves to a vendored file;
* no vendored JS/CSS holds an ``http(s)://`` (or protocol-relative) URL outside comments, unless the
  URL is listed in ``ALLOWED_URLS`` with the reason it is never fetched.

Usage::

    python tools/vendor_assets.py            # (re)vendor; idempotent: a rerun gives identical files
    python tools/vendor_assets.py --check    # offline: verify the vendored files against MANIFEST.json

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Package:
    """One pinned npm package and the files to take from it."""

    name: str
    version: str
    integrity: str  # npm's "dist.integrity" of the tarball (sha512, base64)
    root: str  # folder inside the package whose layout is kept under maps/vendor/<name>/ ("" = package root)
    files: tuple[str, ...]  # glob patterns relative to ``root``; ``*`` does not cross "/"
    licence_fallback: str | None = None  # used only when package.json declares no licence


# The pinned table. To upgrade: change version, run the script, copy the integrity it reports, rerun.
PACKAGES: tuple[Package, ...] = (
    Package(
        name="leaflet",
        version="1.9.4",
        integrity="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
        root="dist",
        files=("leaflet.js", "leaflet.css", "images/*"),
    ),
    Package(
        name="leaflet.markercluster",
        version="1.5.3",
        integrity="sha512-vPTw/Bndq7eQHjLBVlWpnGeLa3t+3zGiuM7fJwCkiMFq+nmRuG3RI3f7f4N4TDX7T4NpbAXpR2+NTRSEGfCSeA==",
        root="dist",
        files=("leaflet.markercluster.js", "MarkerCluster.css", "MarkerCluster.Default.css"),
    ),
    Package(
        name="leaflet.heat",
        version="0.2.0",
        integrity="sha512-Cd5PbAA/rX3X3XKxfDoUGi9qp78FyhWYurFg3nsfhntcM/MCNK08pRkf4iEenO1KNqwVPKCmkyktjW3UD+h9bQ==",
        root="dist",
        files=("leaflet-heat.js",),
        # package.json has no "license" field; its LICENSE file is the BSD 2-clause text.
        licence_fallback="BSD-2-Clause",
    ),
    Package(
        name="leaflet.fullscreen",
        version="3.0.2",
        integrity="sha512-m27waFVmwdrLGXjZw2L8b7w/W28EY+u7IGzK2x8K99XaPuzKbjI+/H1j0OMawLcRPZyDRh+39XpyLsvDwHUEoA==",
        root="",
        files=("Control.FullScreen.js", "Control.FullScreen.css"),  # 3.0.2 ships no .min.js
    ),
    Package(
        name="leaflet-measure",
        version="3.1.0",
        integrity="sha512-ln5c9UNaWDEd24tIzDt9hwnpb8OaCPBfSWNBg2H8rb9SA3cbXW9+NqohA6/8TdsNDGJZr36woXMrqRq07Pcl3w==",
        root="dist",
        files=("leaflet-measure.js", "leaflet-measure.cn.js", "leaflet-measure.css"),
    ),
    Package(
        name="leaflet-groupedlayercontrol",
        version="0.6.1",
        integrity="sha512-xkGeH6ygcryFQI0FUWn6Bz93zlwrOSpeXgJQ3jLRoUQJ5h/Qgrz+GqR9nhBFfikjUKtC1sCKL3eDR9wNTWhLlA==",
        root="dist",
        files=("leaflet.groupedlayercontrol.min.js", "leaflet.groupedlayercontrol.min.css"),
    ),
    Package(
        # Draws the service's vector tiles on a canvas per tile (large layers on the served map pages); its one
        # browser file bundles @mapbox/vector-tile, pbf, point-geometry, pmtiles, rbush, quickselect, potpack,
        # color2k and @protomaps/basemaps (BSD-3-Clause, ISC and MIT; see maps/vendor/README.md).
        name="protomaps-leaflet",
        version="5.1.0",
        integrity="sha512-N0YY1Gbw5nZ9n8VUOvwHKm/w3zhTTuaZEeMZl8doHemeM4ujGPp2otI6t4Sgqrz8iM4svx2rpG1Q17rHkOWSaA==",
        root="dist",
        files=("protomaps-leaflet.js",),
    ),
)

# URLs that appear in vendored code (not comments) but are never fetched, with the reason.
ALLOWED_URLS: dict[str, str] = {
    "http://www.w3.org/2000/svg": "SVG XML namespace identifier (leaflet.js, protomaps-leaflet.js), not a request",
    "https://leafletjs.com": "href of the 'Leaflet' attribution link (leaflet.js); followed only if clicked",
    "http://example.com": "base for parsing a relative tile URL (protomaps-leaflet.js `new URL(url, base)`), not a "
    "request",
    "https://protomaps.com": "href of the default attribution link (protomaps-leaflet.js), which onemap replaces; "
    "followed only if clicked",
    "https://openstreetmap.org/copyright": "href of the default attribution link (protomaps-leaflet.js), which onemap "
    "replaces; followed only if clicked",
}

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = REPO_ROOT / "maps" / "vendor"
MANIFEST_NAME = "MANIFEST.json"
HAND_WRITTEN = {MANIFEST_NAME, "README.md"}  # files in VENDOR_DIR that are not vendored files

LICENCE_FILE_RE = re.compile(r"^(?:[\w-]*[-_.])?(?:LICEN[CS]E|COPYING)(?:[-_.][\w.-]*)?$", re.IGNORECASE)
CSS_URL_RE = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE)
EXTERNAL_URL_RE = re.compile(
    r"""https?://[^\s"'`()<>\\]+|(?<=["'`])//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+[^\s"'`()<>\\]*"""
)
SOURCE_MAP_RE = re.compile(r"[#@]\s*sourceMappingURL=(\S+)")


class VendorError(Exception):
    """A problem that must stop vendoring (or fail --check)."""


# --- small helpers -------------------------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def glob_match(path: str, pattern: str) -> bool:
    """Match a posix ``path`` against ``pattern`` part by part, so ``*`` never crosses a '/'."""
    path_parts, pattern_parts = path.split("/"), pattern.split("/")
    return len(path_parts) == len(pattern_parts) and all(
        fnmatch.fnmatchcase(p, q) for p, q in zip(path_parts, pattern_parts, strict=True)
    )


def css_local_refs(css_text: str) -> list[str]:
    """Return the ``url(...)`` targets of a CSS text that name local files (no data:, #fragment or URL)."""
    refs = []
    for match in CSS_URL_RE.finditer(css_text):
        target = match.group(2).strip()
        if not target or target.startswith(("data:", "#")):  # "#default#VML" is an old-IE behaviour, not a file
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//", target, re.IGNORECASE):
            continue  # absolute URL: reported by the external-URL scan
        refs.append(target.split("#", 1)[0].split("?", 1)[0])
    return refs


def resolve_ref(css_path: str, ref: str) -> str:
    """Resolve a CSS-relative reference to a posix path relative to the same base as ``css_path``."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(css_path), ref))


def comment_spans(text: str, is_js: bool) -> list[tuple[int, int]]:
    """Return rough (start, end) spans of comments: ``/* ... */`` always, ``// ...`` to end of line in JS.

    A heuristic (it does not parse strings or regex literals); anything it misses shows up as a code URL,
    which fails loudly and gets a human look, so erring that way is safe.
    """
    spans = [(m.start(), m.end()) for m in re.finditer(r"/\*.*?(?:\*/|\Z)", text, re.DOTALL)]
    if is_js:
        spans += [(m.start(1), m.end()) for m in re.finditer(r"(?:^|[\s;{}])(//[^\n]*)", text)]
    return spans


def scan_external_urls(rel_path: str, text: str) -> list[dict]:
    """Find absolute URLs in a JS/CSS text and say whether each sits in a comment, is allowed, or is code."""
    spans = comment_spans(text, is_js=rel_path.endswith(".js"))
    findings = []
    for match in EXTERNAL_URL_RE.finditer(text):
        url = match.group(0).rstrip(".,;")
        if any(start <= match.start() < end for start, end in spans):
            kind = "comment"
        elif url in ALLOWED_URLS:
            kind = "allowed"
        else:
            kind = "code"
        line = text.count("\n", 0, match.start()) + 1
        findings.append({"file": rel_path, "line": line, "url": url, "kind": kind})
    return findings


# --- fetching and selecting ----------------------------------------------------------------------------------


def npm_pack(package: Package, workdir: Path) -> Path:
    """Download the package tarball with ``npm pack`` into ``workdir`` and check its integrity hash."""
    spec = f"{package.name}@{package.version}"
    try:
        result = subprocess.run(
            ["npm", "pack", spec, "--json", "--ignore-scripts", "--pack-destination", str(workdir)],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=True,
        )
    except FileNotFoundError as exc:
        raise VendorError("npm not found on PATH (needed to fetch packages; --check does not need it)") from exc
    except subprocess.CalledProcessError as exc:
        raise VendorError(f"npm pack {spec} failed:\n{exc.stderr.strip()}") from exc
    tarball = workdir / json.loads(result.stdout)[0]["filename"]
    actual = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if actual != package.integrity:
        raise VendorError(f"{spec}: tarball integrity {actual} does not match the pinned {package.integrity}")
    return tarball


def read_tarball(tarball: Path) -> dict[str, bytes]:
    """Return {path inside the package: content} for every regular file, without the top folder ("package/")."""
    contents = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = member.name.removeprefix("./").split("/", 1)
            if len(parts) == 2 and ".." not in parts[1].split("/"):
                contents[parts[1]] = tar.extractfile(member).read()
    return contents


def declared_licence(package: Package, contents: dict[str, bytes]) -> tuple[str, str]:
    """Return (licence, where it came from): package.json's, or the pinned fallback when it declares none."""
    meta = json.loads(contents["package.json"])
    if meta.get("version") != package.version or meta.get("name") != package.name:
        raise VendorError(f"{package.name}: tarball's package.json says {meta.get('name')}@{meta.get('version')}")
    licence = meta.get("license")
    if isinstance(licence, dict):
        licence = licence.get("type")
    if not licence and meta.get("licenses"):
        licence = " OR ".join(entry.get("type", "?") for entry in meta["licenses"])
    if not licence:
        if package.licence_fallback is None:
            raise VendorError(f"{package.name}: package.json declares no licence and the table gives no fallback")
        return package.licence_fallback, "LICENSE file text (package.json declares none)"
    return licence, "package.json"


def licence_files(package: Package, contents: dict[str, bytes]) -> list[str]:
    """Return the package's top-level licence file name(s), e.g. LICENSE, LICENSE.txt, MIT-LICENCE.txt."""
    names = sorted(path for path in contents if "/" not in path and LICENCE_FILE_RE.match(path))
    if not names:
        raise VendorError(f"{package.name}@{package.version}: no LICENSE/LICENCE/COPYING file at the package top")
    return names


def select_files(package: Package, contents: dict[str, bytes]) -> dict[str, str]:
    """Return {path inside the package: path under maps/vendor} for the listed files and what their CSS needs."""
    prefix = f"{package.root}/" if package.root else ""
    under_root = {path[len(prefix) :]: path for path in contents if path.startswith(prefix)}
    chosen: dict[str, str] = {}
    for pattern in package.files:
        matches = [rel for rel in under_root if glob_match(rel, pattern)]
        if not matches:
            raise VendorError(f"{package.name}@{package.version}: nothing matches {prefix}{pattern}")
        chosen.update({under_root[rel]: f"{package.name}/{rel}" for rel in matches})
    for css in [source for source in chosen if source.endswith(".css")]:
        for ref in css_local_refs(contents[css].decode("utf-8")):
            target = resolve_ref(css[len(prefix) :], ref)
            if target not in under_root:
                raise VendorError(f"{package.name}: {css} refers to {ref!r}, which is not under {prefix or './'}")
            chosen[under_root[target]] = f"{package.name}/{target}"
    for name in licence_files(package, contents):
        chosen[name] = f"{package.name}/{name}"
    return chosen


# --- verification (used by both modes) -----------------------------------------------------------------------


def verify_css_refs(vendor_dir: Path) -> list[str]:
    """Return a problem line for every relative CSS ``url(...)`` under ``vendor_dir`` that names no file."""
    problems = []
    for css in sorted(vendor_dir.rglob("*.css")):
        rel_css = css.relative_to(vendor_dir).as_posix()
        for ref in css_local_refs(css.read_text(encoding="utf-8")):
            target = resolve_ref(rel_css, ref)
            if target.startswith("../") or not (vendor_dir / target).is_file():
                problems.append(f"{rel_css}: url({ref}) does not resolve to a vendored file")
    return problems


def scan_tree(vendor_dir: Path) -> tuple[list[dict], list[str]]:
    """Scan every vendored JS/CSS file; return (URL findings, source-map references)."""
    findings, source_maps = [], []
    for path in sorted(p for p in vendor_dir.rglob("*") if p.suffix in {".js", ".css"}):
        rel = path.relative_to(vendor_dir).as_posix()
        text = path.read_text(encoding="utf-8")
        findings += scan_external_urls(rel, text)
        source_maps += [f"{rel} -> {m.group(1)}" for m in SOURCE_MAP_RE.finditer(text)]
    return findings, source_maps


def verify_tree(vendor_dir: Path, verbose: bool) -> list[str]:
    """Check CSS references and external URLs under ``vendor_dir``; print the URL report; return problems."""
    problems = verify_css_refs(vendor_dir)
    findings, source_maps = scan_tree(vendor_dir)
    for finding in findings:
        if finding["kind"] == "code":
            problems.append(f"{finding['file']}:{finding['line']}: external URL in code: {finding['url']}")
        elif verbose:
            note = "in a comment" if finding["kind"] == "comment" else ALLOWED_URLS[finding["url"]]
            print(f"  url ({finding['kind']}): {finding['file']}:{finding['line']} {finding['url']} — {note}")
    if verbose:
        for ref in source_maps:
            print(f"  source map comment (not vendored; only dev tools would ask for it): {ref}")
    return problems


# --- the two modes -------------------------------------------------------------------------------------------


def stage_package(package: Package, workdir: Path, staging: Path) -> list[dict]:
    """Fetch one package, write its chosen files under ``staging`` and return their manifest entries."""
    contents = read_tarball(npm_pack(package, workdir))
    licence, licence_source = declared_licence(package, contents)
    entries = []
    for source, target in sorted(select_files(package, contents).items(), key=lambda item: item[1]):
        data = contents[source]
        out = staging / target
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        entries.append(
            {
                "package": package.name,
                "version": package.version,
                "licence": licence,
                "licence_source": licence_source,
                "package_path": source,
                "vendor_path": target,
                "size": len(data),
                "sha256": sha256_bytes(data),
            }
        )
    return entries


def manifest_text(entries: list[dict]) -> str:
    """Render the manifest deterministically (no timestamps), so reruns give identical bytes."""
    manifest = {
        "generated_by": "tools/vendor_assets.py (do not edit by hand; rerun the script)",
        "served_at": "/static/vendor/",
        "packages": [
            {"package": p.name, "version": p.version, "integrity": p.integrity, "npm": f"{p.name}@{p.version}"}
            for p in PACKAGES
        ],
        "files": sorted(entries, key=lambda entry: entry["vendor_path"]),
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def install_staging(staging: Path, vendor_dir: Path) -> None:
    """Replace the package folders in ``vendor_dir`` (new and previously vendored ones) with the staged tree."""
    vendor_dir.mkdir(parents=True, exist_ok=True)
    old_dirs = set()
    old_manifest = vendor_dir / MANIFEST_NAME
    if old_manifest.is_file():
        old_dirs = {entry["vendor_path"].split("/", 1)[0] for entry in json.loads(old_manifest.read_text())["files"]}
    for name in sorted(old_dirs | {p.name for p in PACKAGES}):
        shutil.rmtree(vendor_dir / name, ignore_errors=True)
    for item in sorted(staging.iterdir()):
        shutil.move(str(item), str(vendor_dir / item.name))


def vendor(vendor_dir: Path) -> int:
    """Fetch, select, verify and install every pinned package; write the manifest."""
    with tempfile.TemporaryDirectory(prefix="onemap-vendor-") as tmp:
        workdir, staging = Path(tmp, "npm"), Path(tmp, "staging")
        workdir.mkdir()
        staging.mkdir()
        entries = []
        for package in PACKAGES:
            print(f"{package.name}@{package.version}")
            entries += stage_package(package, workdir, staging)
        (staging / MANIFEST_NAME).write_text(manifest_text(entries), encoding="utf-8")
        problems = verify_tree(staging, verbose=True)
        if problems:
            raise VendorError("verification failed, maps/vendor left unchanged:\n  " + "\n  ".join(problems))
        install_staging(staging, vendor_dir)
    total = sum(entry["size"] for entry in entries)
    print(f"vendored {len(entries)} files, {total} bytes, into {vendor_dir}")
    return 0


def check(vendor_dir: Path) -> int:
    """Offline: compare vendored files with MANIFEST.json and the pinned table; exit 1 on any difference."""
    manifest_path = vendor_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        print(f"missing {manifest_path}: run python tools/vendor_assets.py")
        return 1
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems = []
    pinned = {(p.name, p.version) for p in PACKAGES}
    listed = {(p["package"], p["version"]) for p in manifest["packages"]}
    problems += [f"pinned {n}@{v} is not in the manifest (rerun the script)" for n, v in sorted(pinned - listed)]
    problems += [f"manifest has {n}@{v}, which is no longer pinned" for n, v in sorted(listed - pinned)]
    for entry in manifest["files"]:
        path = vendor_dir / entry["vendor_path"]
        if not path.is_file():
            problems.append(f"missing: {entry['vendor_path']}")
        elif (digest := sha256_bytes(path.read_bytes())) != entry["sha256"]:
            problems.append(f"sha256 mismatch: {entry['vendor_path']} ({digest} != {entry['sha256']})")
    known = {entry["vendor_path"] for entry in manifest["files"]} | HAND_WRITTEN
    problems += [
        f"not in the manifest: {rel}"
        for rel in sorted(p.relative_to(vendor_dir).as_posix() for p in vendor_dir.rglob("*") if p.is_file())
        if rel not in known
    ]
    problems += verify_tree(vendor_dir, verbose=False)
    if problems:
        print("vendored assets do NOT match MANIFEST.json:")
        print("\n".join(f"  {problem}" for problem in problems))
        return 1
    print(f"OK: {len(manifest['files'])} vendored files match MANIFEST.json ({len(listed)} packages)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen mode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="verify vendored files against MANIFEST.json (offline)")
    parser.add_argument("--vendor-dir", type=Path, default=VENDOR_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return check(args.vendor_dir) if args.check else vendor(args.vendor_dir)
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
