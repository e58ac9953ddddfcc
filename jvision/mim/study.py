"""The data-scaling study runner: a grid of data size x model size x target x sampling strategy.

Reproduces the design of "Delving Deeper into Data Scaling in Masked Image Modeling" (Lu et al.,
arXiv:2305.15248): MAE pre-training on subsets of a web collection of several sizes, for several
model sizes and reconstruction targets, then downstream evaluation. A spec file (Python, a top-level
``study`` dict; see ``configs/mim_study/laptop.py`` and ``paper.py``) names:

* ``source``: the shard collection (pattern / folder / index.json) or ``dict(builtin=dict(...))``;
* ``grids``: lists of axis values, ``dict(data=[...], model=[...], target=[...], sampling=[...])``;
  the cells are the union of their products. ``data=0`` means no pre-training (the downstream runs
  start from random initialisation: the baseline MIM is measured against);
* ``models``: name -> ``dict(mae=<MaskedAutoencoderViT kwargs>, vit=<VisionTransformer kwargs>)``,
  optionally ``overrides=dict(pretrain=..., probe=..., finetune=...)``: config sections merged into
  that model's runs (ViT-L's own fine-tuning learning rate and layer decay, for instance);
* ``targets``: name -> a ``jvision.mim.targets`` config; ``samplings``: name -> subset arguments
  (``strategy``, ``column``, ``min_value``, ``max_value``; see ``jvision.mim.subset``);
* ``pretrain``: ``dict(config=..., iters=...)``, ``downstream``: ``dict(probe=dict(config, iters),
  finetune=dict(config, iters))`` (either or both): base configs (paths relative to the spec) that
  every cell specialises;
* ``shard_size``: samples per shard of the drawn subsets (1000; enough shards for ranks x readers);
* ``seed``, and ``mpirun`` (a command prefix such as ``"mpirun -np 8"``: every training run of a
  cell is launched under it).

Each cell: draw the subset (once per sampling and size, shared by cells), write its configs, run
``tools/train.py`` for pre-training, then for each downstream task, in subprocesses; read the final
metrics; write ``cells/<cell>/result.json``. A cell with a ``result.json`` is done and is never run
again, so a killed study restarts where it stopped (a half-finished training run resumes from its
latest checkpoint). After every cell ``results.csv`` and ``results.md`` are rewritten; at the end
``plots/*.png`` (matplotlib, optional): downstream accuracy vs data size per model and target, and
pre-training validation loss vs downstream accuracy.
"""
from __future__ import annotations

import csv
import itertools
import json
import os
import pprint
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from ..config import Field, Schema, merge, register_section

__all__ = ["load_spec", "Cell", "plan_cells", "run_study", "write_tables", "write_plots", "STUDY_SECTION"]

#: The ``study`` section of a spec file (spec files say ``custom_imports = ["jvision.mim.study"]``).
STUDY_SECTION = Schema({
    "name": Field(str), "source": Field((str, dict), required=True), "grids": Field(list, items=Field(dict), required=True),
    "models": Field(dict, required=True), "targets": Field(dict, required=True),
    "samplings": Field(dict, required=True), "pretrain": Field(dict, required=True),
    "downstream": Field(dict, required=True), "shard_size": Field(int, min=1), "seed": Field(int, min=0),
    "mpirun": Field(int, min=1, nullable=True),
}, doc="a data-scaling study (jvision.mim.study)")
register_section("study", STUDY_SECTION)

REPO = Path(__file__).resolve().parents[2]
RESULT_FIELDS = ["cell", "data", "model", "target", "sampling", "pretrain_iters", "pretrain_loss",
                 "pretrain_val_loss", "probe_top1", "finetune_top1", "seconds"]


