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
