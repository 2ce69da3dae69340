"""Data: one ``--data`` spec for every command, preprocessed once into a uint8 cache."""

from aegen.data.dataset import ImageDataset, load_dataset
from aegen.data.sources import Annotations, parse_spec

__all__ = ["Annotations", "ImageDataset", "load_dataset", "parse_spec"]
