"""Config files (_base_ inheritance, merge vs replace, typed overrides, dump) and the registry."""
import pytest

from jvision.config import Config, parse_value
from jvision.registry import Registry, build


@pytest.fixture
def cfg_dir(tmp_path):
    (tmp_path / "_base_").mkdir()
    (tmp_path / "_base_" / "model.py").write_text(
        "model = dict(type='Net', depth=3, norm=dict(type='BN', eps=1e-5), widths=[1, 2])\n")
    (tmp_path / "_base_" / "sched.py").write_text(
        "optimizer = dict(type='AdamW', lr=1e-3, paramwise=dict(norm_decay_mult=0.0))\ntrain = dict(max_iters=10)\n")
    (tmp_path / "child.py").write_text(
        "_base_ = ['_base_/model.py', '_base_/sched.py']\n"
        "model = dict(depth=5, norm=dict(eps=1e-6), widths=[7])\n"
        "optimizer = dict(_delete_=True, type='SGD', lr=0.1)\n"
        "crop = (512, 512)\n")
    return tmp_path


def test_inheritance_merge_and_replace(cfg_dir):
    cfg = Config.fromfile(cfg_dir / "child.py")
    assert cfg.model.type == "Net" and cfg.model.depth == 5
    assert cfg.model.norm == {"type": "BN", "eps": 1e-6}           # dicts merge
    assert cfg.model.widths == [7]                                  # lists replace
    assert cfg.optimizer == {"type": "SGD", "lr": 0.1}              # _delete_ replaces
    assert cfg.train.max_iters == 10 and cfg.crop == (512, 512)
    assert cfg.name == "child"


def test_overrides_are_typed(cfg_dir):
    cfg = Config.fromfile(cfg_dir / "child.py")
    cfg.merge_from_list(["model.depth=7", "optimizer.lr=2e-4", "model.norm.type=GN", "crop=(256,128)",
                         "model.widths.0=9", "train.max_iters=None", "train.new_flag=true", "+extra=1"])
    assert cfg.model.depth == 7 and isinstance(cfg.model.depth, int)
    assert cfg.optimizer.lr == pytest.approx(2e-4)
    assert cfg.model.norm.type == "GN"
    assert cfg.crop == (256, 128)
    assert cfg.model.widths == [9]
    assert cfg.train.max_iters is None and cfg.train.new_flag is True and cfg.extra == 1
    assert parse_value("[1, 2]") == [1, 2] and parse_value("abc") == "abc" and parse_value("False") is False


def test_unknown_override_key_names_alternatives(cfg_dir):
    cfg = Config.fromfile(cfg_dir / "child.py")
    with pytest.raises(KeyError, match=r"no key 'modle'.*'model'"):
        cfg.merge_from_list(["modle.depth=3"])
    with pytest.raises(AttributeError, match="did you mean 'model'"):
        cfg.modle  # noqa: B018


def test_dump_round_trip(cfg_dir, tmp_path):
    cfg = Config.fromfile(cfg_dir / "child.py")
    cfg.merge_from_list(["model.depth=11"])
    cfg.dump(tmp_path / "out" / "config.py")
    again = Config.fromfile(tmp_path / "out" / "config.py")
    assert again.to_dict() == cfg.to_dict()


def test_bad_inheritance(tmp_path):
    (tmp_path / "a.py").write_text("_base_ = 'b.py'\nx = 1\n")
    (tmp_path / "b.py").write_text("_base_ = 'a.py'\n")
    with pytest.raises(ValueError, match="circular"):
        Config.fromfile(tmp_path / "a.py")
    (tmp_path / "c.py").write_text("_base_ = ['d.py', 'e.py']\n")
    (tmp_path / "d.py").write_text("x = 1\n")
    (tmp_path / "e.py").write_text("x = 2\n")
    with pytest.raises(KeyError, match="two bases"):
        Config.fromfile(tmp_path / "c.py")
    with pytest.raises(FileNotFoundError):
        Config.fromfile(tmp_path / "missing.py")


