"""Designed sound tracks, synthesised from the video's own timeline (numpy/scipy, seeded).

`eerie`, the trend's sound: a low drone; a deep hit on every slot change; clock-like clicks; a
Shepard–Risset glissando that seems to rise forever (the sound of an endless zoom); a flock of
bird calls and caws, sparse at first and denser with every slot, spread across the stereo field;
a final boom that rings out over the end hold. `calm`: a gentle pad that changes chord on every
slot change, with a soft chime. Every function works in float64 at 48 kHz; the sound stage sets
the loudness afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from .config import SOUND_PRESETS as PRESETS
from .plan import AUDIO_RATE_HZ, Plan

RATE = AUDIO_RATE_HZ

# The flock: calls per second on the first and on the last slot (quadratic in between).
BIRDS_PER_S_FIRST = 0.7
BIRDS_PER_S_LAST = 6.0
CAW_SHARE = (0.2, 0.5)  # crows gather as the zoom deepens
TICK_INTERVAL_S = 0.5  # the clock ticks about twice a second, always on the slot changes

_RUMBLE = signal.butter(2, 90, "lowpass", fs=RATE // 8, output="sos")
_THUMP = signal.butter(2, 1500, "lowpass", fs=RATE, output="sos")
_CAW_FORMANT = signal.butter(2, (800, 2600), "bandpass", fs=RATE, output="sos")
_DARKEN = signal.butter(1, 3500, "lowpass", fs=RATE, output="sos")


@dataclass(frozen=True)
class BirdCall:
    """One call of the flock: when, what, where in the stereo field."""

    time_s: float
    slot: int  # the slot the zoom is heading to, 1..slots
    kind: str  # "chirp" (FM song bird) or "caw" (noisy crow)
    pan: float  # −1 left … +1 right
    pitch_hz: float


def design_sound(preset: str, plan: Plan, seed: int) -> np.ndarray:
    """(plan.audio_samples, 2) float64 track of `preset` ('eerie' or 'calm'), not yet normalised."""
    if preset not in PRESETS:
        raise ValueError(f"preset should be one of {', '.join(PRESETS)} but is {preset!r}")
    rng = np.random.default_rng([seed, PRESETS.index(preset)])
    return design_eerie(plan, rng) if preset == "eerie" else design_calm(plan, rng)


# ---------------------------------------------------------------------------------------------
# eerie


def design_eerie(plan: Plan, rng: np.random.Generator) -> np.ndarray:
    n = plan.audio_samples
    t = np.arange(n) / RATE
    depth = plan.zoom_at(t) / plan.slots  # 0 on the photo … 1 on the deepest slot
    end_s = plan.slot_change_times_s[-1]
    # everything but the drone stops at the final boom; a 40 ms fade keeps the cut click-free
    cut = np.clip(1.0 - (t - end_s) / 0.04, 0.0, 1.0)
    ring_out = np.clip(1.0 - (t - end_s) / max(plan.hold_end_s, 0.05), 0.0, 1.0)

    drone = _drone(t, depth, rng) * (0.5 + 0.5 * ring_out[:, None])
    gliss = shepard_glissando(n, plan.slots / (3.0 * plan.zoom_s)) * (0.35 + 0.5 * depth) * ring_out**2
    birds = render_flock(flock_schedule(plan, rng), n, rng) * cut[:, None]
    ticks = _clock_ticks(plan, n, rng) * cut[:, None]
    hits = _hits(plan, n, rng)

    space = _reverb(birds + 0.6 * ticks + 0.3 * gliss[:, None] + 0.15 * hits, rng, decay_s=1.6)
    mix = 0.35 * drone + 0.4 * gliss[:, None] + 1.1 * birds + 0.45 * ticks + 0.8 * hits + 0.5 * space
    # the final boom rings out over the end hold: the whole mix decays to silence by the last sample
    decay = np.clip(1.0 - (t - end_s) / max(t[-1] - end_s, 0.05), 0.0, 1.0) ** 2
    return _fade_edges(mix * decay[:, None])


def _drone(t: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """D1 with its fifth and octaves, a dissonant minor ninth, and a rumble; L/R detuned to beat slowly.

    Nothing in it is above 200 Hz, so it is made at 1/8 of the rate and resampled up.
    """
    f0, down = 36.71, 8
    coarse_t = t[::down]
    partials = ((1.0, 1.0), (1.5, 0.45), (2.0, 0.5), (3.0, 0.25), (4.0, 0.15), (2 * 16 / 15, 0.12))
    out = np.zeros((len(coarse_t), 2))
    for ratio, amp in partials:
        for ch, detune_hz in enumerate((-0.11, 0.13)):
            phase = rng.uniform(0, 2 * np.pi)
            out[:, ch] += amp * np.sin(2 * np.pi * (f0 * ratio + detune_hz * ratio) * coarse_t + phase)
    rumble = signal.sosfilt(_RUMBLE, rng.standard_normal(out.shape), axis=0) / np.sqrt(down)
    breathing = 0.8 + 0.2 * np.sin(2 * np.pi * 0.13 * coarse_t + rng.uniform(0, 2 * np.pi))
    coarse = (out / 2.5 + 2.0 * rumble) * (breathing * (0.55 + 0.45 * depth[::down]))[:, None]
    return signal.resample_poly(coarse, down, 1, axis=0)[: len(t)]


def _hits(plan: Plan, n: int, rng: np.random.Generator) -> np.ndarray:
    """A deep hit starting on the exact sample of every slot change; the last one is the final boom."""
    out = np.zeros((n, 2))
    changes = plan.slot_change_times_s
    for k, time_s in enumerate(changes, start=1):
        final = k == len(changes)
        hit = _boom(rng, length_s=3.0 if final else 1.2, f_start_hz=75 if final else 95,
                    f_end_hz=29 if final else 40, decay_s=1.1 if final else 0.32,
                    noise_decay_s=0.25 if final else 0.02)  # fmt: skip
        gain = 1.6 if final else 0.7 + 0.3 * k / len(changes)
        start = round(time_s * RATE)
        length = min(len(hit), n - start)
        if length > 0:
            out[start : start + length] += gain * hit[:length, None]
    return np.tanh(out)  # soft-clipped: booms keep their weight on phones without eating the headroom


def _boom(rng, *, length_s, f_start_hz, f_end_hz, decay_s, noise_decay_s) -> np.ndarray:
    """A falling sine body with a noisy transient; 1 ms attack so the onset is sharp but click-free."""
    t = np.arange(int(length_s * RATE)) / RATE
    freq = f_end_hz + (f_start_hz - f_end_hz) * np.exp(-t / 0.06)
    body = np.sin(2 * np.pi * np.cumsum(freq) / RATE) * np.exp(-t / decay_s)
    thump = signal.sosfilt(_THUMP, rng.standard_normal(len(t))) * np.exp(-t / noise_decay_s) * 0.6
    attack = np.clip(t / 0.001, 0.0, 1.0)
    return (body + thump) * attack


def shepard_glissando(n: int, octaves_per_s: float, *, lowest_hz: float = 27.5, octaves: int = 9) -> np.ndarray:
    """(n,) Shepard–Risset glissando: octave-spaced sines that all rise at `octaves_per_s`.

    Each partial fades in at the bottom of the span and out at the top under a raised-cosine
    envelope over log-frequency, so the pitch class rises forever while the spectrum stays put.
    Every partial is the same sweep, one octave (a whole number of samples) further along, so
    one sweep is synthesised and the partials are read from it at octave-spaced delays.
    """
    octave_samples = max(1, round(RATE / octaves_per_s))
    cycle = octaves * octave_samples
    position = np.arange(min(cycle, n + (octaves - 1) * octave_samples)) / octave_samples  # octaves
    # phase = ∫ 2π·lowest·2^position dt in closed form; it jumps when a partial wraps from
    # the top back to the bottom, which is silent because the envelope is zero there
    phase = (2 * np.pi * lowest_hz * octave_samples / (RATE * np.log(2))) * np.exp2(position)
    sweep = (0.5 - 0.5 * np.cos((2 * np.pi / octaves) * position)) * np.sin(phase)
    index = np.arange(n)
    return sum(sweep[(index + i * octave_samples) % cycle] for i in range(octaves)) / 2.5


def _clock_ticks(plan: Plan, n: int, rng: np.random.Generator) -> np.ndarray:
    """Tick-tock: each slot's time split into ~0.5 s beats, so a tick also falls on every change."""
    bounds = (plan.hold_start_s, *plan.slot_change_times_s)
    times = list(np.arange(plan.hold_start_s, 0.05, -TICK_INTERVAL_S)[::-1][:-1])
    for start, end in zip(bounds[:-1], bounds[1:]):
        count = max(1, round((end - start) / TICK_INTERVAL_S))
        times.extend(start + (end - start) * np.arange(count) / count)
    out = np.zeros((n, 2))
    templates = [_tick(rng, 2600.0), _tick(rng, 1700.0)]
    for i, time_s in enumerate(times):
        tick = templates[i % 2]
        start = round(time_s * RATE)
        length = min(len(tick), n - start)
        pan = -0.25 if i % 2 == 0 else 0.25
        out[start : start + length] += tick[:length, None] * _pan_gains(pan)
    return out