def load_spec(path: str | os.PathLike, overrides: list[str] | None = None) -> dict:
    """The ``study`` section of a spec file (config syntax, ``_base_`` allowed), paths made absolute."""
    from ..config import Config
    cfg = Config.fromfile(str(path))
    if overrides:
        cfg.merge_from_list(overrides)
    if "study" not in cfg:
        raise KeyError(f"{path}: a study spec needs a top-level 'study' dict")
    cfg.validate()
    spec = cfg.to_dict()["study"]
    here = Path(path).resolve().parent
    for key in ("grids", "models", "targets", "samplings", "pretrain", "downstream"):
        if key not in spec:
            raise KeyError(f"{path}: study has no {key!r} (see configs/mim_study/laptop.py)")
    spec["pretrain"]["config"] = str((here / spec["pretrain"]["config"]).resolve())
    for task, entry in spec["downstream"].items():
        if task not in ("probe", "finetune"):
            raise KeyError(f"{path}: study.downstream has {task!r}; known: probe, finetune")
        entry["config"] = str((here / entry["config"]).resolve())
    src = spec.get("source")
    if isinstance(src, str) and not src.startswith("/") and "{" not in src:
        candidate = (here / src)
        spec["source"] = str(candidate.resolve()) if candidate.exists() else src
    spec.setdefault("name", Path(path).stem)
    spec.setdefault("seed", 0)
    spec.setdefault("mpirun", None)
    spec["_path"] = str(Path(path).resolve())
    return spec


class Cell(dict):
    """One grid point: ``data``, ``model``, ``target``, ``sampling`` and its ``name``."""

    @property
    def name(self) -> str:
        if self["data"] == 0:
            return f"d0_{self['model']}"
        return f"d{self['data']}_{self['model']}_{self['target']}_{self['sampling']}"


def plan_cells(spec: dict) -> list[Cell]:
    """The cells of the spec, in grid order, without duplicates (a ``data=0`` cell depends only on
    the model: one per model)."""
    cells, seen = [], set()
    for grid in spec["grids"]:
        axes = [grid.get(k) for k in ("data", "model", "target", "sampling")]
        if any(a is None for a in axes):
            raise KeyError(f"study grid {grid} needs data, model, target and sampling lists")
        for data, model, target, sampling in itertools.product(*axes):
            for kind, name in (("models", model), ("targets", target), ("samplings", sampling)):
                if name not in spec[kind] and not (data == 0 and kind != "models"):
                    raise KeyError(f"study grid uses {kind[:-1]} {name!r}, not defined in study.{kind}")
            cell = Cell(data=int(data), model=model, target=target if data else "-",
                        sampling=sampling if data else "-")
            if cell.name not in seen:
                seen.add(cell.name)
                cells.append(cell)
    return cells


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------
def _write_config(path: Path, base: str, sections: dict) -> Path:
    lines = ["# written by jvision.mim.study for one cell of the study; do not edit",
             f"_base_ = [{base!r}]"]
    for key, value in sections.items():
        lines.append(f"{key} = {pprint.pformat(value, width=100, sort_dicts=False)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _final_records(work_dir: Path) -> tuple[dict, dict]:
    """The last train and the last val record of a run's metrics.jsonl."""
    train, val = {}, {}
    path = work_dir / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("mode") == "train":
                train = rec
            elif rec.get("mode") == "val":
                val = rec
    return train, val


def _finished(work_dir: Path, iters: int) -> bool:
    train, _ = _final_records(work_dir)
    return int(train.get("iter", -1)) >= iters and (work_dir / "latest.pkl").exists()


def default_runner(cmd: list[str], log_path: Path) -> None:
    """Run a command, its output into ``log_path``; raise naming the log when it fails."""
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(shlex.quote(c) for c in cmd)}\n")
        log.flush()
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO))
    if proc.returncode:
        raise RuntimeError(f"command failed with exit status {proc.returncode}; see {log_path}")


def _train_command(spec: dict, config: Path, work_dir: Path, resume: bool) -> list[str]:
    cmd = [sys.executable, str(REPO / "tools" / "train.py"), str(config), "--work-dir", str(work_dir)]
    if resume:
        cmd.append("--resume")
    if spec.get("mpirun"):
        cmd = shlex.split(spec["mpirun"]) + cmd
    return cmd


def _source(spec: dict) -> str:
    src = spec.get("source")
    if isinstance(src, dict) and "builtin" in src:
        from ..data.builtin_shards import make_builtin_shards
        return str(make_builtin_shards(**src["builtin"]))
    if not src:
        raise KeyError("study.source is missing (a shard pattern, folder, index.json or dict(builtin=...))")
    return str(src)


