"""Media storage shared by the publisher (writes), feed (serves) and retention (deletes)."""

from shared.media.store import LocalMediaStore, MediaStore

__all__ = ["LocalMediaStore", "MediaStore"]
