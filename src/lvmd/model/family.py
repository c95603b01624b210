"""Model families: which variables a CRT-response model may use, parsed and validated once.

A family name joins tokens with ``+``: ``clinical`` (the clinical candidates that pass screening), the conventional
dyssynchrony parameters ``psd`` / ``pbw`` (entered as they are), and image-feature kinds (``ae``, ``pca``, any kind
registered in :mod:`lvmd.model.kinds`), whose features enter by their kind's rule (the paper's screening, or a
ridge penalty for ``pattern``). ``clinical+psd+ae`` is the paper's model; ``clinical+psd`` its base.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError
from .kinds import kind_names

CONVENTIONAL = {"psd": "psd_deg", "pbw": "pbw_deg"}
CONVENTIONAL_LABELS = {"psd": "PSD", "pbw": "PBW"}
DEFAULT_FAMILIES = ("clinical", "clinical+psd", "clinical+pbw", "clinical+psd+ae", "clinical+pbw+ae",
                    "clinical+psd+pca", "clinical+pbw+pca", "clinical+psd+pattern", "clinical+psd+ae+pattern")


@dataclass(frozen=True)
class Family:
    """A parsed model family.

    Attributes
    ----------
    clinical : bool
        Screened clinical variables enter.
    conventional : tuple of str
        Conventional parameters entered as they are (``"psd"``, ``"pbw"``).
    kinds : tuple of str
        Image-feature kinds whose features are screened (in registry order).
    """

    clinical: bool
    conventional: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``"clinical+psd+ae"``."""
        return "+".join((["clinical"] if self.clinical else []) + list(self.conventional) + list(self.kinds))

    @property
    def label(self) -> str:
        """Display name, e.g. ``"clinical + PSD + AE"``."""
        parts = (["clinical"] if self.clinical else []) + [CONVENTIONAL_LABELS[c] for c in self.conventional]
        return " + ".join(parts + [k.upper() for k in self.kinds])

    @property
    def conventional_columns(self) -> list[str]:
        """Columns of the conventional parameters (``psd_deg``, ``pbw_deg``)."""
        return [CONVENTIONAL[c] for c in self.conventional]

    @property
    def base(self) -> "Family":
        """The same family without image features: what an image family's gain is measured against."""
        return Family(self.clinical, self.conventional, ())

    def __str__(self) -> str:
        return self.name


def parse_family(family: "str | Family") -> Family:
    """Parse and validate a family name (a :class:`Family` passes through).

    Examples
    --------
    >>> parse_family("clinical+ae+psd").name
    'clinical+psd+ae'
    """
    if isinstance(family, Family):
        return family
    tokens = [t.strip().lower() for t in str(family).split("+")]
    known = kind_names()
    for t in tokens:
        if t != "clinical" and t not in CONVENTIONAL and t not in known:
            raise ModelError(f"model family {family!r}: {t!r} is not clinical, psd, pbw or an image-feature kind "
                             f"({', '.join(known)})")
    if len(set(tokens)) != len(tokens):
        raise ModelError(f"model family {family!r} names a part twice")
    return Family("clinical" in tokens, tuple(c for c in CONVENTIONAL if c in tokens),
                  tuple(k for k in known if k in tokens))


def check_families(names, field: str = "stats.families") -> list[Family]:
    """Parse every family name a configuration lists (``lvmd config --check`` runs this with the other checks)."""
    families = []
    for i, name in enumerate(names):
        try:
            families.append(parse_family(name))
        except ModelError as exc:
            raise ModelError(f"{field}[{i}]: {exc}") from None
    return families
