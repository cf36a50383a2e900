"""The store in sections: certificates by content, only what changed written, and a
state written before sections existed (one config.yaml with the PEMs inside)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from xsp.config.model import Limits, TrustAnchor, to_data
from xsp.config.store import ConfigFileError, Store

LEGACY = Path(__file__).parent / "data" / "legacy-config.yaml"


def _legacy_state(tmp_path: Path) -> Store:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    shutil.copy(LEGACY, state / "config.yaml")
    return Store(state)


def _files(store: Store) -> dict[str, bytes]:
    return {str(p.relative_to(store.dir)): p.read_bytes()
            for sub in ("sections", "certs") for p in sorted((store.dir / sub).glob("*"))}


def test_a_state_written_before_sections_loads_as_it_is(tmp_path):
    """Every setting of the old single-file state, PEMs included, is what the model holds."""
    store = _legacy_state(tmp_path)
    assert to_data(store.load()) == _with_default_limits(yaml.safe_load(LEGACY.read_text()))


def test_its_first_save_converts_it_without_loss(tmp_path):
    store = _legacy_state(tmp_path)
    before = _with_default_limits(yaml.safe_load(LEGACY.read_text()))
    with store.edit():
        pass
    root = store.path.read_text()
    assert "BEGIN CERTIFICATE" not in root
    files = _files(store)
    certs = {name: data for name, data in files.items() if name.startswith("certs/")}
    pems = {p.encode() for p in _pems(before)}
    assert set(certs.values()) == pems
    for name, data in certs.items():
        assert name == f"certs/{hashlib.sha256(data).hexdigest()}.pem"
    assert to_data(Store(store.dir).load()) == before


def _with_default_limits(data: dict) -> dict:
    """A state written before the emulator's limits existed has the default ones."""
    return {**data, "limits": to_data(Limits())}


def _pems(data) -> list[str]:
    if isinstance(data, dict):
        return [p for v in data.values() for p in _pems(v)]
    if isinstance(data, list):
        return [p for v in data for p in _pems(v)]
    return [data] if isinstance(data, str) and data.startswith("-----BEGIN") else []


def _anchor(n: int) -> TrustAnchor:
    return TrustAnchor(f"a{n:04d}", f"-----BEGIN CERTIFICATE-----\nMIIanchor{n}\n-----END CERTIFICATE-----\n")


def test_a_change_outside_the_sections_rewrites_only_config_yaml(tmp_path):
    """With 1,000 anchors, `set allowClientApp` leaves every section and certificate file
    as it was, and config.yaml stays as small as with none."""
    store = Store(tmp_path / "s")
    with store.edit() as d:
        d.node("xsp1").xsp.allow_client_app = True
    small = store.path.stat().st_size
    with store.edit() as d:
        d.node("xsp1").xsp.trusts.extend(_anchor(i) for i in range(1000))
    files = _files(store)
    stats = {name: (store.dir / name).stat().st_mtime_ns for name in files}
    with store.edit() as d:
        d.node("xsp1").xsp.allow_client_app = False
    assert _files(store) == files
    assert {name: (store.dir / name).stat().st_mtime_ns for name in files} == stats
    assert store.path.stat().st_size < small + 200
    assert Store(store.dir).load().node("xsp1").xsp.allow_client_app is False


def test_a_deleted_anchor_takes_its_certificate_file_with_it(tmp_path):
    store = Store(tmp_path / "s")
    with store.edit() as d:
        d.node("xsp1").xsp.trusts.extend([_anchor(1), _anchor(2)])
    with store.edit() as d:
        del d.node("xsp1").xsp.trusts[0]
    pems = [data for name, data in _files(store).items() if name.startswith("certs/")]
    assert pems == [_anchor(2).cert_pem.encode()]
    assert len(list((store.dir / "sections").glob("trusts-*.json"))) == 1


def test_a_list_written_inline_by_hand_is_read_and_moved_to_its_section(tmp_path):
    store = Store(tmp_path / "s")
    store.load()
    text = store.path.read_text().replace(
        "trusts: []", f"trusts:\n    - alias: byhand\n      cert_pem: {json.dumps(_anchor(7).cert_pem)}")
    store.path.write_text(text)
    assert Store(store.dir).load().node("xsp1").xsp.trusts == [TrustAnchor("byhand", _anchor(7).cert_pem)]
    with store.edit():
        pass
    assert "byhand" not in store.path.read_text()
    assert Store(store.dir).load().node("xsp1").xsp.trusts == [TrustAnchor("byhand", _anchor(7).cert_pem)]


def test_a_changed_certificate_file_is_refused_with_its_name(tmp_path):
    store = Store(tmp_path / "s")
    with store.edit() as d:
        d.node("xsp1").xsp.trusts.append(_anchor(1))
    (cert,) = (store.dir / "certs").glob("*.pem")
    cert.write_text(_anchor(2).cert_pem)
    with pytest.raises(ConfigFileError) as info:
        Store(store.dir).load()
    assert str(info.value) == (f"{store.dir}/certs/{cert.name}: its content does not match its name "
                               "(changed by hand or damaged); restore it, or write the value inline "
                               "in config.yaml")


def test_a_missing_section_file_is_refused_with_the_line_that_names_it(tmp_path):
    store = Store(tmp_path / "s")
    with store.edit() as d:
        d.node("xsp1").xsp.trusts.append(_anchor(1))
    (section,) = (store.dir / "sections").glob("trusts-*.json")
    section.unlink()
    line = next(i for i, text in enumerate(store.path.read_text().splitlines(), 1) if "trusts:" in text)
    with pytest.raises(ConfigFileError) as info:
        Store(store.dir).load()
    assert str(info.value) == (f"{store.path}:{line}: nodes[1].xsp.trusts: the file "
                               f"sections/{section.name} it names is missing from the state")


def test_what_a_killed_save_left_unnamed_is_swept_by_the_next_writer(tmp_path):
    store = Store(tmp_path / "s")
    with store.edit() as d:
        d.node("xsp1").xsp.trusts.append(_anchor(1))
    orphan = store.dir / "certs" / ("0" * 64 + ".pem")
    orphan.write_text("left by a killed save")
    with Store(store.dir).edit():
        pass
    assert not orphan.exists()
    assert len(list((store.dir / "certs").glob("*.pem"))) == 1


def test_an_edit_that_raises_leaves_readers_their_view(tmp_path):
    store = Store(tmp_path / "s")
    with store.edit() as d:
        d.node("xsp1").xsp.trusts.append(_anchor(1))
    seen = store.load()
    with pytest.raises(RuntimeError):
        with store.edit() as d:
            d.node("xsp1").xsp.trusts.clear()
            d.node("xsp1").xsp.cti_servers.clear()
            raise RuntimeError("refused")
    assert store.load() is seen
    assert seen.node("xsp1").xsp.trusts == [_anchor(1)]
