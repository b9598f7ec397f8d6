"""H.264 + AAC MP4 through PyAV, streamed frame by frame."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import Colorspace, ColorRange

from .plan import AUDIO_RATE_HZ

AAC_FRAME_SAMPLES = 1024
BT709 = 1  # ITU-T H.273 code point for BT.709 primaries, transfer and matrix
QUEUE_FRAMES = 4  # frames waiting for the encoder: bounds memory whatever the video length
# x264's output depends on its thread count, which it picks from the machine's cores by default:
# a fixed count makes the same video on every machine (a batch node and a laptop alike).
X264_THREADS = 4
# x264's AVX-512 code does not make the same bytes twice: on an AMD EPYC with AVX-512, 30 encodes
# of the same frames in one process gave 4-5 different videos (PyAV 17.1-18.1), and the same 30
# with x264 told the CPU's features up to AVX2 (or no asm at all) gave one. So where the CPU has
# AVX-512, x264 gets the features below that it has, by numpy's detection: x264's name per numpy's.
X264_FEATURES = {
    "MMX": "MMX2", "SSE": "SSE", "SSE2": "SSE2", "SSE3": "SSE3", "SSSE3": "SSSE3", "SSE41": "SSE4.1",
    "SSE42": "SSE4.2", "AVX": "AVX", "XOP": "XOP", "FMA4": "FMA4", "FMA3": "FMA3", "BMI": "BMI1",
    "BMI2": "BMI2", "LZCNT": "LZCNT", "AVX2": "AVX2",
}  # fmt: skip


def x264_cpu_features(cpu: dict[str, bool] | None = None) -> str | None:
    """x264's `asm` list of the CPU's features without AVX-512 where the CPU has it, else None (x264 detects them).

    `cpu` is numpy's runtime detection (`__cpu_features__`), read when not given.
    """
    if cpu is None:
        try:
            from numpy._core._multiarray_umath import __cpu_features__ as cpu
        except ImportError:  # numpy 1.x
            from numpy.core._multiarray_umath import __cpu_features__ as cpu
    if not cpu.get("AVX512F"):
        return None
    return ",".join(name for feature, name in X264_FEATURES.items() if cpu.get(feature))


@dataclass(frozen=True)
class EncodeSettings:
    width_px: int
    height_px: int
    fps: int
    crf: int = 20
    x264_preset: str = "veryfast"
    metadata: tuple[tuple[str, str], ...] = ()


class Mp4Writer:
    """Write frames (and an optional sound track) to `path`.

    Frames are converted and encoded on a worker thread while the caller renders the next
    ones; a bounded queue keeps memory flat. Audio packets are interleaved with the video.

    Parameters
    ----------
    path : Path
        The `.mp4` file to write, written in place: pass a temporary path (`atomic.atomic_path`)
        so the final file appears only when complete. `abort()` deletes it.
    settings : EncodeSettings
    audio : (samples, 2) float32 ndarray, a Future of one, or None
        48 kHz stereo in [-1, 1], as long as the video. A Future (a track still being made)
        is waited for only when the first audio is muxed, after the first frame.
    """

    def __init__(
        self, path: Path, settings: EncodeSettings, audio: np.ndarray | Future[np.ndarray] | None = None
    ) -> None:
        self.path = path
        self.settings = settings
        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        for key, value in settings.metadata:
            self._container.metadata[key] = value
        self._video = self._add_video_stream()
        self._audio = audio
        self._audio_stream = self._add_audio_stream() if audio is not None else None
        self._audio_cursor = 0
        self._frames_in = 0
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._encode_loop, name="zoomout-encoder", daemon=True)
        self._worker.start()

    def _add_video_stream(self) -> av.VideoStream:
        s = self.settings
        stream = self._container.add_stream("libx264", rate=s.fps)
        stream.width, stream.height, stream.pix_fmt = s.width_px, s.height_px, "yuv420p"
        stream.options = {"crf": str(s.crf), "preset": s.x264_preset, "threads": str(X264_THREADS)}
        if (features := x264_cpu_features()) is not None:
            stream.options = {**stream.options, "x264-params": f"asm={features}"}
        ctx = stream.codec_context
        ctx.color_primaries = ctx.color_trc = ctx.colorspace = BT709
        ctx.color_range = ColorRange.MPEG
        return stream

    def _add_audio_stream(self) -> av.AudioStream:
        stream = self._container.add_stream("aac", rate=AUDIO_RATE_HZ)
        stream.layout = "stereo"
        stream.bit_rate = 192_000
        return stream

    def write(self, frame: np.ndarray) -> None:
        """Queue one frame: (height, width, 3) uint8 RGB, or (height·3/2, width) uint8 I420 in BT.709.

        The writer owns the frame from now on: it is made read-only.
        """
        if self._error is not None:
            raise self._error
        h, w = self.settings.height_px, self.settings.width_px
        if frame.shape not in ((h, w, 3), (h * 3 // 2, w)) or frame.dtype != np.uint8:
            raise ValueError(f"frame should be ({h}, {w}, 3) RGB or ({h * 3 // 2}, {w}) I420 uint8 but is {frame.shape} {frame.dtype}")
        # The encoder thread reads the frame later: it must not change meanwhile. Read-only, a
        # caller that reuses the buffer fails at once instead of making the video depend on timing.
        frame.flags.writeable = False
        self._queue.put(frame)

    def write_all(self, frames: Iterable[np.ndarray]) -> int:
        count = 0
        for frame in frames:
            self.write(frame)
            count += 1
        return count

    def _encode_loop(self) -> None:
        try:
            while (frame := self._queue.get()) is not None:
                if frame.ndim == 2:  # already I420 in BT.709 limited range (the renderer's format)
                    video_frame = av.VideoFrame.from_ndarray(frame, format="yuv420p")
                else:
                    video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                        format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
                    )
                video_frame.pts = self._frames_in
                self._frames_in += 1
                self._container.mux(self._video.encode(video_frame))
                self._mux_audio_until(self._frames_in * AUDIO_RATE_HZ // self.settings.fps)
        except BaseException as error:  # handed to the caller's thread
            self._error = error
            while self._queue.get() is not None:  # unblock a producer waiting on a full queue
                pass

    def _track(self) -> np.ndarray:
        if isinstance(self._audio, Future):  # the track was still being made
            self._audio = self._audio.result()
        assert self._audio is not None
        return self._audio

    def _mux_audio_until(self, sample: int) -> None:
        if self._audio_stream is None:
            return
        end = min(sample, len(self._track()))
        while self._audio_cursor + AAC_FRAME_SAMPLES <= end or (
            end == len(self._audio) and self._audio_cursor < end
        ):
            chunk = self._audio[self._audio_cursor : self._audio_cursor + AAC_FRAME_SAMPLES]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk.T, dtype=np.float32), format="fltp", layout="stereo"
            )
            frame.sample_rate = AUDIO_RATE_HZ
            frame.pts = self._audio_cursor
            self._audio_cursor += len(chunk)
            self._container.mux(self._audio_stream.encode(frame))

    def close(self) -> Path:
        """Flush both encoders and finish the file."""
        self._queue.put(None)
        self._worker.join()
        if self._error is not None:
            raise self._error
        self._container.mux(self._video.encode(None))
        if self._audio_stream is not None:
            self._mux_audio_until(len(self._track()))
            self._container.mux(self._audio_stream.encode(None))
        self._container.close()
        return self.path

    def abort(self) -> None:
        """Stop and delete the unfinished file."""
        if self._worker.is_alive():
            self._queue.put(None)
            self._worker.join()
        try:
            self._container.close()
        except Exception:  # the container may be half-initialised; the file goes anyway
            pass
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
