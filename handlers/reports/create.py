"""/signaler: a field problem reported in under a minute (theme, commune, description, public, urgency)."""

from __future__ import annotations

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.router import Router, parse_command
from handlers import places
from handlers.reports.masking import mask
from storage.reports import NewReport, create_report
from storage.themes import guess, themes

router = Router("reports")

DESCRIPTION_LIMIT = 1000
PUBLICS = ("seniors", "jeunes", "emploi", "handicap", "allophones", "familles", "tous")
URGENCIES = ("low", "normal", "urgent")
FIELDS = ("theme", "commune", "description", "public", "urgency")


def theme_choices() -> tuple[Choice, ...]:
    return tuple(Choice(theme.id, theme.short) for theme in themes().problems)


def public_choices() -> tuple[Choice, ...]:
    return tuple(Choice(p, t(f"reports.public_{p}")) for p in PUBLICS)


def urgency_choices() -> tuple[Choice, ...]:
    return tuple(Choice(u, t(f"reports.urgency_{u}")) for u in URGENCIES)


@router.command("signaler", help_key="reports.help_signaler", example_key="reports.example_signaler", order=10,
                aliases=("signalement_nouveau", "probleme"))
async def start(event: TextReceived, ctx: Context) -> list[Reply]:
    _, text = parse_command(event.text) or ("", "")
    ctx.conversation.goto("report.theme")
    if not text:
        return [Reply(t("reports.intro")), ask_theme()]
    return await prefill(text, ctx)


async def prefill(text: str, ctx: Context) -> list[Reply]:
    """One-shot `/signaler la CAF bloque à Romagné`: keep what can be inferred, ask only for the rest."""
    if len(text) > DESCRIPTION_LIMIT:
        return [Reply(t("reports.too_long", limit=DESCRIPTION_LIMIT, length=len(text))), ask_theme()]
    theme = guess(text, themes().problems)
    found, _rest = await places.extract(ctx, text)
    masked = mask(text, current_year=ctx.now.year)
    ctx.conversation.update(description=masked.text, masked=list(masked.kinds),
                            theme=theme.id if theme else None,
                            commune=found.commune.insee if found and found.commune else None,
                            homonyms=[c.insee for c in found.candidates] if found and found.ambiguous else [])
    notes = [Reply(t("reports.masked", what=masked.summary()))] if masked.kinds else []
    return notes + await next_question(ctx)


async def next_question(ctx: Context) -> list[Reply]:
    """Ask for the first missing piece, or show the summary when everything is there."""
    data = ctx.conversation.data
    if not data.get("theme"):
        ctx.conversation.goto("report.theme")
        return [ask_theme()]
    if not data.get("commune"):
        return [await ask_commune(ctx)]
    if not data.get("description"):
        ctx.conversation.goto("report.description")
        return [Reply(t("reports.ask_description", limit=DESCRIPTION_LIMIT))]
    if not data.get("public"):
        ctx.conversation.goto("report.public")
        return [Reply(t("reports.ask_public"), choices=public_choices(), choices_per_row=2)]
    if not data.get("urgency"):
        ctx.conversation.goto("report.urgency")
        return [Reply(t("reports.ask_urgency"), choices=urgency_choices(), choices_per_row=3)]
    ctx.conversation.goto("report.confirm")
    return [summary(ctx)]


def ask_theme() -> Reply:
    return Reply(t("reports.ask_theme"), choices=theme_choices(), choices_per_row=2)


async def ask_commune(ctx: Context) -> Reply:
    """The member's usual commune (and their network's) first, or type any name or postal code."""
    ctx.conversation.goto("report.commune")
    assert ctx.member is not None
    homonyms = ctx.conversation.data.pop("homonyms", None)
    if homonyms:  # the one-shot text named a commune several places share: ask which one
        return Reply(t("reports.commune_which"),
                     choices=tuple(Choice(insee, places.label(insee)) for insee in homonyms[:places.MAX_CANDIDATES]))
    usual = [ctx.member.usual_commune] if ctx.member.usual_commune else []
    prefs = await places.preferences(ctx)
    offered = list(dict.fromkeys([*usual, *prefs.insee]))[:4]
    choices = tuple(Choice(insee, places.label(insee)) for insee in offered if places.commune(insee))
    return Reply(t("reports.ask_commune"), choices=choices, choices_per_row=2)


