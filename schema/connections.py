"""Relay cursor-connection pieces shared by every paged list."""

from __future__ import annotations

import strawberry


@strawberry.type(description="Where a page of a connection sits (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when more items follow; ask again with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="True when this page was asked for with `after` (items precede it)."
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first item of this page (null on an empty page)."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item of this page; pass it as `after` for the next page."
    )
