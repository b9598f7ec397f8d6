"""Coverage-guided fuzzing of the loader under atheris, for long runs by hand (not run in CI).

    pip install atheris
    python fuzz/fuzz_load.py -max_total_time=3600 -rss_limit_mb=4096 fuzz/corpus

`fuzz/corpus` starts from the valid seed files of tests/test_fuzz.py (written on first run)
and keeps every input that reaches new code. An input that raises anything but a PhotoError
is a crash: libFuzzer saves it as `crash-<sha1>`; add it to tests/test_hostile.py as a case.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["zoomout", "PIL"]):
    from zoomout.errors import PhotoError
    from zoomout.load import load_photo

ROOT = Path(__file__).resolve().parents[1]
PATH = Path(tempfile.mkdtemp(prefix="zoomout-fuzz-")) / "input.img"


def test_one_input(data: bytes) -> None:
    PATH.write_bytes(data)
    try:
        photo = load_photo(PATH)
    except PhotoError as error:
        assert "\n" not in str(error)
        return
    assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3


def write_seeds(folder: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_fuzz import SEED_FILES

    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(SEED_FILES):
        (folder / f"seed-{i:02d}").write_bytes(data)


if __name__ == "__main__":
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not any(corpus.glob("*")):
        write_seeds(corpus)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
