"""Attributes in latent space: do they form clusters, and can they steer generation?

- :mod:`~aegen.attributes.analysis`: class centres, distances, covariance difference, linear
  probe, silhouettes and 2-D views per attribute (``aegen attributes``).
- :mod:`~aegen.attributes.directions`: attribute directions (mean difference or probe normal)
  and moves along them; :mod:`~aegen.attributes.editing` edits real faces (``aegen edit``).
- :mod:`~aegen.attributes.classifier`: a small CNN trained on the real images that rates
  generated faces; :mod:`~aegen.attributes.conditional` checks conditional sampling with it.
"""

from aegen.attributes.analysis import analyze_attribute, analyze_run
from aegen.attributes.classifier import AttributeClassifier, load_or_train_classifier
from aegen.attributes.clusters import LatentViews, silhouette
from aegen.attributes.conditional import rate_conditional_sampling
from aegen.attributes.directions import AttributeDirection, LinearProbe, parse_strengths
from aegen.attributes.editing import edit_faces, write_edit_strip
from aegen.attributes.labels import resolve_attributes
from aegen.attributes.separation import class_separation

__all__ = [
    "AttributeClassifier", "AttributeDirection", "LatentViews", "LinearProbe", "analyze_attribute", "analyze_run",
    "class_separation", "edit_faces", "load_or_train_classifier", "parse_strengths",
    "rate_conditional_sampling", "resolve_attributes", "silhouette", "write_edit_strip",
]
