#!/usr/bin/env python3
"""Does the Jittor model give the official PyTorch model's numbers?

    python tools/compare.py FIXTURE_DIR [FIXTURE_DIR ...] [--tol 1e-4] [--json PATH]

FIXTURE_DIR is a folder in the format of ../shared/parity (see its README), or a folder above such
folders (every fixture below it is checked). For a tiny fixture (manifest.json + weights.pth +
io.npz) our model is built from the manifest's official constructor arguments, weights.pth is
loaded through jvision.convert (strictly), io.npz's input (and noise or random bases, where given)
is fed, and every output the manifest lists is compared: max abs error, max relative error and
whether it is within tolerance. For a full-size manifest (no weights) the variant is built and every
key, shape and parameter count is checked; nothing is run.

Exit status: 0 when nothing failed; 1 when any output, key, shape or count differs or a weights
file does not load; 2 when no fixture could be checked at all. Fixtures, parts and outputs that no
registered adapter can check are listed as "not checked" with the reason; --require-all makes them
failures.

Each family registers its parity adapter in its own model file when that file is imported
(jvision.convert.fixtures explains the pattern): importing jvision.models registers jvision's families
(van, conv2former, mae, clip, the segnext backbone, e2fgvi) and jvision.mim the HOG target's, importing a package listed by --plugin registers that
package's (default: jseg, for the segnext decode head, when installed).
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jvision  # noqa: E402,F401  (configures Jittor before it is imported)
import jvision.models  # noqa: E402,F401  (its model files register their families' adapters)
from jvision.convert import fixtures  # noqa: E402

#: Packages outside jvision.models whose import registers more adapters, imported when installed.
DEFAULT_PLUGINS = ("jseg",)


def load_plugins(names) -> list[str]:
    loaded = []
    for name in names:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # the plugin module (or its package) is absent
                continue
            raise
    return loaded


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("fixtures", nargs="+", metavar="FIXTURE_DIR", help="fixture folder(s)")
    parser.add_argument("--tol", type=float, default=1e-4, help="atol = rtol (default 1e-4)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--require-all", action="store_true",
                        help="outputs or parts that cannot be checked count as failures")
    parser.add_argument("--plugin", action="append", default=None, metavar="MODULE",
                        help="import MODULE to register more adapters (repeatable; default: "
                             + ", ".join(DEFAULT_PLUGINS) + ", when installed)")
    parser.add_argument("--no-plugins", action="store_true",
                        help="only the adapters of jvision itself")
    args = parser.parse_args(argv)

    plugins = [] if args.no_plugins else load_plugins(args.plugin if args.plugin is not None
                                                      else DEFAULT_PLUGINS)
    folders = []
    for root in args.fixtures:
        found = fixtures.find_fixture_dirs(root)
        if not found:
            parser.error(f"{root}: no manifest.json in it or below it")
        folders += found

    print(f"comparing {len(folders)} fixture(s); adapters: "
          + ", ".join(f"{f}" + (f".{p}" if p else "") for f, p in fixtures.registered_adapters())
          + (f"; plugins: {', '.join(plugins)}" if plugins else ""))
    print(f"pass rule: |ours - ref| <= tol + tol*|ref| element-wise, tol={args.tol:g}; "
          "max rel = max abs error / max |ref|; ids and masks must be equal")
    reports, started = [], time.time()
    for folder in folders:
        t0 = time.time()
        report = fixtures.check_folder(folder, args.tol)
        reports.append(report)
        print(report.format() + f"  [{time.time() - t0:.1f}s]", flush=True)

    failed = [r for r in reports if r.failed]
    nothing = [r for r in reports if not r.failed and not r.checked_anything]
    partial = [r for r in reports if not r.failed and r.unchecked and r.checked_anything]
    passed = len(reports) - len(failed) - len(nothing) - len(partial)
    print(f"\n{len(reports)} fixture(s) in {time.time() - started:.0f}s: {passed} passed, "
          f"{len(partial)} passed partially (some parts or outputs not checked), "
          f"{len(nothing)} not checked (no adapter), {len(failed)} failed")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"tol": args.tol, "reports": [r.as_dict() for r in reports]}, indent=1))
        print(f"wrote {out}")
    if failed or (args.require_all and (partial or nothing)):
        return 1
    if len(nothing) == len(reports):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
