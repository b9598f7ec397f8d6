"""Seconds to make the eerie sound of a 12-slot video, as a ratio to rendering its frames (goal ≤ 0.05).

Both in this process: the sound stage (design + loudness normalisation) for the default
12-slot 1080×1920 30 fps plan, then every frame of that plan rendered (not encoded) from a
synthetic stack of 13 noise slots. Usage: python bench/bench_sound.py [--size 1080x1920]
"""

from __future__ import annotations

import argparse
import time

from bench_render import synthetic_slots

from zoomout import Config, plan_video
from zoomout.config import parse_size
from zoomout.render import ZoomRenderer
from zoomout.sound import loudness_lufs, make_soundtrack, true_peak_dbtp


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

    renderer = ZoomRenderer(synthetic_slots(width, height, config.slots + 1), config.zoom_per_slot, (width, height))
    start = time.perf_counter()
    for z in plan.frame_zooms():
        renderer.render(float(z))
    frames_s = time.perf_counter() - start

    print(f"{config.slots} slots, {plan.duration_s:.2f} s, {width}x{height} @ {config.fps} fps ({plan.frame_count} frames)")
    print(f"eerie sound      {sound_s:6.3f} s  ({loudness_lufs(audio):.2f} LUFS, {true_peak_dbtp(audio):.2f} dBTP)")
    print(f"render frames    {frames_s:6.3f} s  ({1000 * frames_s / plan.frame_count:.1f} ms/frame)")
    print(f"ratio (sound / frames) = {sound_s / frames_s:.3f}  (goal <= 0.05)")


if __name__ == "__main__":
    main()