def _subset(spec: dict, cell: Cell, work_dir: Path, log: Callable) -> str:
    from .subset import build_subset
    out = work_dir / "subsets" / f"{cell['sampling']}_n{cell['data']}"
    if not (out / "index.json").is_file():
        args = dict(spec["samplings"][cell["sampling"]])
        strategy = args.pop("strategy", "uniform")
        build_subset(_source(spec), out, cell["data"], strategy=strategy, seed=spec["seed"], log=log,
                     shard_size=int(spec.get("shard_size", 1000)), **args)
    return str(out / "index.json")


def run_cell(spec: dict, cell: Cell, work_dir: Path, runner: Callable = default_runner,
             log: Callable = print) -> dict:
    cell_dir = work_dir / "cells" / cell.name
    cell_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    model = spec["models"][cell["model"]]
    result = {"cell": cell.name, **{k: cell[k] for k in ("data", "model", "target", "sampling")}}
    pretrained = None
    if cell["data"]:
        shards = _subset(spec, cell, work_dir, log)
        iters = int(spec["pretrain"]["iters"])
        mae = dict(model["mae"], target=spec["targets"][cell["target"]])
        sections = {"model": dict(_delete_=True, **mae), "data": {"train": {"shards": shards}},
                    "train": {"max_iters": iters, "seed": spec["seed"]}}
        sections = merge(sections, model.get("overrides", {}).get("pretrain", {}))
        iters = int(sections["train"]["max_iters"])
        config = _write_config(cell_dir / "pretrain_config.py", spec["pretrain"]["config"], sections)
        pre_dir = cell_dir / "pretrain"
        if not _finished(pre_dir, iters):
            log(f"[{cell.name}] pre-training {iters} iterations on {cell['data']} samples")
            runner(_train_command(spec, config, pre_dir, resume=(pre_dir / "latest.pkl").exists()),
                   cell_dir / "pretrain.log")
        train_rec, val_rec = _final_records(pre_dir)
        result.update(pretrain_iters=iters, pretrain_loss=train_rec.get("loss"),
                      pretrain_val_loss=val_rec.get("val_loss"))
        pretrained = str(pre_dir / "latest.pkl")
    for task, entry in spec["downstream"].items():
        iters = int(entry["iters"])
        backbone = dict(model["vit"], pretrained=pretrained)
        sections = {"model": {"backbone": backbone}, "train": {"max_iters": iters, "seed": spec["seed"]}}
        sections = merge(sections, model.get("overrides", {}).get(task, {}))
        iters = int(sections["train"]["max_iters"])
        config = _write_config(cell_dir / f"{task}_config.py", entry["config"], sections)
        task_dir = cell_dir / task
        if not _finished(task_dir, iters):
            log(f"[{cell.name}] {task} {iters} iterations" + ("" if pretrained else " from random initialisation"))
            runner(_train_command(spec, config, task_dir, resume=(task_dir / "latest.pkl").exists()),
                   cell_dir / f"{task}.log")
        _, val_rec = _final_records(task_dir)
        result[f"{task}_top1"] = val_rec.get("top1")
    result["seconds"] = round(time.time() - started, 1)
    (cell_dir / "result.json").write_text(json.dumps(result, indent=1))
    return result


