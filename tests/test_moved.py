"""The module paths of release 0.1 still import, with a deprecation warning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from monitor._moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_imports_the_new_names_and_warns(old: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {MOVED[old][0]}"):
        module = importlib.import_module(old)
    for new in MOVED[old]:
        target = importlib.import_module(new)
        public = getattr(target, "__all__", [n for n in vars(target) if not n.startswith("_")])
        for name in public:
            assert getattr(module, name) is getattr(target, name), f"{old}.{name} is not {new}.{name}"


def test_documented_old_imports_work_in_a_fresh_interpreter() -> None:
    code = ("import warnings; warnings.simplefilter('error')\n"
            "from monitor.profile import profile_json, typed_batch\n"
            "try:\n    from monitor.profile_io import profile_json as old\n"
            "except DeprecationWarning as w:\n    print(w)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "monitor.profile_io moved to monitor.profile.values" in out


def test_an_unknown_module_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("monitor.no_such_module")
