"""Structural checks of video and voice containers (MP4, WebM, Ogg/Opus).

A file's first bytes name its container, but a file that only starts like one (an MP4
`ftyp` box followed by HTML) must not be stored as video. Each check walks the whole
container's framing, pure Python over the file on disk, with bounded work: the element
or page count is capped, payloads are skipped, not read (Ogg's page CRCs excepted).
Each raises `Unsupported` for a file that is not well formed.
"""

from services.publisher.media.containers.mp4 import check_mp4
from services.publisher.media.containers.ogg import check_ogg_opus
from services.publisher.media.containers.webm import check_webm

__all__ = ["check_mp4", "check_ogg_opus", "check_webm"]