def _tick(rng, resonance_hz: float) -> np.ndarray:
    t = np.arange(int(0.06 * RATE)) / RATE
    burst = rng.standard_normal(len(t)) * np.exp(-t / 0.0015)
    band = signal.butter(2, (resonance_hz * 0.7, resonance_hz * 1.4), "bandpass", fs=RATE, output="sos")  # twice per track
    ring = np.sin(2 * np.pi * resonance_hz * t) * np.exp(-t / 0.012)
    return signal.sosfilt(band, burst) * 1.5 + 0.5 * ring


def flock_schedule(plan: Plan, rng: np.random.Generator) -> list[BirdCall]:
    """The flock's calls, slot by slot: calls per second grow quadratically from first to last slot."""
    bounds = (plan.hold_start_s, *plan.slot_change_times_s)
    calls = []
    for k in range(1, plan.slots + 1):
        start, end = bounds[k - 1], bounds[k]
        grown = (k - 1) / max(plan.slots - 1, 1)
        per_s = BIRDS_PER_S_FIRST + (BIRDS_PER_S_LAST - BIRDS_PER_S_FIRST) * grown**2
        caw_share = CAW_SHARE[0] + (CAW_SHARE[1] - CAW_SHARE[0]) * grown
        for time_s in np.sort(rng.uniform(start, end, max(1, round(per_s * (end - start))))):
            caw = rng.random() < caw_share
            pitch_hz = rng.uniform(420, 680) if caw else rng.uniform(2200, 4800)
            calls.append(BirdCall(float(time_s), k, "caw" if caw else "chirp", float(rng.uniform(-1, 1)), float(pitch_hz)))
    return calls