def test_registry_errors_name_alternatives():
    reg = Registry("things")

    @reg.register()
    class ResNetLike:
        def __init__(self, depth: int, width: int = 64):
            self.depth, self.width = depth, width

    obj = build(dict(type="ResNetLike", depth=18), reg)
    assert obj.depth == 18 and obj.width == 64
    with pytest.raises(KeyError, match="did you mean 'ResNetLike'"):
        build(dict(type="ResnetLike", depth=18), reg)
    with pytest.raises(TypeError, match=r"unknown argument\(s\) 'widht' \(did you mean 'width'\?\).*depth: int"):
        build(dict(type="ResNetLike", depth=18, widht=3), reg)
    with pytest.raises(TypeError, match="missing required argument"):
        build(dict(type="ResNetLike"), reg)
    with pytest.raises(KeyError, match="already registered"):
        reg.register(name="ResNetLike", obj=dict)


# ------------------------------------------------------------------------------------------------
# validation: every mistake is one line naming the key, the value and what is expected
# ------------------------------------------------------------------------------------------------
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from conftest import REPO  # noqa: E402
from jvision.config import ConfigError, Field, Schema, SECTIONS, register_section  # noqa: E402

TOY = REPO / "tests" / "configs" / "toy.py"


def _error(options=(), path=TOY, extra_text=None, tmp_path=None) -> str:
    import toy_components  # noqa: F401
    if extra_text is not None:
        path = tmp_path / "cfg.py"
        path.write_text(f"_base_ = {str(TOY)!r}\n{extra_text}\n")
    cfg = Config.fromfile(path)
    cfg.merge_from_list(list(options))
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    message = str(err.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("options, expected", [
    (["train.max_iters=abc"], "train.max_iters = 'abc': expected an integer >= 1"),
    (["optimizer.lr=fast"], "optimizer.lr = 'fast': expected a number > 0"),
    (["optimizer.lr=-1"], "optimizer.lr = -1: expected a number > 0"),
    (["train.keep_ckpts=0"], "train.keep_ckpts = 0: expected an integer >= 1"),
    (["train.amp=half"], "train.amp = 'half': expected False, True, 'float16' or 'bfloat16'"),
    (["optimizer.betas=(0.9,)"], "optimizer.betas = (0.9,): expected a list of 2 items"),
    (["optimizer.type=Adamw"], "optimizer.type = 'Adamw': expected one of 'Adam', 'AdamW', 'LARS', 'SGD'"),
    (["optimizer.momentun=0.9"], "unexpected argument"),
    (["data.batchsize=4"], "unknown key data.batchsize = 4 (did you mean 'batch_size'?)"),
    (["data.train.pipeline.0.scael=0.1"], "data.train.pipeline.0: transforms 'ToyJitter' got unknown argument(s) 'scael'"),
    (["schedule.type=linear"], "schedule.type = 'linear': expected one of"),
    (["evaluation={'metirc':{'type':'ToyMSE'}}"], "unknown key evaluation.metirc"),
    (["model.hidden=16.5"], "model: models 'ToyMLP': argument hidden=16.5 should be int"),
])
def test_config_mistakes_name_key_value_and_expectation(options, expected):
    message = _error(options)
    assert message.startswith(f"config {TOY}: ")
    assert expected in message or (expected == "unexpected argument" and "momentun" in message), message


def test_misspelt_top_level_sections_and_nested_model_values(tmp_path):
    assert "unknown top-level key 'trian' (did you mean 'train'?)" in _error(extra_text="trian = dict(max_iters=3)",
                                                                            tmp_path=tmp_path)
    assert "(did you mean 'optimizer'?)" in _error(extra_text="optimiser = dict(lr=1.0)", tmp_path=tmp_path)
    assert "did you mean 'metric'" in _error(extra_text="evaluation = dict(_delete_=True, metirc=dict(type='ToyMSE'))",
                                             tmp_path=tmp_path)
    _error(extra_text="_private_helper = 3\nevaluation = dict(metric=dict(type='Nope'))", tmp_path=tmp_path)
    import jseg  # noqa: F401  (registers the segmentor and its head)
    seg = REPO / "configs" / "segnext" / "segnext_t_ade20k.py"
    message = _error(["model.num_classes=9.5"], path=seg)
    assert "model: models 'segnext_t': argument num_classes=9.5 should be int" in message
    # a variant preset's overrides are checked in the config it expands to
    message = _error(["model.decode_head.channles=3"], path=seg)
    assert "model.decode_head: models 'LightHamHead' got unknown argument(s) 'channles'" in message


def test_task_sections_register_a_schema_and_are_validated(tmp_path):
    register_section("toy_task", Schema({"mask_ratio": Field(float, min=0.0, max=1.0),
                                         "target": Field(str, choices=("pixel", "hog"))}))
    try:
        assert "toy_task.mask_ratio = 1.5: expected a number >= 0 and <= 1" in _error(
            extra_text="toy_task = dict(mask_ratio=1.5)", tmp_path=tmp_path)
        assert "unknown key toy_task.mask_ratoi" in _error(extra_text="toy_task = dict(mask_ratoi=0.5)",
                                                           tmp_path=tmp_path)
        assert "(did you mean 'hog'?)" in _error(extra_text="toy_task = dict(target='hgo')", tmp_path=tmp_path)
        path = tmp_path / "ok.py"
        path.write_text(f"_base_ = {str(TOY)!r}\ntoy_task = dict(mask_ratio=0.75, target='pixel')\n")
        Config.fromfile(path).validate()
        path.write_text(f"_base_ = {str(TOY)!r}\ntoy_task = None\n")   # None switches a section off
        Config.fromfile(path).validate()
        register_section("toy_needed", Schema({"n": Field(int)}, required=True))
        assert "section 'toy_needed' is required" in _error(extra_text="toy_needed = None", tmp_path=tmp_path)
    finally:
        del SECTIONS["toy_task"]
        SECTIONS.pop("toy_needed", None)


def test_every_readme_cfg_options_example_applies_and_validates():
    """The README's own ``--cfg-options`` examples, shell-split, on their configs (or a SegNeXt one)."""
    import jseg  # noqa: F401
    from jvision.engine.trainer import import_custom
    checked = 0
    for line in (REPO / "README.md").read_text().splitlines():
        if "--cfg-options" not in line or "tools/" not in line:
            continue
        words = shlex.split(line, comments=True)
        tool = next(i for i, w in enumerate(words) if w.startswith("tools/"))
        config = REPO / words[tool + 1]
        if not config.is_file():
            config = REPO / "configs" / "segnext" / "segnext_t_ade20k.py"
        start = words.index("--cfg-options") + 1
        options = []
        for w in words[start:]:
            if w.startswith("--"):
                break
            options.append(w)
        cfg = Config.fromfile(config)
        cfg.merge_from_list(options)
        import_custom(cfg)
        cfg.validate()
        for option in options:
            key, value = option.split("=", 1)
            node = cfg.to_dict()
            for part in key.lstrip("+").split("."):
                node = node[int(part)] if isinstance(node, list) else node[part]
            assert node == parse_value(value), (line, option)
        checked += 1
    assert checked >= 4


def test_tools_report_a_config_mistake_in_one_line_and_debug_shows_the_traceback(tmp_path):
    cmd = [sys.executable, "tools/train.py", str(TOY), "--work-dir", str(tmp_path / "w"),
           "--cfg-options", "train.max_iters=abc"]
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO / "tests")}
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: config {TOY}: train.max_iters = 'abc': expected an integer >= 1"]
    assert not (tmp_path / "w" / "config.py").exists()
    from jvision.cli import run_tool

    def main(argv):
        raise ConfigError("config x.py: train.max_iters = 'abc': expected an integer >= 1")
    assert run_tool(main, ["x.py"]) == 2
    with pytest.raises(ConfigError):
        run_tool(main, ["x.py", "--debug"])


def test_every_config_of_the_repository_validates():
    import jseg  # noqa: F401
    import toy_components  # noqa: F401
    from jvision.engine.trainer import import_custom
    files = sorted(p for p in (REPO / "configs").rglob("*.py") if "_base_" not in p.parts) + [TOY]
    for path in files:
        cfg = Config.fromfile(path)
        import_custom(cfg)
        cfg.validate()
    assert len(files) > 30
