"""The web app driven through its Gradio API, as a script or another program would."""

from __future__ import annotations

import socket
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

import av
import pytest

pytest.importorskip("gradio", reason="the web extra is not installed: pip install 'zoomout[web]'")
from gradio_client import Client, handle_file  # noqa: E402
from huggingface_hub import constants as hf_constants  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

from zoomout.cache import list_entries  # noqa: E402
from zoomout.jobs import MAX_PHOTO_PIXELS  # noqa: E402
from zoomout.errors import ConfigError  # noqa: E402
from zoomout.options import respell_flags  # noqa: E402
from zoomout.web import WebApp, build_app, form_request, launch, page_spelling, show_progress  # noqa: E402

TINY = "96x160"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port of 127.0.0.1, with a 2 MB upload limit; (url, WebApp).

    Every host name the process looks up meanwhile is recorded: the app must never call out.
    (gradio_client itself would, through huggingface_hub's telemetry and agent detection; the
    tests' clients are kept offline as the README tells users to.)
    """
    looked_up: list[object] = []
    getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(host, *args, **kwargs):
        looked_up.append(host)
        return getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
        patch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
        patch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
        app = WebApp(tmp_path_factory.mktemp("web"))
        demo = launch(build_app(app), port=None, max_upload_bytes=2_000_000)
        try:
            yield demo.local_url, app
        finally:
            demo.close()
            app.close()
    outside = {host for host in looked_up if host not in ("127.0.0.1", "localhost", "::1", b"127.0.0.1", b"localhost")}
    assert not outside, f"the web app looked up {outside}: it must not call out"


def wait_until_queued(job, timeout_s: float = 60) -> None:
    """Return once the server has put `job` in its queue (or started it)."""
    deadline = time.monotonic() + timeout_s
    while job.status().code in (Status.STARTING, Status.JOINING_QUEUE):
        assert time.monotonic() < deadline, "the job never reached the server's queue"
        time.sleep(0.02)


def make(client: Client, photos: list[Path], *, slots: int = 1, seed: int = 0, engine: str = "classic"):
    return client.submit(
        photos=[handle_file(str(p)) for p in photos], engine=engine, slots=slots, seconds_per_slot=0.5, size=TINY,
        sound="none", seed=seed, api_name="/make",
    )  # fmt: skip


def frame_count(path: str) -> tuple[int, tuple[int, int]]:
    with av.open(path) as container:
        frames = [f for f in container.decode(video=0)]
    return len(frames), (frames[0].width, frames[0].height)


def job_folders(app: WebApp) -> list[Path]:
    return list(app.jobs_root.iterdir())


def test_job_from_upload_to_mp4(server, small_cat):
    url, app = server
    status, gallery, video, mp4, slots_zip = make(Client(url, verbose=False), [small_cat], slots=2).result(timeout=120)

    assert status.startswith("**Done**")
    assert len(gallery) == 3  # the photo's slot and two outpainted ones, as they were made
    count, size = frame_count(video)
    assert size == (96, 160) and count > 10
    assert Path(mp4).read_bytes() == Path(video).read_bytes()
    with zipfile.ZipFile(slots_zip) as zf:
        assert sorted(zf.namelist()) == [f"{kind}_{k:02d}.png" for kind in ("mask", "slot") for k in range(3)]
    assert job_folders(app) == []  # handed over to Gradio, then deleted


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.jpg", b"this is text, not a photo\n", "notes.jpg: not an image"),
        ("empty.png", b"", "empty.png: empty file"),
    ],
)
def test_bad_upload_refused_with_the_loader_message(server, tmp_path, name, content, message):
    url, app = server
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(AppError, match=message) as error:
        make(Client(url, verbose=False), [bad]).result(timeout=60)
    assert str(tmp_path) not in str(error.value) and "/gradio/" not in str(error.value)  # no server paths
    assert job_folders(app) == []


def test_photo_over_the_pixel_limit_refused_before_decoding(server, tmp_path):
    url, _ = server
    big = tmp_path / "huge.png"
    big.write_bytes(png_header_only(8000, 6000))  # 48 MP claimed by the header, no pixel data
    assert 8000 * 6000 > MAX_PHOTO_PIXELS
    with pytest.raises(AppError, match=r"huge.png: too large for the web app \(8000×6000 px = 48.0 megapixels\)"):
        make(Client(url, verbose=False), [big]).result(timeout=60)


def test_upload_over_the_size_limit_refused(server, tmp_path):
    url, _ = server
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * 2_100_000)
    with pytest.raises(Exception, match="(?i)file size|too large|413"):
        make(Client(url, verbose=False), [big]).result(timeout=60)


def test_bad_options_refused_with_the_config_message(server, small_cat):
    url, _ = server
    job = Client(url, verbose=False).submit(
        photos=[handle_file(str(small_cat))], engine="classic", size="95x160", api_name="/make"
    )
    with pytest.raises(AppError, match=r"Size width should be an even number in \[64, 4096\] but is 95"):
        job.result(timeout=60)


def test_per_slot_prompts_box_one_line_per_slot_and_errors_in_the_page_words():
    typed = {"engine": "diffusion", "slots": 3, "prompts": "a street at dusk\n\na harbour at night"}
    request = form_request(["cat.jpg"], typed, None)
    assert request.config.engine_options.slot_prompts == ((1, "a street at dusk"), (3, "a harbour at night"))
    with pytest.raises(ConfigError, match=r"^Prompts per slot should be for slots up to 3, the number of slots, but one is for slot 4$"):
        form_request(["cat.jpg"], {**typed, "prompts": "a\nb\nc\nd"}, None)
    # an engine without prompts keeps its defaults: the hidden box is not an error
    assert form_request(["cat.jpg"], {**typed, "engine": "classic"}, None).config.engine_options is None


def test_notes_on_the_page_name_its_controls_and_no_flag_it_lacks():
    assert respell_flags("3 of 3 slots reused from the cache (--fresh to redo them)", page_spelling) == (
        "3 of 3 slots reused from the cache"
    )  # the page has no Fresh control: the hint would lead nowhere
    assert respell_flags("slow (--engine classic takes seconds); try another --seconds-per-slot", page_spelling) == (
        "slow (Engine classic takes seconds); try another Seconds per slot"
    )
    assert respell_flags("--hold-start and --no-label", page_spelling) == "--hold-start and No label"


def test_no_photo_refused(server):
    job = Client(server[0], verbose=False).submit(photos=[], engine="classic", size=TINY, api_name="/make")
    with pytest.raises(AppError, match=r"give 1 to 12 photos, not 0"):
        job.result(timeout=60)


def test_only_the_jobs_files_are_served(server, small_cat):
    url, app = server
    secret = app.root / "secret.txt"
    secret.write_text("not for the web")
    for path in ("/etc/passwd", str(secret), "../../../../etc/passwd", str(small_cat)):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{url}gradio_api/file={urllib.parse.quote(path)}", timeout=10)
        assert error.value.code in (403, 404), path


@pytest.mark.slow
def test_concurrent_jobs_all_finish_in_order_each_with_its_own_slots(server, small_cat):
    url, app = server
    clients = [Client(url, verbose=False) for _ in range(3)]
    jobs, finished = [], []
    for i, client in enumerate(clients):  # slots 1, 2, 3: each gallery shows its own job's slots
        jobs.append(make(client, [small_cat], slots=i + 1, seed=i))
        jobs[-1].add_done_callback(lambda _, i=i: finished.append(i))
        wait_until_queued(jobs[-1])  # a definite submission order
    results = [job.result(timeout=300) for job in jobs]
    assert finished == [0, 1, 2]  # served one at a time, in order
    for i, (status, gallery, video, _, _) in enumerate(results):
        assert status.startswith("**Done**")
        assert len(gallery) == i + 2
        assert frame_count(video)[1] == (96, 160)
    assert len({Path(r[2]).read_bytes() for r in results}) == 3
    assert job_folders(app) == []


@pytest.mark.slow
@pytest.mark.parametrize("how", ["cancel button", "client cancel"])
def test_cancel_stops_the_job_and_leaves_no_files(server, small_cat, how):
    url, app = server
    client = Client(url, verbose=False)
    job = make(client, [small_cat], slots=40, seed=7 if how == "cancel button" else 8)
    deadline = time.monotonic() + 60
    while not job_folders(app) or not list(job_folders(app)[0].glob("previews/slot_01.jpg")):
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.1)
    folder = job_folders(app)[0]
    if how == "cancel button":  # the page's button: cancels this session's job
        assert client.predict(api_name="/cancel").startswith("**Cancelled**")
    else:  # Gradio closes the job's generator (as when a tab is closed)
        job.cancel()
    deadline = time.monotonic() + 30
    while folder.exists():
        assert time.monotonic() < deadline, "the cancelled job left its folder"
        time.sleep(0.1)
    assert not list(app.root.rglob("*.mp4"))
    made = max(entry.slots for entry in list_entries(app.cache_dir))
    assert made < 41, "the library was not stopped: it made every slot"

    # the queue goes on: the next job runs
    status, *_ = make(Client(url, verbose=False), [small_cat]).result(timeout=120)
    assert status.startswith("**Done**")


def png_header_only(width_px: int, height_px: int) -> bytes:
    """A PNG whose header says `width_px`×`height_px` but that holds no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width_px, height_px, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_one_bar_shows_the_overlapping_stages():
    """Slots are outpainted while frames are rendered: the bar follows the frames once they start."""
    calls = []

    def bar(value, desc, unit):
        calls.append((value, desc, unit))

    show_progress(bar, {"chain": (3, 8)})
    show_progress(bar, {"chain": (5, 8), "render": (40, 585)})
    show_progress(bar, {"chain": (8, 8), "render": (41, 585)})
    assert calls == [
        ((3, 8), "outpainting slots", "slots"),
        ((40, 585), "rendering frames (slots 5/8 outpainted)", "frames"),
        ((41, 585), "rendering frames", "frames"),
    ]
