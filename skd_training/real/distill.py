"""Distilling the real-world teachers into the fused model on real drone footage, k-fold by sequence.

A training sample is a frame pair (previous, current) of a box sequence with two targets on the model's
grid: the soft label (the teachers' maps combined by the fold's ``TeacherMix``, ``soft_labels``) and, where
the frame has a box, a weak hard label: a Gaussian on the target box, sigma half the box's size (a person
watching the clip looks at its target most of the time, somewhere on it). The loss is the paper's
``lam * soft + (1 - lam) * hard`` (``skd_training.losses.distillation_loss``), with more weight on the
teachers than the paper's lam = 0.5 (``RealRecipe.lam``); frames without a box learn from the soft label
alone.

Augmentation, the same for both frames and the labels: a random crop of 75-100 % of each side (``min_crop``) and a
horizontal flip (with ``RealRecipe.photometric`` > 0 also a contrast, brightness and saturation change); one
pair in ten shows the current frame twice (the node's first frame, which has no predecessor). With
``RealRecipe.paste`` > 0 that share of the samples also gets the target of another training clip pasted in,
moving on its own (``skd_training.real.paste``). With ``RealRecipe.pairs`` = aligned the previous frame is
then warped onto the current one (``skd_ros.core.registration``), as the runtime does for a checkpoint
trained so. Every training sequence gives the same number of samples per epoch, so that the long clips do
not decide what the model learns.

The checkpoint asks the runtime to multiply its maps by the prior of the teacher mix it learned from, as a
centred Gaussian (``meta["centre_prior"]``, ``skd_ros.core.postprocess.CentrePrior``): the student learns that
prior from the soft labels, but on clips it never saw applies it too weakly (docs/REAL_FOOTAGE.md). With
``RealRecipe.prior_in_loss`` the loss sees the maps multiplied by that prior, as the runtime shows them.

``train_folds`` trains one model per fold on the other folds' sequences (the teacher mix chosen on those
too) and writes a manifest that skd-eval-real reads to score each sequence with the model that never saw
it; ``train_final`` trains the model to ship on every sequence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from skd_ros.core.checkpoint import read_checkpoint, save_fused
from skd_ros.core.model import SKDModel, Widths, count_parameters
from skd_ros.core.postprocess import CentrePrior
from skd_ros.core.preprocess import MEAN_RGB, STD_RGB, preprocess
from skd_ros.core.registration import ALIGNED, RAW, align_previous
from skd_training.data.box_sequences import BoxSequence, sequences_seen
from skd_training.losses import MapLoss, distillation_loss
from skd_training.real.paste import Patch, cut_patches, paste
from skd_training.real.soft_labels import SoftLabels, TeacherMix, choose_mix, working_frame

MANIFEST = "folds.json"
CLIP_FRAME_PERIOD_S = 0.1  # the box sequences' frame rate: 10 fps (../shared/data's README)


@dataclass(frozen=True)
class RealRecipe:
    """How a student learns from the teachers on real footage (the defaults are what the k-fold study chose;
    docs/REAL_FOOTAGE.md has its numbers)."""

    # the student's input side: over two training seeds each, 96 put one of the first three ROIs on the target
    # more often than 64 (0.74 against 0.70) and its maps higher on it (box-NSS 4.5 against 3.9), the peak as
    # often; 2.25x the model's multiply-adds, 2.3-2.7x its time (docs/REAL_FOOTAGE.md, docs/BENCHMARKS.md)
    resolution: int = 96
    # the dilation of the fused model's layers 7, 8, 10 and 11 (skd_ros.core.model.Widths; 1: the paper's); over
    # two training seeds each, 2 put the peak on the target more often than 1 (0.51 against 0.46 at 96x96, top-3
    # the same): a map cell then sees 0.89 of the frame's side instead of 0.55, and the large targets came back
    context_dilation: int = 2
    # the temporal stream's pairs: with the camera's motion taken out (skd_ros.core.registration; with pasted
    # targets every k-fold score rises, docs/REAL_FOOTAGE.md; the live node pays ~1.3 ms a frame), or raw (the paper's)
    pairs: str = ALIGNED
    # how many frames of the training clips (10 fps) lie between a pair's frames: 2 = 0.2 s, and the runtime
    # pairs live frames the same time apart (meta["pair_interval_s"]). A target a few pixels across that
    # moves a pixel or two a frame hardly moves in 0.1 s at the model's resolution
    pair_gap: int = 1
    epochs: int = 12
    samples_per_sequence: int = 120  # per epoch
    batch_size: int = 32
    lr: float = 1e-3
    # the soft labels' share of the loss: the k-fold study tried 0.3 and 0.9 (one seed each), 0.5 (the paper's;
    # two seeds) and 0.7 (three); 0.7 put the ROIs on the targets most often (the box label is one clip's
    # target; the teachers' maps also mark the other objects of its kind)
    lam: float = 0.7
    # KLD and CC shape the distribution; L2 against the peak-1 labels keeps the output's scale near [0, 1],
    # without which the maps shrink below the ROI extraction's min_contrast and no ROI is published
    l2_weight: float = 10.0
    kld_weight: float = 1.0
    cc_weight: float = 1.0
    min_crop: float = 0.75
    self_pair: float = 0.1
    # the chance that a sample gets other training clips' targets pasted in (skd_training.real.paste), and
    # how many at most (1 to paste_objects, evenly); the k-fold study tried 0, 0.5, 0.8 and 0.8 with up to 3
    paste: float = 0.8
    paste_objects: int = 1
    # photometric augmentation, the same for both frames of a pair: contrast, brightness and saturation drawn
    # within +-photometric of unchanged (0: none); twelve clips show a dozen cameras' colours and exposures
    photometric: float = 0.0
    # the runtime multiplies the maps by the teacher mix's prior as a centred Gaussian (meta["centre_prior"],
    # skd_ros.core.postprocess.CentrePrior); False: the network's maps as they are, the paper's model
    centre_prior: bool = True
    # with centre_prior: the loss sees the network's maps multiplied by that prior, as the runtime shows them,
    # so the network learns what the prior leaves to it instead of learning the prior too
    prior_in_loss: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.pairs not in (ALIGNED, RAW):
            raise ValueError(f"pairs must be {ALIGNED!r} or {RAW!r}, got {self.pairs!r}")
        if self.pair_gap < 1:
            raise ValueError(f"pair_gap must be >= 1, got {self.pair_gap}")
        if not 0.0 <= self.paste <= 1.0 or self.paste_objects < 1:
            raise ValueError(f"paste must be in [0, 1] and paste_objects >= 1, got {self.paste}, {self.paste_objects}")
        if not 0.0 <= self.lam <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {self.lam}")
        if not 0.0 < self.min_crop <= 1.0:
            raise ValueError(f"min_crop must be in (0, 1], got {self.min_crop}")
        if not 0.0 <= self.photometric < 1.0:
            raise ValueError(f"photometric must be in [0, 1), got {self.photometric}")
        Widths(context_dilation=self.context_dilation)  # refuses a dilation below 1
        if self.prior_in_loss and not self.centre_prior:
            raise ValueError("prior_in_loss needs centre_prior: the loss would see a prior the runtime does not apply")

    def criterion(self) -> MapLoss:
        return MapLoss(self.l2_weight, self.kld_weight, self.cc_weight)


def box_blob(box: np.ndarray | None, crop: tuple[float, float, float, float], flip: bool, resolution: int):
    """The Gaussian on ``box`` (x, y, w, h in frame pixels) in the grid of ``crop`` (x, y, w, h, frame
    pixels), peak 1; None without a box or when the crop cuts the target away."""
    if box is None:
        return None
    x0, y0, width, height = crop
    cx = (box[0] + box[2] / 2 - x0) / width * resolution
    cy = (box[1] + box[3] / 2 - y0) / height * resolution
    if flip:
        cx = resolution - cx
    sx = max(0.5 * box[2] / width * resolution, 1.0)
    sy = max(0.5 * box[3] / height * resolution, 1.0)
    cells = np.arange(resolution) + 0.5
    blob = np.exp(-0.5 * (((cells[None] - cx) / sx) ** 2 + ((cells[:, None] - cy) / sy) ** 2))
    if blob.max() < 1e-3:
        return None
    return (blob / blob.max()).astype(np.float32)


def photometric_jitter(tensors: list[np.ndarray], strength: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Preprocessed frames (3 x R x R, ``preprocess``'s normalisation) with one random contrast, brightness and
    saturation change applied to all of them, each within +-``strength`` of unchanged, so that a pair keeps its
    frame-to-frame differences. At the model's size rather than the crop's: the changes are per pixel and
    linear, so they commute with the area resize (up to clipping), at a hundredth of the cost."""
    contrast, saturation = rng.uniform(1 - strength, 1 + strength, 2)
    brightness = rng.uniform(-strength, strength) / 2
    mean, std = MEAN_RGB[:, None, None], STD_RGB[:, None, None]
    out = []
    for tensor in tensors:
        pixels = tensor * std + mean  # RGB in [0, 1]
        grey = pixels.mean(axis=0, keepdims=True)
        pixels = grey + saturation * (pixels - grey)
        pixels = np.clip((pixels - 0.5) * contrast + 0.5 + brightness, 0.0, 1.0)
        out.append(((pixels - mean) / std).astype(np.float32))
    return out


