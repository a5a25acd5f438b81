"""Class names are data, not syntax: awkward names survive the label map we write,
read back by our reader and by the OD API's own parser (the one training uses)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odhelper.data import labelmap
from odhelper.errors import OdhelperError

AWKWARD = "#{}'\"\\ :;,\t/<>&日本ü€😀\u00a0\u2028item name id"
# What an XML 1.0 file (what LabelImg writes) can hold: no surrogates, no control
# characters but tab; LabelImg's own reader and ours strip the ends.
NAME_CHARACTERS = st.one_of(st.sampled_from(AWKWARD), st.characters(
    blacklist_categories=("Cs", "Cc"), whitelist_characters="\t"))
NAMES = st.text(NAME_CHARACTERS, min_size=1, max_size=12).map(str.strip).filter(bool)


@pytest.fixture(scope="module")
def label_map_util():
    from odhelper.od import module

    return module("utils.label_map_util")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAMES, min_size=1, max_size=6, unique=True))
def test_awkward_names_round_trip(names, tmp_path, label_map_util):
    mapping = labelmap.generate(names)
    path = labelmap.write(mapping, tmp_path / "map.pbtxt")
    assert labelmap.read(path) == mapping
    assert label_map_util.get_label_map_dict(str(path)) == mapping
    assert labelmap.unparsable(mapping) == {}


@pytest.mark.parametrize("name", ["a#b", "}", "{x}", "it's", 'say "hi"', "back\\slash",
                                  "\\'", "日本語 ü", "item { name: 'x' }"])
def test_each_awkward_name(name, tmp_path, label_map_util):
    path = labelmap.write({name: 1, "plain": 2}, tmp_path / "map.pbtxt")
    assert labelmap.read(path) == {name: 1, "plain": 2}
    assert label_map_util.get_label_map_dict(str(path)) == {name: 1, "plain": 2}


def test_reader_takes_other_writers_label_maps(tmp_path):
    path = tmp_path / "map.pbtxt"
    path.write_text('# a comment with } and {\nitem { name: "a\\"#}" id: 2\n'
                    "  display_name: 'A' keypoints { id: 9 label: 'k' } }\n"
                    "item {\n id: 1\n name: '\\344\\270\\255' # trailing\n}\n",
                    encoding="utf-8")
    assert labelmap.read(path) == {'a"#}': 2, "中": 1}


def test_a_name_the_parser_cannot_take_is_refused_naming_class_and_file():
    """XML cannot carry such a name (lxml refuses it); the guard tfrecord runs before
    writing anything must still name the class and where it came from."""
    with pytest.raises(OdhelperError) as caught:
        labelmap.refuse_unparsable({"fine": 1, "bad\ud800": 2}, lambda name: "in/p1.xml")
    assert str(caught.value).startswith("in/p1.xml: class 'bad\\ud800':")
    labelmap.refuse_unparsable({"a#}{'\"\\": 1}, lambda name: "never used")


def test_names_differing_only_by_case_are_reported_and_merged_when_asked(tmp_path, caplog):
    from data_support import options
    from odhelper.data.build import build_dataset
    from run_support import make_pictures

    caplog.set_level("INFO", logger="odhelper")
    pictures = make_pictures(tmp_path / "pictures", count=12, size=48)
    for xml in sorted(pictures.glob("*.xml"))[::3]:
        xml.write_text(xml.read_text().replace("<name>red</name>", "<name>Red</name>"))
    apart = build_dataset(options(pictures, tmp_path / "apart"))
    assert sorted(c["name"] for c in apart["classes"]) == ["Red", "blue", "red"]
    assert "differ only by case or spaces: 'red' (4 boxes), 'Red' (2 boxes)" in caplog.text
    merged = build_dataset(options(pictures, tmp_path / "merged", merge_case=True))
    assert sorted(c["name"] for c in merged["classes"]) == ["blue", "red"]
    assert "Class names merged into 'red'" in caplog.text
