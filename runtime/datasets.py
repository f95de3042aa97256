"""Event data sets in folders.

Two layouts are read:

* **class folders** -- ``DIR/<class>/<file>`` with event files (``.bin``, ``.npy``, ``.npz``, ``.aedat4``), as
  N-MNIST and tonic lay them out (``Test/0/00004.bin``).  Folder names are the class indices (``0``, ``1``, ...),
  or ``DIR/classes.txt`` lists the folder names, one per line, in label order (line 1 = class 0);
* **labels.csv** -- ``DIR/labels.csv`` with lines ``file,label`` (the layout ``snnc train`` has always read).

Samples of the class-folder layout are taken from the classes in turn (the first file of each class, then the
second of each, ...; files by name, numbers in names compare as numbers), so that an index names the same sample on
every machine and any first N samples (``--limit N``, a training range) cover the classes evenly.  :func:`open_dataset` checks the layout and returns an :class:`EventDataset`; the
files themselves are read later, one at a time (:func:`snnc.runtime.events.load_events`).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError

from .eventio import EVENT_SUFFIXES


@dataclass
class EventDataset:
    """Files, their labels and the class names (index = label) of an event data set."""

    root: Path
    files: list[Path]
    labels: np.ndarray
    classes: list[str]
    layout: str  # "folders" or "labels.csv"
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, indices) -> "EventDataset":
        idx = list(indices)
        return EventDataset(self.root, [self.files[i] for i in idx], self.labels[idx], self.classes, self.layout,
                            dict(self.meta))


def _natural_key(name: str):
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", name)]


def _event_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EVENT_SUFFIXES
                   and not p.name.startswith(".")), key=lambda p: _natural_key(p.name))


def read_labels_csv(folder: Path) -> tuple[list[Path], np.ndarray]:
    """The files and labels of ``folder/labels.csv`` (lines ``file,label``; a ``file,label`` header and ``#``
    comments are skipped)."""
    lab = folder / "labels.csv"
    files, labels = [], []
    with open(lab, newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if not row or row[0].startswith("#") or (i == 0 and row[0].strip().lower() == "file"):
                continue
            if len(row) != 2 or not row[1].strip().lstrip("-").isdigit():
                raise SnncError(f"{lab}: line {i + 1} is not 'file,label': {','.join(row)!r}")
            files.append(folder / row[0].strip())
            labels.append(int(row[1]))
    return files, np.asarray(labels, dtype=np.int64)


def open_dataset(root: str | Path) -> EventDataset:
    """Read the layout of an event data-set folder (see the module docstring); raises :class:`SnncError` naming
    the problem and the expected layout."""
    root = Path(root)
    if not root.is_dir():
        raise SnncError(f"data set {str(root)!r} is not a folder; give a folder DIR/<class>/<files> or one with "
                        "labels.csv")
    if (root / "labels.csv").is_file():
        files, labels = read_labels_csv(root)
        if not files:
            raise SnncError(f"{root / 'labels.csv'} lists no samples")
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise SnncError(f"{root / 'labels.csv'} lists {missing[0].name}, which is not in {root} "
                            f"({len(missing)} missing file(s))")
        if labels.min() < 0:
            raise SnncError(f"{root / 'labels.csv'}: label {int(labels.min())} is negative")
        n_cls = int(labels.max()) + 1
        return EventDataset(root, files, labels, [str(i) for i in range(n_cls)], "labels.csv")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes_txt = root / "classes.txt"
    if classes_txt.is_file():
        names = [ln.strip() for ln in classes_txt.read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.startswith("#")]
        if len(set(names)) != len(names):
            raise SnncError(f"{classes_txt}: a class name appears twice")
        have = {p.name for p in folders}
        absent = [n for n in names if n not in have]
        if absent:
            raise SnncError(f"{classes_txt} names class {absent[0]!r}, but {root} has no folder of that name")
        extra = sorted(have - set(names))
        if extra:
            raise SnncError(f"{root}: folder {extra[0]!r} is not listed in classes.txt; add it (one class per "
                            "line, in label order) or move it out")
        order = [(i, root / n) for i, n in enumerate(names)]
    else:
        if not folders:
            hint = ""
            if _event_files(root):
                hint = " (it holds event files directly: put them in one folder per class, or list them in labels.csv)"
            raise SnncError(f"data set {str(root)!r} has no class folders and no labels.csv{hint}; expected "
                            "DIR/<class>/<files> with class folders named 0, 1, ... or listed in classes.txt")
        bad = [p.name for p in folders if not p.name.isdigit()]
        if bad:
            sub = [p.name for p in folders if p.name.lower() in ("train", "test")]
            if sub:
                raise SnncError(f"{root} holds {', '.join(sub)}: give the split's folder, e.g. {root / sub[0]}")
            raise SnncError(f"{root}: class folder {bad[0]!r} is not a class index; name the folders 0, 1, ... or "
                            "list them, in label order, in classes.txt")
        order = sorted(((int(p.name), p) for p in folders), key=lambda t: t[0])
        names = [str(i) for i in range(order[-1][0] + 1)] if order else []
    per_class = [(label, _event_files(folder)) for label, folder in order]
    files, labels = [], []
    for k in range(max((len(f) for _, f in per_class), default=0)):
        for label, found in per_class:
            if k < len(found):
                files.append(found[k])
                labels.append(label)
    if not files:
        raise SnncError(f"data set {str(root)!r} holds no event files ({', '.join(EVENT_SUFFIXES)}) in its class "
                        "folders")
    return EventDataset(root, files, np.asarray(labels, np.int64), names, "folders")