def working_frames(sequence: BoxSequence) -> list[np.ndarray]:
    """Every frame up to the last box at the teachers' working width (training crops from these)."""
    return [working_frame(sequence.read(i)) for i in range(len(sequence.boxes))]


class SequenceSamples:
    """One box sequence's frames (at the teachers' working width) with its soft labels."""

    def __init__(self, sequence: BoxSequence, frames: list[np.ndarray], soft: np.ndarray, resolution: int):
        self.name = sequence.name
        self.frames = frames
        full_height, full_width = sequence.read(0).shape[:2]
        self.full_size = full_width, full_height
        self.scale = frames[0].shape[1] / full_width, frames[0].shape[0] / full_height
        self.boxes = [box for _, box in sequence.scored()]
        self.soft = soft
        self.resolution = resolution
        self.donors: list[Patch] = []  # other training clips' targets, for RealRecipe.paste
        self.prior: np.ndarray | None = None  # the whole frame's centre prior (R x R), for RealRecipe.prior_in_loss

    def patches(self) -> list[Patch]:
        return cut_patches(self.frames, self.boxes, self.scale)

    def __len__(self) -> int:
        return len(self.frames)

    def _normalised(self, frame: np.ndarray, flip: bool) -> np.ndarray:
        """The crop as the model sees it (the runtime's own ``preprocess``), mirrored when ``flip``."""
        tensor = preprocess(frame, self.resolution)
        return np.ascontiguousarray(tensor[:, :, ::-1]) if flip else tensor

    def sample(self, rng: np.random.Generator, recipe: RealRecipe):
        """(previous, current, soft, blob or None, prior or None) for a random frame, augmented (module
        docstring); the prior is ``self.prior`` in the crop's grid."""
        index = int(rng.integers(len(self)))
        # the first frames pair with the oldest there is, as the runtime's do at the start of a stream
        previous = max(index - recipe.pair_gap, 0) if index > 0 and rng.random() >= recipe.self_pair else index
        sx, sy = self.scale
        pair, soft_label, pasted = (self.frames[previous], self.frames[index]), self.soft[index], []
        if self.donors and rng.random() < recipe.paste:
            for _ in range(int(rng.integers(1, recipe.paste_objects + 1))):
                patch = self.donors[int(rng.integers(len(self.donors)))]
                *pair, box = paste(*pair, patch, rng, moving=previous != index)
                if box is None:
                    continue
                pasted.append(np.array([box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy]))
                whole = box_blob(pasted[-1], (0.0, 0.0, *self.full_size), False, self.resolution)
                soft_label = soft_label if whole is None else np.maximum(soft_label, whole)
        height, width = pair[1].shape[:2]
        crop_w = int(round(rng.uniform(recipe.min_crop, 1.0) * width))
        crop_h = int(round(rng.uniform(recipe.min_crop, 1.0) * height))
        x0, y0 = int(rng.integers(0, width - crop_w + 1)), int(rng.integers(0, height - crop_h + 1))
        flip = bool(rng.random() < 0.5)
        frames = [self._normalised(np.ascontiguousarray(f[y0 : y0 + crop_h, x0 : x0 + crop_w]), flip) for f in pair]
        if recipe.photometric:
            frames = photometric_jitter(frames, recipe.photometric, rng)
        if recipe.pairs == ALIGNED and previous != index:
            frames[0] = align_previous(frames[0], frames[1])
        r = self.resolution
        # the soft label's grid spans the whole frame: output cell u of the crop's grid samples the frame's
        # grid at x0 / width * r + (u + 0.5) * crop_w / width - 0.5 (likewise for rows)
        to_crop = np.array(
            [[crop_w / width, 0, x0 / width * r + 0.5 * crop_w / width - 0.5],
             [0, crop_h / height, y0 / height * r + 0.5 * crop_h / height - 0.5]],
            np.float32,
        )  # fmt: skip

        def in_crop(grid: np.ndarray) -> np.ndarray:
            warped = cv2.warpAffine(
                grid, to_crop, (r, r), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
            )
            return np.ascontiguousarray(warped[:, ::-1] if flip else warped)

        soft, prior = in_crop(soft_label), None if self.prior is None else in_crop(self.prior)
        crop = (x0 / sx, y0 / sy, crop_w / sx, crop_h / sy)
        blob = box_blob(self.boxes[index], crop, flip, r)
        for box in pasted:
            pasted_blob = box_blob(box, crop, flip, r)
            if pasted_blob is not None:
                blob = pasted_blob if blob is None else np.maximum(blob, pasted_blob)
        return frames[0], frames[1], soft, blob, prior


