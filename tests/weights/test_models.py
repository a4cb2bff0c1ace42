"""The model registry and `terf-studio models list|add|download`.

Downloads run against a small file served by ``http.server`` on 127.0.0.1 in a background
thread (a handler that honours Range requests, and can be told to ignore them, to cut a
transfer short or to corrupt the body); never the internet.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.errors import ModelError, TerfError
from terf_studio.weights import download, registry
from terf_studio.weights.registry import ModelSpec

PAYLOAD = b"PK\x03\x04" + np.random.default_rng(0).bytes(300_000)  # starts like a PyTorch zip checkpoint
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.log.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and srv.honour_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        chunk = body[start:]
        if srv.cut_after is not None:  # announce the full length, send less, close
            chunk = chunk[: srv.cut_after]
        srv.sent += len(chunk)  # counted first: the client may be done before write() returns
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files = {"/model.pt": PAYLOAD}
    srv.log, srv.sent, srv.honour_range, srv.cut_after = [], 0, True, None
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def test_model(monkeypatch, server):
    """A registered model whose official URL is the local server's file."""
    spec = ModelSpec(name="test-model", filename="test_model.pt", description="a test file", licence="CC0",
                     sha256=SHA, size=len(PAYLOAD), url=server.url + "/model.pt")
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    return spec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- registry and list


def test_registry_has_the_grounding_and_segmentation_models():
    for name, filename in [("groundingdino-swint-ogc", "groundingdino_swint_ogc.pth"),
                           ("sam-vit-h", "sam_vit_h_4b8939.pth"), ("sam-vit-l", "sam_vit_l_0b3195.pth"),
                           ("sam-vit-b", "sam_vit_b_01ec64.pth"), ("mobile-sam", "mobile_sam.pt")]:
        spec = registry.get_spec(name)
        assert spec.filename == filename and spec.url.endswith("/" + filename)
        assert spec.licence == "Apache-2.0" and len(spec.sha256) == 64 and spec.size > 1_000_000
    assert registry.get_spec("sam-vit-h").url.startswith("https://dl.fbaipublicfiles.com/segment_anything/")
    bert = registry.get_spec("bert-base-uncased")
    assert bert.is_folder and bert.url is None and {"config.json", "vocab.txt"} <= set(bert.files)
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        registry.get_spec("nope")


