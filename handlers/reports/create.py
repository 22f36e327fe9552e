"""/signaler: a field problem reported in under a minute (theme, commune, description, public, urgency)."""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.events import Choice, FileReceived, Reply
from bot.form import Field, Form, Parsed, question
from bot.i18n import t
from bot.markup import literal
from bot.router import CommandCall, Router
from handlers import places
from handlers.quoting import quoted
from handlers.reports.masking import mask
from storage.attachments import MAX_BYTES, accepted, add_draft, bind
from storage.normalize import fold
from storage.reports import NewReport, create_report
from storage.themes import guess, themes

router = Router("reports")

DESCRIPTION_LIMIT = 1000
PUBLICS = ("seniors", "jeunes", "emploi", "handicap", "allophones", "familles", "tous")
URGENCIES = ("low", "normal", "urgent")


def theme_choices() -> tuple[Choice, ...]:
    return tuple(Choice(theme.id, theme.short) for theme in themes().problems)


def public_choices() -> tuple[Choice, ...]:
    return tuple(Choice(p, t(f"reports.public_{p}")) for p in PUBLICS)


def urgency_choices() -> tuple[Choice, ...]:
    return tuple(Choice(u, t(f"reports.urgency_{u}")) for u in URGENCIES)


PUBLIC_WORDS = {"seniors": ("senior", "seniors", "personnes agees", "retraite", "retraites", "ages", "agees"),
                "jeunes": ("jeune", "jeunes", "ado", "ados", "adolescent", "etudiant", "etudiants", "lyceen"),
                "emploi": ("demandeur d'emploi", "demandeurs d'emploi", "chomeur", "chomeurs", "chomage",
                           "recherche d'emploi", "france travail"),
                "handicap": ("handicap", "handicapes", "handicapees", "malvoyant", "malvoyants", "sourd", "sourds",
                             "pmr"),
                "allophones": ("allophone", "allophones", "ne parle pas francais", "ne parlent pas francais",
                               "refugie", "refugies", "etranger", "etrangers"),
                "familles": ("famille", "familles", "parent", "parents", "enfant", "enfants")}
URGENT_WORDS = ("urgent", "urgence", "tres vite", "au plus vite", "asap", "bloquant aujourd'hui")
CALM_WORDS = ("pas urgent", "peut attendre", "rien d'urgent", "pas presse")


def guess_public(text: str) -> str | None:
    folded = f" {fold(text)} "
    found = [p for p, words in PUBLIC_WORDS.items() if any(f" {w} " in folded or f" {w}," in folded for w in words)]
    return found[0] if len(found) == 1 else None


def guess_urgency(text: str) -> str | None:
    folded = fold(text)
    if any(word in folded for word in CALM_WORDS):
        return "low"
    return "urgent" if any(word in folded for word in URGENT_WORDS) else None


# --- fields ------------------------------------------------------------------------------------------------------

async def pick_theme(choice_id: str, _ctx: Context) -> Parsed:
    return Parsed.ok(choice_id)


async def read_theme(text: str, _ctx: Context) -> Parsed:
    theme = guess(text, themes().problems)
    return Parsed.again(t("reports.theme_unknown")) if theme is None else Parsed.ok(theme.id)


async def ask_commune(ctx: Context) -> Reply:
    """The member's usual commune (and their network's) first, or type any name or postal code."""
    assert ctx.member is not None
    homonyms = ctx.conversation.data.get("homonyms")
    if homonyms:  # the one-shot text named a commune several places share: ask which one
        return Reply(t("reports.commune_which"),
                     choices=tuple(Choice(insee, places.label(insee)) for insee in homonyms[:places.MAX_CANDIDATES]))
    usual = [ctx.member.usual_commune] if ctx.member.usual_commune else []
    prefs = await places.preferences(ctx)
    offered = list(dict.fromkeys([*usual, *prefs.insee]))[:4]
    choices = tuple(Choice(insee, places.label(insee)) for insee in offered if places.commune(insee))
    return Reply(t("reports.ask_commune"), choices=choices, choices_per_row=2)


async def read_commune(text: str, ctx: Context) -> Parsed:
    if len(text) > 100:
        return Parsed.again(t("reports.commune_unknown", text=quoted(text)))
    resolution = await places.resolve(ctx, text)
    if resolution.commune is not None:
        return Parsed.ok(resolution.commune.insee, homonyms=None)
    if resolution.candidates:
        return Parsed.again(places.which(resolution), places.candidate_choices(resolution))
    return Parsed.again(t("reports.commune_unknown", text=quoted(text)))


async def pick_commune(choice_id: str, _ctx: Context) -> Parsed:
    return Parsed.ok(choice_id, homonyms=None) if places.commune(choice_id) else Parsed()


async def read_description(text: str, ctx: Context) -> Parsed:
    if len(text) > DESCRIPTION_LIMIT:
        return Parsed.again(t("reports.too_long", limit=DESCRIPTION_LIMIT, length=len(text)))
    if len(text) < 10:
        return Parsed.again(t("reports.too_short"))
    masked = mask(text, current_year=ctx.now.year)
    note = Reply(t("reports.masked", what=masked.summary())) if masked.kinds else None
    return Parsed(masked.text, note, {"masked": list(masked.kinds)})


async def read_public(text: str, _ctx: Context) -> Parsed:
    public = guess_public(text)
    return Parsed.again(t("reports.public_unknown")) if public is None else Parsed.ok(public)


YES_NO = {"oui": "urgent", "ouais": "urgent", "yes": "urgent", "non": "normal", "nan": "normal", "no": "normal"}