@router.choice("report.theme")
async def chose_theme(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(theme=event.choice_id)
    return await next_question(ctx)


@router.step("report.theme")
async def typed_theme(event: TextReceived, ctx: Context) -> list[Reply]:
    theme = guess(event.text, themes().problems)
    if theme is None:
        return [Reply(t("reports.theme_unknown")), ask_theme()]
    ctx.conversation.update(theme=theme.id)
    return await next_question(ctx)


@router.choice("report.commune")
async def chose_commune(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(commune=event.choice_id)
    return await next_question(ctx)


@router.step("report.commune")
async def typed_commune(event: TextReceived, ctx: Context) -> list[Reply]:
    if len(event.text) > 100:
        return [Reply(t("reports.commune_unknown", text=literal(event.text[:30]) + "…"))]
    resolution = await places.resolve(ctx, event.text)
    if resolution.commune is not None:
        ctx.conversation.update(commune=resolution.commune.insee)
        return await next_question(ctx)
    if resolution.candidates:
        return [Reply(t("reports.commune_which"), choices=places.candidate_choices(resolution))]
    return [Reply(t("reports.commune_unknown", text=literal(event.text.strip())))]


@router.step("report.description")
async def typed_description(event: TextReceived, ctx: Context) -> list[Reply]:
    text = event.text.strip()
    if len(text) > DESCRIPTION_LIMIT:
        return [Reply(t("reports.too_long", limit=DESCRIPTION_LIMIT, length=len(text)))]
    if len(text) < 10:
        return [Reply(t("reports.too_short"))]
    masked = mask(text, current_year=ctx.now.year)
    ctx.conversation.update(description=masked.text, masked=list(masked.kinds))
    notes = [Reply(t("reports.masked", what=masked.summary()))] if masked.kinds else []
    return notes + await next_question(ctx)


@router.choice("report.public")
async def chose_public(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(public=event.choice_id)
    return await next_question(ctx)


@router.choice("report.urgency")
async def chose_urgency(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(urgency=event.choice_id)
    return await next_question(ctx)


def summary(ctx: Context) -> Reply:
    data = ctx.conversation.data
    theme = themes().problem(data["theme"])
    text = t("reports.summary", theme=theme.label if theme else data["theme"], commune=places.label(data["commune"]),
             description=literal(data["description"]), public=t(f"reports.public_{data['public']}"),
             urgency=t(f"reports.urgency_{data['urgency']}"))
    choices = (Choice("send", t("reports.send")), Choice("edit", t("reports.edit")),
               Choice("cancel", t("reports.cancel")))
    return Reply(text, choices=choices, choices_per_row=3)


@router.choice("report.confirm")
async def confirmed(event: ChoiceMade, ctx: Context) -> list[Reply]:
    if event.choice_id == "cancel":
        ctx.conversation.end()
        return [Reply(t("reports.cancelled"))]
    if event.choice_id == "edit":
        ctx.conversation.goto("report.edit")
        fields = tuple(Choice(f, t(f"reports.field_{f}")) for f in FIELDS)
        return [Reply(t("reports.edit_which"), choices=fields, choices_per_row=2)]
    return [await submit(ctx, event)]


@router.choice("report.edit")
async def edit_field(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.forget(event.choice_id)
    return await next_question(ctx)


async def submit(ctx: Context, event: ChoiceMade) -> Reply:
    assert ctx.member is not None
    data, commune = ctx.conversation.data, places.commune(ctx.conversation.data["commune"])
    new = NewReport(author_id=ctx.member.id, territory_id=ctx.member.territory_id, theme=data["theme"],
                    commune_insee=data["commune"], departement=commune.departement if commune else "",
                    description=data["description"], public=data["public"], urgency=data["urgency"],
                    masked=tuple(data.get("masked", ())), submit_key=f"{ctx.member.id}:{event.prompt_id}")
    report = await create_report(ctx.session, new, ctx.now)
    ctx.member.usual_commune = data["commune"]
    ctx.conversation.end()
    return Reply(t("reports.saved", reference=report.reference))