def test_list_json_says_present_and_missing(capsys):
    assert main(["models", "list", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in report["models"]}
    assert set(rows) == set(registry.REGISTRY)
    assert rows["fusion-lite"]["present"] and rows["fusion-lite"]["path"].endswith("fusion-lite.pt")
    assert not rows["sam-vit-h"]["present"] and rows["sam-vit-h"]["size"] == 2_564_550_879
    assert "models download sam-vit-h" in rows["sam-vit-h"]["how_to_get"]
    assert str(registry.user_models_dir()) in report["folders"]
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\[missing\] sam-vit-h .*Apache-2.0", out)
    assert re.search(r"\[ok\] +fusion-lite ", out)


def test_env_and_settings_folders_are_searched_and_partial_copies_passed_over(tmp_path, monkeypatch, test_model):
    env_dir, settings_dir = tmp_path / "env", tmp_path / "settings_dir"
    settings_dir.mkdir()
    (settings_dir / test_model.filename).write_bytes(PAYLOAD)
    assert registry.find_model("test-model") is None  # not searched yet
    from terf_studio.settings import settings_path, update_settings

    update_settings(model_dir=str(settings_dir))
    assert json.loads(settings_path().read_text()) == {"model_dir": str(settings_dir)}
    assert registry.find_model("test-model") == settings_dir / test_model.filename
    env_dir.mkdir()
    (env_dir / test_model.filename).write_bytes(PAYLOAD[:1000])  # a partial copy comes first in the order
    monkeypatch.setenv("TERF_STUDIO_MODELS", str(env_dir))
    assert registry.search_dirs()[:2] == [env_dir, settings_dir]
    assert registry.find_model("test-model") == settings_dir / test_model.filename
    (settings_dir / test_model.filename).unlink()
    with pytest.raises(ModelError, match=r"passed over: .*has 1,000 bytes, not 300,004"):
        registry.require_model("test-model")
    row = next(r for r in registry.model_status() if r["name"] == "test-model")
    assert not row["present"] and "1,000 bytes" in row["problem"]


def test_a_damaged_settings_file_is_a_one_line_error(tmp_path, capsys):
    from terf_studio.settings import settings_path

    settings_path().write_text("{not json")
    with pytest.raises(TerfError, match="not valid JSON"):
        registry.search_dirs()
    assert main(["models", "list"]) == 2
    assert "settings file" in capsys.readouterr().err


# ---------------------------------------------------------------------------- add


def test_add_verifies_and_installs_atomically(tmp_path, test_model, capsys):
    src = tmp_path / "downloaded.bin"  # any name: the checksum says what it is
    src.write_bytes(PAYLOAD)
    assert main(["models", "add", "test-model", str(src)]) == 0
    target = registry.user_models_dir() / test_model.filename
    assert target.read_bytes() == PAYLOAD
    assert f"installed test-model at {target}" in capsys.readouterr().out
    assert registry.find_model("test-model") == target
    assert sorted(p.name for p in target.parent.iterdir()) == [test_model.filename]  # no partial left


def test_add_refuses_a_file_with_the_wrong_checksum_and_installs_nothing(tmp_path, test_model, capsys):
    bad = bytearray(PAYLOAD)
    bad[1000] ^= 0xFF  # same size, one byte differs
    src = tmp_path / test_model.filename
    src.write_bytes(bytes(bad))
    assert main(["models", "add", "test-model", str(src)]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch for test-model" in err and len(err.strip().splitlines()) == 1
    folder = registry.user_models_dir()
    assert not folder.exists() or list(folder.iterdir()) == []


def test_add_checks_size_name_and_type(tmp_path, test_model):
    short = tmp_path / "short.pt"
    short.write_bytes(PAYLOAD[:-1])
    with pytest.raises(ModelError, match="300,003 bytes, not 300,004"):
        registry.install_model("test-model", short)
    other = tmp_path / "sam_vit_b_01ec64.pth"
    other.write_bytes(b"PK\x03\x04")
    with pytest.raises(ModelError, match="named like model 'sam-vit-b'"):
        registry.install_model("fusion-full", other)
    page = tmp_path / "fusion-full.pt"  # no published checksum: the first bytes are checked
    page.write_text("<!DOCTYPE html><html>sign in</html>")
    with pytest.raises(ModelError, match="not a PyTorch checkpoint.*web page"):
        registry.install_model("fusion-full", page)
    with pytest.raises(ModelError, match="does not exist"):
        registry.install_model("fusion-full", tmp_path / "nothing.pt")
    assert not (registry.user_models_dir() / "fusion-full.pt").exists()


def test_add_a_real_checkpoint_without_published_checksum(random_lite_weights, tmp_path, capsys):
    # A file named like another model is refused; under a neutral name it is installed as the
    # network it holds (and refused as the other one).
    assert main(["models", "add", "fusion-full", str(random_lite_weights)]) == 2
    assert "named like model 'fusion-lite'" in capsys.readouterr().err
    best = tmp_path / "best.pt"
    best.write_bytes(random_lite_weights.read_bytes())
    assert main(["models", "add", "fusion-full", str(best)]) == 2
    assert "for the 'lite' network, not 'full'" in capsys.readouterr().err
    assert main(["models", "add", "fusion-lite", str(best)]) == 0
    target = registry.user_models_dir() / "fusion-lite.pt"
    assert target.read_bytes() == random_lite_weights.read_bytes()
    assert "no published checksum" in capsys.readouterr().out


def test_add_a_folder_model_copies_the_known_files(tmp_path, capsys):
    src = tmp_path / "bert"
    src.mkdir()
    (src / "config.json").write_text('{"model_type": "bert"}')
    (src / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    (src / "tokenizer_config.json").write_text('{"do_lower_case": true}')
    (src / "tf_model.h5").write_bytes(b"not needed")
    assert main(["models", "add", "bert-base-uncased", str(src)]) == 0
    target = registry.user_models_dir() / "bert-base-uncased"
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "tokenizer_config.json", "vocab.txt"]
    assert registry.find_model("bert-base-uncased") == target
    from terf_studio.cli.doctor import doctor_report, format_doctor

    assert doctor_report()["grounding_text_encoder"]["path"] == str(target)
    assert "bert-base-uncased (GroundingDINO's text encoder" in format_doctor(doctor_report())
    # Adding again replaces the folder; a folder without vocab.txt is refused and changes nothing.
    (src / "vocab.txt").write_text("[PAD]\n")
    registry.install_model("bert-base-uncased", src)
    assert (target / "vocab.txt").read_text() == "[PAD]\n"
    (src / "vocab.txt").unlink()
    with pytest.raises(ModelError, match="lacks vocab.txt"):
        registry.install_model("bert-base-uncased", src)
    assert (target / "vocab.txt").read_text() == "[PAD]\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["bert-base-uncased"]


def test_doctor_says_where_the_bert_folder_is_expected():
    from terf_studio.cli.doctor import doctor_report, format_doctor

    report = doctor_report()
    expected = str(registry.user_models_dir() / "bert-base-uncased")
    assert report["grounding_text_encoder"] == {"present": False, "path": None, "expected": expected,
                                                "files": ["config.json", "vocab.txt"]}
    assert f"expected at {expected}" in format_doctor(report)


# ---------------------------------------------------------------------------- download


def test_download_fetches_checks_and_renames(server, test_model, capsys):
    assert main(["models", "download", "test-model"]) == 0
    target = registry.user_models_dir() / test_model.filename
    assert target.read_bytes() == PAYLOAD
    assert not (target.parent / (test_model.filename + ".part")).exists()
    captured = capsys.readouterr()
    assert str(target) in captured.out and "sha256" in captured.out
    assert "100%" in captured.err  # the progress bar goes to stderr
    assert server.log == [("/model.pt", None)]
    # Present: nothing is fetched again.
    assert main(["models", "download", "test-model"]) == 0
    assert "already present" in capsys.readouterr().out and len(server.log) == 1


def test_download_resumes_a_partial_file_with_a_range_request(server, test_model, tmp_path):
    part = tmp_path / (test_model.filename + ".part")
    part.write_bytes(PAYLOAD[:123_456])
    done = download.download_model("test-model", dest_dir=tmp_path, progress=False)
    assert done.path.read_bytes() == PAYLOAD and not part.exists()
    assert server.log == [("/model.pt", "bytes=123456-")]
    assert server.sent == len(PAYLOAD) - 123_456  # only the rest came over the wire


def test_download_starts_over_when_the_server_ignores_the_range(server, test_model, tmp_path):
    server.honour_range = False
    (tmp_path / (test_model.filename + ".part")).write_bytes(b"PK\x03\x04 stale bytes of something else")
    done = download.download_model("test-model", dest_dir=tmp_path, progress=False)
    assert done.path.read_bytes() == PAYLOAD and server.sent == len(PAYLOAD)


def test_an_interrupted_download_keeps_its_part_and_the_next_run_resumes(server, test_model, tmp_path):
    server.cut_after = 100_000
    with pytest.raises(ModelError, match=r"stopped at 100,000 of 300,004 bytes; run the same command again"):
        download.download_model("test-model", dest_dir=tmp_path, progress=False, timeout=5)
    part = tmp_path / (test_model.filename + ".part")
    assert part.read_bytes() == PAYLOAD[:100_000]
    assert not (tmp_path / test_model.filename).exists()
    server.cut_after = None
    done = download.download_model("test-model", dest_dir=tmp_path, progress=False, timeout=5)
    assert done.path.read_bytes() == PAYLOAD
    assert server.log[-1] == ("/model.pt", "bytes=100000-")


def test_a_checksum_mismatch_is_refused_and_nothing_is_installed(server, test_model, tmp_path, capsys):
    bad = bytearray(PAYLOAD)
    bad[-1] ^= 0xFF
    server.files["/model.pt"] = bytes(bad)
    assert main(["models", "download", "test-model", "--to", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: checksum mismatch for test-model") and "nothing was installed" in err
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part


def test_a_file_of_another_size_is_refused_before_it_is_fetched(server, test_model, tmp_path):
    server.files["/model.pt"] = PAYLOAD + b"extra"
    with pytest.raises(ModelError, match="offers 300,009 bytes but test_model.pt has 300,004"):
        download.download_model("test-model", dest_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_404_and_unreachable_servers_are_clear_one_line_errors(server, test_model, tmp_path, capsys):
    assert main(["models", "download", "test-model", "--url", server.url + "/gone.pt", "--to", str(tmp_path)]) == 2
    assert "answered HTTP 404 Not Found" in capsys.readouterr().err
    port = _free_port()
    assert main(["models", "download", "test-model", "--url", f"http://127.0.0.1:{port}/model.pt",
                 "--to", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"cannot reach 127.0.0.1:{port} to download test-model" in err and "offline?" in err
    assert "models add test-model FILE" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_folder_model_has_no_download(capsys):
    assert main(["models", "download", "bert-base-uncased"]) == 2
    assert "no single download" in capsys.readouterr().err
    with pytest.raises(ModelError, match="no official download"):
        download.download_model("fusion-full")