def render_flock(calls: list[BirdCall], n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) the calls mixed at their times and pans."""
    out = np.zeros((n, 2))
    for call in calls:
        voice = _caw(rng, call.pitch_hz) if call.kind == "caw" else _chirp(rng, call.pitch_hz)
        start = round(call.time_s * RATE)
        length = min(len(voice), n - start)
        if length > 0:
            out[start : start + length] += voice[:length, None] * _pan_gains(call.pan)
    return out


def _chirp(rng, pitch_hz: float) -> np.ndarray:
    """A song bird: 2–5 FM syllables, each a fast sweep with vibrato."""
    parts = []
    for _ in range(rng.integers(2, 6)):
        u = np.linspace(0.0, 1.0, int(rng.uniform(0.04, 0.12) * RATE))
        sweep = rng.uniform(-0.45, 0.5)
        vibrato = 0.06 * np.sin(2 * np.pi * rng.uniform(25, 45) * u * len(u) / RATE)
        freq = pitch_hz * (1 + sweep * u + vibrato)
        phase = 2 * np.pi * np.cumsum(freq) / RATE
        syllable = (np.sin(phase) + 0.2 * np.sin(2 * phase)) * np.sin(np.pi * u) ** 2
        parts += [syllable, np.zeros(int(rng.uniform(0.02, 0.06) * RATE))]
    voice = np.concatenate(parts)
    return 0.3 * voice / np.abs(voice).max()


def _caw(rng, pitch_hz: float) -> np.ndarray:
    """A crow: 1–3 harsh caws, a rough sawtooth with jittered pitch and breath noise, through a formant."""
    parts = []
    for _ in range(rng.integers(1, 4)):
        u = np.linspace(0.0, 1.0, int(rng.uniform(0.18, 0.34) * RATE))
        jitter = np.interp(u, np.linspace(0, 1, 24), rng.normal(0, 0.03, 24))
        freq = pitch_hz * (1 + 0.18 * np.sin(np.pi * u) + jitter)
        phase = 2 * np.pi * np.cumsum(freq) / RATE
        saw = 2 * ((phase / (2 * np.pi)) % 1.0) - 1  # naive sawtooth: its aliasing only adds grit
        rough = 1 + 0.6 * np.sin(2 * np.pi * 70 * u * len(u) / RATE)
        envelope = np.minimum(u / 0.05, 1.0) * (1 - u) ** 1.5
        voice = signal.sosfilt(_CAW_FORMANT, (saw + 0.8 * rng.standard_normal(len(u))) * rough * envelope)
        parts += [voice, np.zeros(int(rng.uniform(0.08, 0.16) * RATE))]
    voice = np.concatenate(parts)
    return 0.5 * voice / np.abs(voice).max()


# ---------------------------------------------------------------------------------------------
# calm

CALM_CHORDS_HZ = (  # D major: Dmaj7, Bm7, Gmaj7, A6 — voiced around middle C
    (146.83, 220.00, 277.18, 369.99),
    (123.47, 185.00, 220.00, 293.66),
    (98.00, 196.00, 246.94, 369.99),
    (110.00, 185.00, 277.18, 329.63),
)


def design_calm(plan: Plan, rng: np.random.Generator) -> np.ndarray:
    """A soft pad that moves to the next chord on each slot change, a chime on each, resolving at the end."""
    n = plan.audio_samples
    t = np.arange(n) / RATE
    bounds = (0.0, plan.hold_start_s, *plan.slot_change_times_s, n / RATE)
    out = np.zeros((n, 2))
    xfade_s = 0.6
    for i, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        chord = CALM_CHORDS_HZ[0] if i in (0, len(bounds) - 2) else CALM_CHORDS_HZ[i % len(CALM_CHORDS_HZ)]
        lo, hi = max(round((start - xfade_s) * RATE), 0), min(round((end + xfade_s) * RATE), n)
        seg = t[lo:hi]
        envelope = np.clip((seg - start + xfade_s) / (2 * xfade_s), 0, 1) * np.clip((end + xfade_s - seg) / (2 * xfade_s), 0, 1)
        envelope = np.sin(0.5 * np.pi * envelope) ** 2  # equal-power-ish crossfade
        for note_hz in chord:
            for ch, cents in enumerate((-4.0, 4.0)):
                f = note_hz * 2 ** (cents / 1200)
                phase = 2 * np.pi * f * seg + rng.uniform(0, 2 * np.pi)
                out[lo:hi, ch] += envelope * (np.sin(phase) + 0.15 * np.sin(2 * phase))
    swell = 0.75 + 0.25 * np.sin(2 * np.pi * 0.1 * t - np.pi / 2)
    out *= swell[:, None] / 8
    for k, time_s in enumerate(plan.slot_change_times_s, start=1):
        chime = _chime(rng.choice(CALM_CHORDS_HZ[k % len(CALM_CHORDS_HZ)]) * 4)
        start = round(time_s * RATE)
        length = min(len(chime), n - start)
        out[start : start + length] += 0.12 * chime[:length, None] * _pan_gains(rng.uniform(-0.5, 0.5))
    return _fade_edges(out + 0.4 * _reverb(out, rng, decay_s=2.5), fade_out_s=min(1.0, plan.hold_end_s + 0.5))


def _chime(f_hz: float) -> np.ndarray:
    t = np.arange(int(2.5 * RATE)) / RATE
    return (np.sin(2 * np.pi * f_hz * t) + 0.3 * np.sin(2 * np.pi * 2.76 * f_hz * t) * np.exp(-t / 0.3)) * np.exp(-t / 0.8) * np.minimum(t / 0.004, 1)


# ---------------------------------------------------------------------------------------------
# shared


def _pan_gains(pan: float) -> np.ndarray:
    """Equal-power stereo gains for pan in [−1, 1]."""
    angle = (pan + 1) * np.pi / 4
    return np.array([np.cos(angle), np.sin(angle)])


def _reverb(dry: np.ndarray, rng: np.random.Generator, *, decay_s: float) -> np.ndarray:
    """A dark stereo room: convolution with decorrelated, exponentially decaying noise (RT60 = decay_s)."""
    t = np.arange(int(decay_s * RATE)) / RATE
    impulse = signal.sosfilt(_DARKEN, rng.standard_normal((len(t), 2)), axis=0) * np.exp(-6.9 * t / decay_s)[:, None]
    impulse /= np.sqrt((impulse**2).sum(axis=0))
    wet = signal.oaconvolve(dry, impulse, axes=0)[: len(dry)]
    return wet


def _fade_edges(samples: np.ndarray, *, fade_in_s: float = 0.01, fade_out_s: float = 0.05) -> np.ndarray:
    n = len(samples)
    ramp_in = np.clip(np.arange(n) / (fade_in_s * RATE), 0, 1)
    ramp_out = np.clip((n - 1 - np.arange(n)) / (fade_out_s * RATE), 0, 1)
    return samples * (ramp_in * ramp_out)[:, None]
