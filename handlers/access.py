"""Who sees which territories: a coordinator its own and every one below it; an admin all of them."""

from __future__ import annotations

from bot.context import Context
from storage.territories import subtree_ids


async def visible_territories(ctx: Context) -> list[int] | None:
    """The territory ids this member oversees; None for an admin, who oversees every territory."""
    assert ctx.member is not None
    if ctx.member.role == "admin":
        return None
    return await subtree_ids(ctx.session, ctx.member.territory_id)


async def oversees(ctx: Context, territory_id: int) -> bool:
    scope = await visible_territories(ctx)
    return scope is None or territory_id in scope
