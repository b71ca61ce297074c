from __future__ import annotations

import pytest

from dcos.security.credentials import Credentials


def test_json_and_text_formats() -> None:
    creds = Credentials.parse('{"credentials": [{"principal": "fw", "secret": "s1"}]}')
    assert creds.check("fw", "s1") and not creds.check("fw", "s2")
    assert not creds.check("other", "s1")
    assert Credentials.from_json(creds.to_json()).check("fw", "s1")
    text = Credentials.parse("fw s1\nbatch   two words\n\n")
    assert text.check("batch", "two words") and text.principals() == ["batch", "fw"]


@pytest.mark.parametrize("doc", [[], {"credentials": {}}, {"credentials": [{"secret": "x"}]},
                                 {"credentials": [{"principal": 1, "secret": "x"}]}])
def test_bad_documents(doc: object) -> None:
    with pytest.raises(ValueError):
        Credentials.from_json(doc)


def test_missing_file_is_empty(tmp_path) -> None:
    assert Credentials.load(tmp_path / "none.json").principals() == []
