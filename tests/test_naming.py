"""Output planning (convcli.filtering.naming): template fields, mirrored folders, kernel names, collisions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from convcli.errors import ConvcliError
from convcli.filtering.naming import (
    check_name_template,
    check_plan,
    check_sources,
    distinct_kernel_names,
    mirrored_folder,
    plan_outputs,
    source_fields,
)


def test_fields_of_an_input(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert source_fields("in/sub/my photo.png", 3) == {"stem": "my photo", "ext": "png", "parent": "sub", "index": 3}
    assert source_fields("a.tar.gz", 1)["ext"] == "gz"
    assert source_fields("a.png", 1)["parent"] == tmp_path.name  # the folder holding the file
    assert source_fields("sample:astronaut", 2) == {"stem": "astronaut", "ext": "", "parent": "", "index": 2}
    assert source_fields("-", 1)["stem"] == "stdin"


def test_default_names_are_the_old_names(tmp_path) -> None:
    plan = plan_outputs(["in/a.png", "b.bmp"], ["edges", "sharpen"], tmp_path, "png")
    assert [[o.path.name for o in outputs] for outputs in plan] == [
        ["a-edges.png", "a-sharpen.png"],
        ["b-edges.png", "b-sharpen.png"],
    ]
    assert {o.path.parent for outputs in plan for o in outputs} == {tmp_path}


def test_templates(tmp_path) -> None:
    sources = ["in/x/a.png", "in/y/a.bmp"]
    plan = plan_outputs(sources, ["edges"], tmp_path, "npy", template="{index:03d}_{parent}_{stem}.{ext}-{kernel}")
    assert [outputs[0].path.name for outputs in plan] == ["001_x_a.png-edges.npy", "002_y_a.bmp-edges.npy"]


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{stme}-{kernel}", "unknown field {stme} (did you mean 'stem'?)"),
        ("{}-{kernel}", "unknown field {}"),
        ("{0}", "unknown field {0}"),
        ("{stem.upper}", "unknown field {stem.upper}"),
        ("edges", "has no field"),
        ("{stem", "name template '{stem'"),
        ("{index:zz}", "name template '{index:zz}'"),
        ("{parent}/{stem}", "not a file name (parents mirrors folders)"),
    ],
)
def test_bad_templates(template: str, fragment: str) -> None:
    with pytest.raises(ConvcliError) as caught:
        check_name_template(template)
    assert fragment in caught.value.message and caught.value.exit_code == 2


def test_mirrored_folders(tmp_path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert mirrored_folder("in/sub/a.png") == Path("in/sub")
    assert mirrored_folder("a.png") == Path()
    assert mirrored_folder("in/../other/a.png") == Path("other")  # '..' resolved first
    assert mirrored_folder(str(work / "in" / "a.png")) == Path("in")  # absolute inside the current folder
    outside = mirrored_folder("../elsewhere/a.png")  # outside it: the absolute folder without its root
    assert outside == (tmp_path / "elsewhere").relative_to("/") and not outside.is_absolute()
    assert ".." not in outside.parts
    assert mirrored_folder("sample:camera") == Path()


def test_kernel_files_take_their_stem_only_when_names_clash() -> None:
    assert distinct_kernel_names(["sharpen", "sharpen"], [None, "my"]) == ["sharpen", "my"]
    assert distinct_kernel_names(["edges", "sharpen"], [None, "my"]) == ["edges", "sharpen"]
    assert distinct_kernel_names(["sharpen", "sharpen"], [None, None]) == ["sharpen", "sharpen"]


def test_collisions_name_both_inputs_and_the_way_out(tmp_path) -> None:
    plan = plan_outputs(["in/a.png", "in/sub/a.png", "x/b.png", "y/b.png"], ["edges"], tmp_path, "png")
    with pytest.raises(ConvcliError) as caught:
        check_plan(plan, tmp_path)
    message = caught.value.message
    assert "'in/a.png' and 'in/sub/a.png' would both write" in message and "(and 1 more)" in message
    assert "--parents" in message and "{parent}" in message
    plan = plan_outputs(["a.bmp", "a.tif"], ["edges"], tmp_path, "png")
    with pytest.raises(ConvcliError, match=r"\{stem\}-\{ext\}-\{kernel\}"):
        check_plan(plan, tmp_path)
    plan = plan_outputs(["a.png"], ["edges", "sharpen"], tmp_path, "png", template="{stem}")
    with pytest.raises(ConvcliError, match=r"kernels 'edges' and 'sharpen'.*add \{kernel\}"):
        check_plan(plan, tmp_path)


def test_an_output_may_not_replace_an_input(tmp_path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "b.png").write_bytes(b"b")
    other = tmp_path / "b-edges.png"
    other.write_bytes(b"other input")
    os.link(other, tmp_path / "hard.png")
    sources = [str(tmp_path / "x" / "b.png"), str(tmp_path / "hard.png")]
    plan = plan_outputs(sources, ["edges"], tmp_path, "png")
    with pytest.raises(ConvcliError, match="would overwrite the input"):
        check_plan(plan, tmp_path)  # b-edges.png is the second input under another name (a hard link)


def test_missing_folders_and_repeated_inputs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.png").write_bytes(b"a")
    with pytest.raises(ConvcliError, match=r"nope.png: no such file \(and 1 more missing inputs\)"):
        check_sources(["a.png", "nope.png", "nope2.png"])
    with pytest.raises(ConvcliError, match=r"'\./a\.png' and 'a\.png' are the same file"):
        check_sources(["a.png", "./a.png"])
    with pytest.raises(ConvcliError, match="is a folder"):
        check_sources([str(tmp_path)])
    check_sources(["a.png", "-", "sample:camera"])


def test_a_file_in_the_way_of_a_mirrored_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "in").write_bytes(b"a file where a folder must go")
    plan = plan_outputs(["in/sub/a.png"], ["edges"], out, "png", parents=True)
    assert plan[0][0].path == out / "in" / "sub" / "a-edges.png"
    with pytest.raises(ConvcliError, match="is a file, but the mirrored input folders need it"):
        check_plan(plan, out, parents=True)