def collect_results(work_dir: Path, cells: list[Cell]) -> list[dict]:
    rows = []
    for cell in cells:
        path = work_dir / "cells" / cell.name / "result.json"
        if path.is_file():
            rows.append(json.loads(path.read_text()))
    return rows


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def write_tables(work_dir: Path, rows: list[dict], spec: dict) -> tuple[Path, Path]:
    """``results.csv`` and ``results.md`` (one row per finished cell)."""
    csv_path, md_path = work_dir / "results.csv", work_dir / "results.md"
    fields = [f for f in RESULT_FIELDS if f not in ("probe_top1", "finetune_top1")
              or f"{f.split('_')[0]}" in spec["downstream"]]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"# MIM data-scaling study `{spec['name']}`", "",
             f"Spec: `{spec['_path']}`; {len(rows)} cell(s). Accuracies in %, losses of the last logged "
             "iteration / the final validation.", "",
             "| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(f)) for f in fields) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def write_plots(work_dir: Path, rows: list[dict], spec: dict) -> list[Path]:
    """Accuracy vs data size (per model and target) and pre-training val loss vs accuracy; needs matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = []
    plots = work_dir / "plots"
    plots.mkdir(exist_ok=True)
    for task in spec["downstream"]:
        key = f"{task}_top1"
        fig, ax = plt.subplots(figsize=(6, 4))
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        variants = sorted({(r["target"], r["sampling"]) for r in rows if r["data"]})
        styles = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")]
        for m, model in enumerate(sorted({r["model"] for r in rows})):
            colour = colours[m % len(colours)]   # one colour per model; line style per target/sampling
            base = [r for r in rows if r["model"] == model and r["data"] == 0 and r.get(key) is not None]
            for v, (target, sampling) in enumerate(variants):
                pts = sorted((r["data"], r[key]) for r in rows if r["model"] == model and r["target"] == target
                             and r["sampling"] == sampling and r.get(key) is not None)
                if pts:
                    line, marker = styles[v % len(styles)]
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle=line, marker=marker, color=colour,
                            label=f"{model} / {target} / {sampling}")
            if base:
                ax.axhline(base[0][key], color=colour, linestyle=(0, (1, 3)), linewidth=1.5,
                           label=f"{model}: no pre-training")
        ax.set_xscale("log")
        ax.set_xlabel("pre-training images")
        ax.set_ylabel(f"{task} top-1 (%)")
        ax.set_title(f"{spec['name']}: {task} accuracy vs data size")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = plots / f"{task}_vs_data.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        out.append(path)
        # Losses of different targets are on different scales: one marker per target, one colour per model.
        pts = [(r["pretrain_val_loss"], r[key], r["model"], r["target"]) for r in rows
               if r.get("pretrain_val_loss") is not None and r.get(key) is not None]
        if pts:
            fig, ax = plt.subplots(figsize=(5, 4))
            models, targets = sorted({p[2] for p in pts}), sorted({p[3] for p in pts})
            for m, model in enumerate(models):
                for t, target in enumerate(targets):
                    sel = [p for p in pts if p[2] == model and p[3] == target]
                    if sel:
                        ax.scatter([p[0] for p in sel], [p[1] for p in sel], color=colours[m % len(colours)],
                                   marker=styles[t % len(styles)][1], label=f"{model} / {target}")
            ax.set_xlabel("pre-training validation loss")
            ax.set_ylabel(f"{task} top-1 (%)")
            ax.set_title("validation loss vs downstream accuracy")
            ax.legend(fontsize=7)
            fig.tight_layout()
            path = plots / f"val_loss_vs_{task}.png"
            fig.savefig(path, dpi=120)
            plt.close(fig)
            out.append(path)
    return out


def run_study(spec: dict, work_dir: str | os.PathLike, runner: Callable = default_runner, log: Callable = print,
              only: list[str] | None = None) -> list[dict]:
    """Run every unfinished cell (or those named in ``only``), then write the tables and plots."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    cells = plan_cells(spec)
    if only:
        unknown = sorted(set(only) - {c.name for c in cells})
        if unknown:
            raise KeyError(f"--cells {unknown} are not cells of this study; cells: {[c.name for c in cells]}")
        cells = [c for c in cells if c.name in only]
    (work_dir / "study.json").write_text(json.dumps({k: v for k, v in spec.items()}, indent=1, default=str))
    for i, cell in enumerate(cells, 1):
        if (work_dir / "cells" / cell.name / "result.json").is_file():
            log(f"[{i}/{len(cells)}] {cell.name}: done before, skipped")
            continue
        log(f"[{i}/{len(cells)}] {cell.name}")
        run_cell(spec, cell, work_dir, runner, log)
        write_tables(work_dir, collect_results(work_dir, plan_cells(spec)), spec)
    rows = collect_results(work_dir, plan_cells(spec))
    csv_path, md_path = write_tables(work_dir, rows, spec)
    plots = write_plots(work_dir, rows, spec)
    log(f"results: {csv_path}, {md_path}" + (f"; plots: {', '.join(str(p) for p in plots)}" if plots
                                              else "; plots skipped (pip install matplotlib)"))
    return rows
