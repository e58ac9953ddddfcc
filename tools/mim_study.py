#!/usr/bin/env python
"""Run a masked-image-modelling data-scaling study: data size x model size x target x sampling.

    python tools/mim_study.py SPEC [--work-dir DIR] [--dry-run] [--cells NAME ...] [--mpirun "mpirun -np 8"]
    python tools/mim_study.py configs/mim_study/laptop.py          # here, under 30 minutes on an idle machine
    python tools/mim_study.py configs/mim_study/paper.py --dry-run  # what the paper-scale study would run

SPEC is a Python file with a ``study`` dict (see jvision/mim/study.py and configs/mim_study/). Each cell
draws its subset (tools/mim_subset.py's builder; shared by the cells that need it), pre-trains MAE
with tools/train.py, then probes and/or fine-tunes, each in its own process (under --mpirun when
given); results go to DIR/cells/<cell>/ (configs, logs, work dirs, result.json). A finished cell is
never run again: rerun the same command after an interruption and the study continues where it
stopped. DIR/results.csv and DIR/results.md are rewritten after every cell; DIR/plots/*.png at the
end (matplotlib, optional: pip install matplotlib). Default DIR: work_dirs/mim_study_<spec name>.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="study spec (Python file with a `study` dict)")
    p.add_argument("--work-dir", help="output folder (default work_dirs/mim_study_<spec name>)")
    p.add_argument("--dry-run", action="store_true", help="list the cells and the commands, run nothing")
    p.add_argument("--cells", nargs="+", metavar="NAME", help="run only these cells")
    p.add_argument("--mpirun", help='launch every training run under this prefix, e.g. "mpirun -np 8"')
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override spec values, e.g. study.pretrain.iters=100")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from jvision.mim.study import load_spec, plan_cells, run_study

    spec = load_spec(args.spec, args.cfg_options)
    if args.mpirun:
        spec["mpirun"] = args.mpirun
    work_dir = Path(args.work_dir or Path("work_dirs") / f"mim_study_{spec['name']}")
    cells = plan_cells(spec)
    if args.dry_run:
        print(f"study {spec['name']!r}: {len(cells)} cells -> {work_dir}")
        prefix = (spec.get("mpirun") + " ") if spec.get("mpirun") else ""
        for cell in cells:
            steps = (["subset", f"pretrain {spec['pretrain']['iters']} it"] if cell["data"] else []) + \
                [f"{task} {entry['iters']} it" for task, entry in spec["downstream"].items()]
            print(f"  {cell.name:<40s} {' -> '.join(steps)}")
        print(f"each training run: {prefix}python tools/train.py <cell config> --work-dir <cell>/<step>")
        print(f"base configs: pretrain {spec['pretrain']['config']}; "
              + "; ".join(f"{t} {e['config']}" for t, e in spec["downstream"].items()))
        return 0
    start = time.time()
    run_study(spec, work_dir, only=args.cells)
    print(f"study {spec['name']!r} finished in {time.time() - start:.0f}s; {work_dir.resolve()}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyError, FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