async def read_urgency(text: str, _ctx: Context) -> Parsed:
    """The answer to « Est-ce urgent ? »: the words of guess_urgency, or a plain « oui » / « non »."""
    urgency = guess_urgency(text) or YES_NO.get(fold(text))
    return Parsed.again(t("reports.urgency_unknown")) if urgency is None else Parsed.ok(urgency)


FIELDS = (
    Field("theme", t("reports.field_theme"), question(t("reports.ask_theme"), theme_choices(), 2),
          read=read_theme, pick=pick_theme),
    Field("commune", t("reports.field_commune"), ask_commune, read=read_commune, pick=pick_commune),
    Field("description", t("reports.field_description"),
          question(t("reports.ask_description", limit=DESCRIPTION_LIMIT)), read=read_description),
    Field("public", t("reports.field_public"), question(t("reports.ask_public"), public_choices(), 2),
          read=read_public),
    Field("urgency", t("reports.field_urgency"), question(t("reports.ask_urgency"), urgency_choices(), 3),
          read=read_urgency),
)


async def summary(_ctx: Context, data: dict[str, Any]) -> str:
    theme = themes().problem(data["theme"])
    return t("reports.summary", theme=theme.label if theme else data["theme"], commune=places.label(data["commune"]),
             description=literal(data["description"]), public=t(f"reports.public_{data['public']}"),
             urgency=t(f"reports.urgency_{data['urgency']}"))


async def submit(ctx: Context, data: dict[str, Any], key: str) -> list[Reply]:
    assert ctx.member is not None
    commune = places.commune(data["commune"])
    new = NewReport(author_id=ctx.member.id, territory_id=ctx.member.territory_id, theme=data["theme"],
                    commune_insee=data["commune"], departement=commune.departement if commune else "",
                    description=data["description"], public=data["public"], urgency=data["urgency"],
                    masked=tuple(data.get("masked", ())), submit_key=f"{ctx.member.id}:{key}")
    report = await create_report(ctx.session, new, ctx.now)
    await bind(ctx.session, data.get("files", []), report_id=report.id, author_id=ctx.member.id)
    ctx.member.usual_commune = data["commune"]
    return [Reply(t("reports.saved", reference=report.reference))]


MAX_FILES = 3


async def joined(event: FileReceived, ctx: Context) -> list[Reply]:
    """A photo or PDF sent during /signaler is kept with the report (checked, never shown by the API)."""
    assert ctx.member is not None
    files = list(ctx.conversation.data.get("files", []))
    refusal = file_refusal(event, len(files))
    if refusal:
        return [Reply(refusal)]
    file_id = await add_draft(ctx.session, author_id=ctx.member.id, name=event.name, mime=event.mime,
                              data=event.data, now=ctx.now)
    ctx.conversation.update(files=[*files, file_id])
    return [Reply(t("reports.file_joined", count=len(files) + 1))]


def file_refusal(event: FileReceived, already: int) -> str:
    if event.kind in ("voice", "audio", "video", "sticker"):
        return t("reports.file_kind", kind=t(f"reports.kind_{event.kind}"))
    if not event.data and event.size:
        return t("reports.file_too_big", mb=MAX_BYTES // 1_000_000)
    if not accepted(event.mime, len(event.data)):
        return t("reports.file_type")
    if already >= MAX_FILES:
        return t("reports.file_too_many", limit=MAX_FILES)
    return ""


FORM = Form("report", FIELDS, summary=summary, submit=submit, confirm_label=t("reports.send"),
            cancelled=t("reports.cancelled"), on_file=joined)
FORM.register(router)


@router.command("signaler", help_key="reports.help_signaler", example_key="reports.example_signaler", order=10,
                aliases=("signalement_nouveau", "probleme"))
async def start(call: CommandCall, ctx: Context) -> list[Reply]:
    if not call.args:
        return await FORM.start(ctx, Reply(t("reports.intro")))
    return await prefill(call.args, ctx)


async def prefill(text: str, ctx: Context) -> list[Reply]:
    """One-shot `/signaler la CAF bloque les seniors à Romagné, urgent`: keep what can be inferred (theme,
    commune, public, urgency, the text as description), ask only for the rest."""
    if len(text) > DESCRIPTION_LIMIT:
        return [Reply(t("reports.too_long", limit=DESCRIPTION_LIMIT, length=len(text))), *await FORM.start(ctx)]
    theme = guess(text, themes().problems)
    found, _rest = await places.extract(ctx, text)
    masked = mask(text, current_year=ctx.now.year)
    notes = [Reply(t("reports.masked", what=masked.summary()))] if masked.kinds else []
    replies = await FORM.start(ctx, None, description=masked.text, masked=list(masked.kinds),
                               theme=theme.id if theme else None,
                               commune=found.commune.insee if found and found.commune else None,
                               homonyms=[c.insee for c in found.candidates] if found and found.ambiguous else None,
                               public=guess_public(text), urgency=guess_urgency(text))
    return notes + replies


@router.file("")
async def file_outside_a_flow(event: FileReceived, ctx: Context) -> list[Reply]:
    """A photo with a caption starts a report (the caption says the problem); otherwise, what the bot reads."""
    if ctx.address.is_group:
        return []
    if event.caption.strip() and event.kind in ("photo", "document"):
        refusal = file_refusal(event, 0)
        if refusal:
            return [Reply(refusal)]
        replies = await prefill(event.caption, ctx)  # the form under way, then the file joined to it
        return [*await joined(event, ctx), *replies]
    key = "reports.file_voice" if event.kind in ("voice", "audio") else "reports.file_outside"
    return [Reply(t(key))]
