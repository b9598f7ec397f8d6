"""Seconds to make the eerie sound of a 12-slot video, as a ratio to rendering its video (goal ≤ 0.05).

All in this process: the sound stage (design + loudness normalisation) for the default
12-slot 1080×1920 30 fps plan, then the pipeline's render stage for that plan (every frame
rendered into I420 and encoded, from a synthetic stack of 13 noise slots); the frames alone
are timed too, for a stricter ratio. Usage: python bench/bench_sound.py [--size 1080x1920]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_render import synthetic_slots

from zoomout import Config, plan_video
from zoomout.config import parse_size
from zoomout.encode import EncodeSettings, Mp4Writer
from zoomout.mastering import loudness_lufs, true_peak_dbtp
from zoomout.render import I420ZoomRenderer
from zoomout.sound import make_soundtrack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1080x1920")
    parser.add_argument("--repeats", type=int, default=3, help="sound renders; the fastest counts")
    args = parser.parse_args()
    width, height = parse_size(args.size)
    config = Config(width_px=width, height_px=height, sound="eerie")
    plan = plan_video(config)

    sound_s = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        audio = make_soundtrack(config, plan)
        sound_s = min(sound_s, time.perf_counter() - start)
    assert audio is not None and len(audio) == plan.audio_samples

    renderer = I420ZoomRenderer(synthetic_slots(width, height, config.slots + 1), config.zoom_per_slot, (width, height))
    start = time.perf_counter()
    for z in plan.frame_zooms():
        renderer.render(float(z))
    frames_s = time.perf_counter() - start
    settings = EncodeSettings(width, height, config.fps, config.crf, config.x264_preset)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with Mp4Writer(Path(folder) / "video.mp4", settings, audio) as writer:
            writer.write_all(renderer.render(float(z)) for z in plan.frame_zooms())
        video_s = time.perf_counter() - start

    print(f"{config.slots} slots, {plan.duration_s:.2f} s, {width}x{height} @ {config.fps} fps ({plan.frame_count} frames)")
    print(f"eerie sound      {sound_s:6.3f} s  ({loudness_lufs(audio):.2f} LUFS, {true_peak_dbtp(audio):.2f} dBTP)")
    print(f"render frames    {frames_s:6.3f} s  ({1000 * frames_s / plan.frame_count:.1f} ms/frame, not encoded)")
    print(f"render video     {video_s:6.3f} s  (frames rendered and encoded: the pipeline's render stage)")
    print(f"ratio (sound / render stage) = {sound_s / video_s:.3f}  (goal <= 0.05)")
    print(f"ratio (sound / frames alone) = {sound_s / frames_s:.3f}")


if __name__ == "__main__":
    main()
