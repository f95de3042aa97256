"""Datasets and input encodings for training and evaluation.

* MNIST from its IDX files (``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``), indexed by sample
  number so that a config's ``train = [0, 7999]`` / ``eval = [8000, 9999]`` ranges select samples.
* A folder of event files (:mod:`snnc.runtime.datasets`): class folders ``DIR/<class>/*.{bin,npy,npz,aedat4}``, or
  ``labels.csv`` with lines ``file,label``; any format :mod:`snnc.runtime.eventio` reads.

Encodings (``[encoding] kind``), all built on :mod:`snnc.runtime.events`, so that the simulator sees the same events:

* ``poisson``: :func:`~snnc.runtime.events.poisson_events` with ``max_rate`` mean events per pixel and step at full
  intensity.  Binned into ``timesteps`` steps of ``step_us`` these are independent Poisson counts per step, which is
  what training draws directly with ``torch.poisson`` (fast, fresh every epoch).
* ``saccade``: :func:`~snnc.runtime.events.saccade_events` (two polarity channels, 34x34 for MNIST), one fixed event
  stream per sample, binned once.
* ``events``: the files' own events, binned into ``timesteps`` steps of ``step_us`` (events at or after
  ``timesteps * step_us`` are left out, for the chip too).  This is Qualia-SNN's ``IntegrateEventsByFixedDuration``
  (``duration = step_us``) followed by ``Split2TimeSteps`` (``chunks = timesteps``), keeping the first chunk of each
  recording; docs/training.md compares the two.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from snnc.compiler.errors import SnncError
from snnc.runtime.events import events_to_frames, load_events, poisson_events, saccade_events

from .models import input_shape

MNIST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


#: Most bytes an IDX file may hold once decompressed (MNIST's 70,000 images are 55 MB).
MAX_IDX_BYTES = 512 << 20


def _open_idx(folder: Path, name: str):
    for cand in (folder / name, folder / (name + ".gz")):
        if cand.is_file():
            return cand
    raise SnncError(f"dataset.path {str(folder)!r} holds no {name} or {name}.gz; point it at the MNIST folder")


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read(MAX_IDX_BYTES + 1)  # bounded: a small .gz may inflate without end
    except (OSError, EOFError, zlib.error) as e:
        raise SnncError(f"{path}: cannot read ({e})") from None
    if len(raw) > MAX_IDX_BYTES:
        raise SnncError(f"{path}: holds more than {MAX_IDX_BYTES >> 20} MiB of data (all of MNIST is 55 MB); is "
                        "it the right file?")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise SnncError(f"{path}: not an IDX file of unsigned bytes")
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    start = 4 + 4 * nd
    n = int(np.prod(dims))
    if len(raw) - start != n:
        raise SnncError(f"{path}: truncated IDX file ({len(raw) - start} bytes of data, {n} expected)")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def load_mnist(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``uint8 [N, 28, 28]`` and labels ``int64 [N]`` from an MNIST folder (plain or gzipped IDX)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SnncError(f"dataset.path {str(folder)!r} is not a folder; point it at the folder with the MNIST files")
    imgs = _read_idx(_open_idx(folder, MNIST_FILES[0]))
    labels = _read_idx(_open_idx(folder, MNIST_FILES[1])).astype(np.int64)
    if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
        raise SnncError(f"{folder}: images {imgs.shape} and labels {labels.shape} do not match")
    return imgs, labels


class Dataset:
    """One split of a configured dataset.  ``frames(idx, generator)`` gives input counts ``[B, T, C, H, W]``;
    ``events(i)`` gives the event stream of sample ``i`` for the simulator (same events as ``eval_frames``)."""

    def __init__(self, cfg, split: str):
        d, e = cfg.dataset, cfg.encoding
        self.kind, self.enc = d["kind"], e["kind"]
        self.T, self.step_us, self.max_rate = e["timesteps"], e["step_us"], e["max_rate"]
        self.duration_us = self.T * self.step_us
        lo, hi = d[split]
        if d["kind"] == "mnist":
            imgs, labels = load_mnist(d["path"])
            self._check_range(split, lo, hi, len(labels))
            self.images = imgs[lo: hi + 1]
            self.labels = labels[lo: hi + 1]
            self.shape = input_shape(cfg)
        else:
            from snnc.runtime.datasets import open_dataset

            ds = open_dataset(d["path"])
            files, labels = ds.files, ds.labels
            self._check_range(split, lo, hi, len(labels))
            self.files = files[lo: hi + 1]
            self.labels = labels[lo: hi + 1]
            self.shape = input_shape(cfg)
        self.first = lo
        n_cls = d["classes"]
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= n_cls):
            raise SnncError(f"dataset: labels range {self.labels.min()}..{self.labels.max()} does not fit "
                            f"dataset.classes = {n_cls}")
        self._cache: dict[int, np.ndarray] = {}

    @staticmethod
    def _check_range(split, lo, hi, n):
        if hi >= n:
            raise SnncError(f"dataset.{split} = [{lo}, {hi}] goes past the dataset's {n} samples (last index {n - 1})")

    def __len__(self) -> int:
        return len(self.labels)

    def events(self, i: int) -> np.ndarray:
        """The input event stream of sample ``i`` (0-based within the split), deterministic per sample."""
        rng = np.random.default_rng(1_000_003 + self.first + i)
        if self.kind == "mnist":
            img = self.images[i].astype(np.float64) / 255.0
            if self.enc == "poisson":
                rate_hz = self.max_rate / self.step_us * 1e6
                return poisson_events(img, duration_us=self.duration_us, max_rate_hz=rate_hz, rng=rng)
            return saccade_events(img, duration_us=self.duration_us, rng=rng)
        ev = load_events(self.files[i], shape=self.shape)
        return ev[ev["t"] < self.duration_us]  # the T steps of step_us: what training sees, the chip sees

    def sample_frames(self, i: int) -> np.ndarray:
        """``events(i)`` binned into ``[T, C, H, W]`` counts."""
        if i not in self._cache:
            fr = events_to_frames(self.events(i), self.shape, self.T, self.duration_us)
            if self.enc == "poisson":
                return fr
            self._cache[i] = fr.astype(np.uint8 if fr.max(initial=0) < 256 else np.int32)
        return self._cache[i]

    def frames(self, idx, generator: torch.Generator | None = None, fresh: bool = True) -> torch.Tensor:
        """Input counts ``[B, T, C, H, W]`` (float) for samples ``idx``.

        Poisson encoding with ``fresh``: new Poisson counts drawn with ``generator`` (the distribution of the binned
        ``events``).  Otherwise: exactly the binned ``events(i)``.
        """
        idx = np.asarray(idx)
        if self.kind == "mnist" and self.enc == "poisson" and fresh:
            img = torch.from_numpy(self.images[idx].astype(np.float32) / 255.0)  # [B, H, W]
            lam = (img * self.max_rate)[:, None, None].expand(len(idx), self.T, 1, *img.shape[1:])
            return torch.poisson(lam.contiguous(), generator=generator)
        return torch.from_numpy(np.stack([self.sample_frames(int(i)) for i in idx]).astype(np.float32))