def batches(data: list[SequenceSamples], recipe: RealRecipe, rng: np.random.Generator):
    """One epoch: ``samples_per_sequence`` from every sequence, shuffled, as tensors (previous, current,
    soft, hard, has_hard, prior or None)."""
    order = np.repeat(np.arange(len(data)), recipe.samples_per_sequence)
    rng.shuffle(order)
    for start in range(0, len(order) - recipe.batch_size + 1, recipe.batch_size):
        samples = [data[j].sample(rng, recipe) for j in order[start : start + recipe.batch_size]]
        previous, current, soft = (torch.from_numpy(np.stack([s[k] for s in samples])) for k in range(3))
        has_hard = torch.tensor([s[3] is not None for s in samples])
        hard = torch.from_numpy(np.stack([s[3] if s[3] is not None else s[2] for s in samples]))
        prior = None if samples[0][4] is None else torch.from_numpy(np.stack([s[4] for s in samples]))[:, None]
        yield previous, current, soft[:, None], hard[:, None], has_hard, prior


def train_student(
    data: list[SequenceSamples], recipe: RealRecipe, seed: int, desc: str, initial: dict | None = None
) -> SKDModel:
    """The fused model distilled on ``data``, from ``initial`` (a state dict) or PyTorch's default
    initialisation."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SKDModel(Widths(context_dilation=recipe.context_dilation))
    if initial is not None:
        model.load_state_dict(initial)
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    steps_per_epoch = recipe.samples_per_sequence * len(data) // recipe.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch, pct_start=0.15
    )
    criterion = recipe.criterion()
    model.train()
    with tqdm(total=recipe.epochs * steps_per_epoch, desc=desc, unit="step") as bar:
        for epoch in range(recipe.epochs):
            total = 0.0
            for previous, current, soft, hard, has_hard, prior in batches(data, recipe, rng):
                maps = model(previous, current)
                if prior is not None:
                    maps = maps * prior
                loss = distillation_loss(maps, soft, hard, recipe.lam, criterion, has_hard)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                total += float(loss.detach())
                bar.update()
            bar.set_postfix(epoch=epoch + 1, loss=f"{total / steps_per_epoch:.4f}")
    return model.eval()


def k_folds(names: list[str], k: int, seed: int) -> list[list[str]]:
    """``names`` split into k folds by a seeded permutation (fixed before any model is trained)."""
    if not 2 <= k <= len(names):
        raise ValueError(f"k-fold by sequence needs 2 <= k <= {len(names)} sequences, got k = {k}")
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    return [sorted(order[i::k]) for i in range(k)]


class RealDistillation:
    """Trains students on ``sequences`` with ``labels``, writing checkpoints into ``out``."""

    def __init__(self, sequences: list[BoxSequence], labels: SoftLabels, out: Path, recipe: RealRecipe,
                 init: Path | None = None, command: str = "skd-train-real",
                 log: Callable[[str], None] = print, unlabeled: list[BoxSequence] = ()):  # fmt: skip
        """``init``: a fused checkpoint to start from (e.g. a model trained on synthetic scenes); a fold that
        holds out a sequence it saw (``sequences_seen``) starts from scratch instead, so that no sequence is
        scored by a model that saw it. ``unlabeled``: clips without boxes (``open_unlabeled_sequence``), in
        the training of every fold and of the final model with the teachers' soft labels only; never held
        out, never scored, and no part of choosing the teacher mix."""
        self.sequences = {s.name: s for s in sequences}
        self.unlabeled = {s.name: s for s in unlabeled}
        if clash := sorted(set(self.sequences) & set(self.unlabeled)):
            raise ValueError(f"unlabeled clips named like box sequences: {clash}; rename their folders")
        self.init = Path(init) if init else None
        self.command = command
        self.init_state, self.init_meta, self.init_seen = None, {}, set()
        if self.init:
            checkpoint = read_checkpoint(self.init)
            self.init_state, self.init_meta = checkpoint["state_dict"], checkpoint.get("meta", {})
            self.init_seen = sequences_seen(self.init_meta, sequences)
            log(f"init {self.init}: saw {sorted(self.init_seen) or 'none of these sequences'}")
        self.labels = labels
        self.out = Path(out)
        self.recipe = recipe
        self.log = log
        self._frames: dict[str, list[np.ndarray]] = {}  # read once, shared by every fold

    def _samples(self, names: list[str], mix: TeacherMix) -> list[SequenceSamples]:
        found = []
        prior = self.labels.centre_prior(mix) if self.recipe.prior_in_loss else None
        r = self.recipe.resolution
        for name in names:
            sequence = self.sequences.get(name) or self.unlabeled[name]
            if name not in self._frames:
                self._frames[name] = working_frames(sequence)
            soft = self.labels.soft_labels(sequence, mix)
            found.append(SequenceSamples(sequence, self._frames[name], soft, r))
            found[-1].prior = None if prior is None else prior.weights(r, r)
        if self.recipe.paste:
            patches = {samples.name: samples.patches() for samples in found}
            for samples in found:
                samples.donors = [p for name, own in patches.items() if name != samples.name for p in own]
        return found

    def train(self, names: list[str], path: Path, seed: int, desc: str, held_out: list[str]) -> dict:
        """A student on the sequences ``names``, saved to ``path`` (reused when it is already there and was
        trained on the same sequences with the same recipe and start). Returns its record."""
        recipe = asdict(self.recipe)
        from_init = self.init is not None and not self.init_seen & set(held_out)
        if self.init is not None and not from_init:
            self.log(f"{desc}: from scratch, as {self.init} saw {sorted(self.init_seen & set(held_out))}")
        start = str(self.init) if from_init else "scratch"
        # what the student will have seen: its training sequences, the unlabeled clips and those its starting
        # point saw
        trained_on = sorted(set(names) | set(self.unlabeled) | (self.init_seen if from_init else set()))
        if path.is_file():
            meta = read_checkpoint(path).get("meta", {})
            if meta.get("real_sequences") == trained_on and meta.get("recipe") == recipe and meta.get("init") == start:
                self.log(f"{path}: already trained on these sequences, reused")
                return meta
        mix = choose_mix(self.labels, [self.sequences[n] for n in names], self.log)
        started = time.monotonic()
        initial = self.init_state if from_init else None
        model = train_student(self._samples(names + sorted(self.unlabeled), mix), self.recipe, seed, desc, initial)
        meta = {
            "command": self.command,
            "real_sequences": trained_on,
            "init": start,
            "init_meta": self.init_meta if from_init else {},  # the starting point's own provenance
            "teacher_mix": asdict(mix),
            "recipe": recipe,
            "pairs": self.recipe.pairs,  # read by the runtime (skd_ros.core.registration.pairs_of)
            "pair_interval_s": self.recipe.pair_gap * CLIP_FRAME_PERIOD_S,  # read by the runtime (FramePairBuffer)
            "spatial_teacher": self.labels.spatial_key,
            "parameters": count_parameters(model),
            "train_minutes": round((time.monotonic() - started) / 60, 1),
            "held_out": held_out,
            "unlabeled_sequences": sorted(self.unlabeled),
        }
        prior = self.labels.centre_prior(mix) if self.recipe.centre_prior else None
        if prior is not None:
            meta[CentrePrior.META_KEY] = prior.as_meta()  # read by the runtime, like "pairs"
        save_fused(model, path, self.recipe.resolution, meta)
        self.log(f"wrote {path}")
        return meta

    def train_folds(self, k: int, fold_seed: int | None = None) -> Path:
        """One student per fold, trained without that fold's sequences; returns the manifest. ``fold_seed``:
        the split's seed (default the recipe's), held fixed to compare training seeds on the same folds."""
        fold_seed = self.recipe.seed if fold_seed is None else fold_seed
        folds = k_folds(sorted(self.sequences), k, fold_seed)
        entries = []
        for number, held_out in enumerate(folds):
            training = [n for n in sorted(self.sequences) if n not in held_out]
            name = f"fold{number}.pt"
            seed, desc = self.recipe.seed + 1 + number, f"fold {number + 1}/{k}"
            meta = self.train(training, self.out / name, seed, desc, held_out)
            entries.append(
                {"checkpoint": name, "held_out": held_out, "teacher_mix": meta["teacher_mix"], "init": meta["init"]}
            )
        manifest = self.out / MANIFEST
        record = {
            "folds": entries, "fold_seed": fold_seed, "recipe": asdict(self.recipe),
            "teacher_width": self.labels.spatial.width, "motion_width": self.labels.motion_width,
        }  # fmt: skip
        manifest.write_text(json.dumps(record, indent=1))
        self.log(f"wrote {manifest}")
        return manifest

    def train_final(self) -> Path:
        path = self.out / f"skd_fused_{self.recipe.resolution}.pt"
        self.train(sorted(self.sequences), path, self.recipe.seed, "final (every sequence)", [])
        return path
