"""Which field an edit changes: one rule for published and scheduled posts."""

from __future__ import annotations

import pytest

from services.publisher.models import PostUpdate
from services.publisher.publishing import edited_field
from shared.events.content import PostType
from shared.http.problems import Problem


def test_a_text_post_edits_its_text_and_a_media_post_its_caption() -> None:
    assert edited_field(PostType.TEXT, PostUpdate(text="Clinic at 10")) == ("text", "Clinic at 10")
    assert edited_field(PostType.PHOTO, PostUpdate(caption="Short queue")) == (
        "caption",
        "Short queue",
    )


def test_a_poll_is_not_editable() -> None:
    with pytest.raises(Problem) as refused:
        edited_field(PostType.POLL, PostUpdate(text="x"))
    assert (refused.value.status, refused.value.type_) == (409, "not-editable")


@pytest.mark.parametrize(
    ("post_type", "change"),
    [(PostType.TEXT, PostUpdate(caption="x")), (PostType.VIDEO, PostUpdate(text="x"))],
)
def test_an_edit_of_the_other_field_is_refused(post_type: PostType, change: PostUpdate) -> None:
    with pytest.raises(Problem) as refused:
        edited_field(post_type, change)
    assert (refused.value.status, refused.value.type_) == (422, "validation")
