"""A declared multi-step form: fields (how each is asked, read and shown back), a summary, confirm / edit / cancel.

Every wizard (/signaler, /reunion, /ajouter_partenaire, /nom…) is one `Form`. A field is missing when its name
is not in the conversation's data (a skipped optional field holds None): one notion of « missing » for all.
Typed and pressed answers go through the same code: a press gives `pick` the choice id, typing gives `read`
the text (the router has already turned a typed number or label into a press).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.events import Choice, ChoiceMade, FileReceived, Reply, TextReceived
from bot.i18n import t
from bot.router import Router

if TYPE_CHECKING:
    from bot.context import Context

MISSING: Any = object()
DRAFT = "_form"  # in the data of a form under way: a command that interrupts it says the draft was dropped


@dataclass(frozen=True, slots=True)
class Parsed:
    """What an answer gave: a value (the field is filled), or not yet (`reply` says why or asks more);
    `updates` are other answers it gave at the same time (a one-sentence report names its commune too)."""

    value: Any = MISSING
    reply: Reply | None = None
    updates: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, value: Any, **updates: Any) -> Parsed:
        return cls(value, updates=updates)

    @classmethod
    def again(cls, text: str, choices: Sequence[Choice] = (), **updates: Any) -> Parsed:
        """Not understood: say why and stay on the field (with `choices`, e.g. the communes it could be)."""
        return cls(reply=Reply(text, choices=tuple(choices)), updates=updates)


Ask = Callable[["Context"], Awaitable[Reply]]
Read = Callable[[str, "Context"], Awaitable[Parsed]]
Pick = Callable[[str, "Context"], Awaitable[Parsed]]
Show = Callable[[Any, "Context"], str]


async def _take_id(choice_id: str, _ctx: Context) -> Parsed:
    return Parsed.ok(choice_id)


def _show_plain(value: Any, _ctx: Context) -> str:
    return str(value)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str  # « La commune »: the edit menu and the summary
    ask: Ask
    read: Read | None = None  # typed text; None: the field is answered by choices only
    pick: Pick = _take_id  # a choice pressed or typed
    show: Show = _show_plain
    optional: bool = False  # a « Passer » choice is added; skipping stores None
    when: Callable[[dict[str, Any]], bool] | None = None  # asked only when this holds for the data so far


Submit = Callable[["Context", dict[str, Any], str], Awaitable[list[Reply]]]
OnFile = Callable[[FileReceived, "Context"], Awaitable[list[Reply]]]
Summary = Callable[["Context", dict[str, Any]], Awaitable[str]]

CONFIRM_WORDS = ("oui", "ok", "d'accord", "c'est bon", "valider", "confirmer", "go", "yes")
EDIT_WORDS = ("non", "modifier", "corriger", "changer")
CANCEL_WORDS = ("annuler", "abandonner")


@dataclass(frozen=True)
class Form:
    name: str  # "report": steps are "report.<field>", "report.confirm", "report.edit"
    fields: tuple[Field, ...]
    summary: Summary
    submit: Submit
    confirm_label: str = ""  # « Envoyer », « Enregistrer »… (default: « Confirmer »)
    cancelled: str = ""  # what is said on « Annuler » (default: « C'est annulé. Rien n'a été enregistré. »)
    confirm: bool = True  # False: submitted as soon as the last field is answered
    on_file: OnFile | None = None  # a photo or file sent while the form is under way (joined to it)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    # --- entry points ---------------------------------------------------------------------------------------
    async def start(self, ctx: Context, intro: Reply | None = None, **prefill: Any) -> list[Reply]:
        """Begin the form, with answers already known (arguments of the command, a one-sentence report)."""
        ctx.conversation.end()
        known = {k: v for k, v in prefill.items() if v is not None}
        ctx.conversation.goto(f"{self.name}.start", **{DRAFT: self.name}, **known)
        return ([intro] if intro else []) + await self.next(ctx)

    async def answer(self, ctx: Context, text: str) -> list[Reply]:
        """Answer the field under way with `text` as if typed (a command's arguments)."""
        current = self._current(ctx)
        if current.read is None:
            return [await self._question(current, ctx)]
        return await self._apply(current, await current.read(text.strip(), ctx), ctx)

    async def next(self, ctx: Context, said: Sequence[Reply] = ()) -> list[Reply]:
        """Ask the first missing field, or show the summary (or submit) when nothing is missing."""
        data = ctx.conversation.data
        missing = next((f for f in self.fields if f.name not in data and (f.when is None or f.when(data))), None)
        if missing is not None:
            ctx.conversation.goto(f"{self.name}.{missing.name}")
            return [*said, await self._question(missing, ctx)]
        if not self.confirm:
            return [*said, *await self._submit(ctx, ctx.conversation.prompt_id or ctx.event_key)]
        ctx.conversation.goto(f"{self.name}.confirm")
        return [*said, await self._summary(ctx)]

    # --- handlers registered on the router -------------------------------------------------------------------
    def register(self, router: Router) -> None:
        for f in self.fields:
            router.step(f"{self.name}.{f.name}")(self._typed)
            router.choice(f"{self.name}.{f.name}")(self._pressed)
        router.choice(f"{self.name}.confirm")(self._confirmed)
        router.step(f"{self.name}.confirm")(self._typed_confirm)
        router.choice(f"{self.name}.edit")(self._edit)
        if self.on_file is not None:
            for step in (*(f.name for f in self.fields), "confirm", "edit"):
                router.file(f"{self.name}.{step}")(self._file)

    async def _file(self, event: FileReceived, ctx: Context) -> list[Reply]:
        """A file joined while the form is under way: said, then the question under way is asked again."""
        assert self.on_file is not None
        said = await self.on_file(event, ctx)
        step = ctx.conversation.step.removeprefix(f"{self.name}.")
        if step == "confirm":
            return [*said, await self._summary(ctx)]
        current = self.field(step)
        return [*said, await self._question(current, ctx)] if current else said

    async def _typed(self, event: TextReceived, ctx: Context) -> list[Reply]:
        if self._current(ctx).read is None:  # the question's choices, shown again under the same prompt
            offered = tuple(ctx.conversation.offered)
            return [Reply(t("core.choose_one"), choices=offered, prompt_id=ctx.conversation.prompt_id)]
        return await self.answer(ctx, event.text)

    async def _pressed(self, event: ChoiceMade, ctx: Context) -> list[Reply]:
        current = self._current(ctx)
        if event.choice_id == "_skip" and current.optional:
            return await self._apply(current, Parsed.ok(None), ctx)
        return await self._apply(current, await current.pick(event.choice_id, ctx), ctx)

    async def _apply(self, current: Field, parsed: Parsed, ctx: Context) -> list[Reply]:
        ctx.conversation.update(**parsed.updates)
        if parsed.value is MISSING:
            reply = parsed.reply or await self._question(current, ctx)
            if not reply.choices:  # the question's own choices stay valid under the explanation
                question = await self._question(current, ctx)
                reply = Reply(reply.text, choices=question.choices, choices_per_row=question.choices_per_row)
            return [reply]
        ctx.conversation.update(**{current.name: parsed.value})
        return await self.next(ctx, [parsed.reply] if parsed.reply else [])

    def _current(self, ctx: Context) -> Field:
        found = self.field(ctx.conversation.step.removeprefix(f"{self.name}."))
        assert found is not None, ctx.conversation.step
        return found

    async def _question(self, f: Field, ctx: Context) -> Reply:
        reply = await f.ask(ctx)
        if f.optional:
            skip = Choice("_skip", t("core.form_skip"), ("passer", "aucun", "aucune", "rien", "non"))
            reply = Reply(reply.text, choices=(*reply.choices, skip), choices_per_row=reply.choices_per_row)
        return reply

    async def _summary(self, ctx: Context) -> Reply:
        text = await self.summary(ctx, ctx.conversation.data)
        choices = (Choice("send", self.confirm_label or t("core.form_confirm"), CONFIRM_WORDS),
                   Choice("edit", t("core.form_edit"), EDIT_WORDS),
                   Choice("cancel", t("core.form_cancel"), CANCEL_WORDS))
        return Reply(text, choices=choices, choices_per_row=3)

    async def _confirmed(self, event: ChoiceMade, ctx: Context) -> list[Reply]:
        if event.choice_id == "cancel":
            ctx.conversation.end()
            return [Reply(self.cancelled or t("core.form_cancelled"))]
        if event.choice_id == "edit":
            shown = [f for f in self.fields if f.name in ctx.conversation.data]
            if len(shown) == 1:  # nothing to choose: ask that one again
                ctx.conversation.forget(shown[0].name)
                return await self.next(ctx)
            ctx.conversation.goto(f"{self.name}.edit")
            choices = tuple(Choice(f.name, f.label) for f in shown)
            return [Reply(t("core.form_edit_which"), choices=choices, choices_per_row=2)]
        return await self._submit(ctx, event.prompt_id)

    async def _typed_confirm(self, _event: TextReceived, ctx: Context) -> list[Reply]:
        summary = await self._summary(ctx)
        labels = " / ".join(f"« {c.label} »" for c in summary.choices)
        return [Reply(t("core.form_confirm_how", labels=labels), choices=summary.choices, choices_per_row=3)]

    async def _edit(self, event: ChoiceMade, ctx: Context) -> list[Reply]:
        ctx.conversation.forget(event.choice_id)
        return await self.next(ctx)

    async def _submit(self, ctx: Context, key: str) -> list[Reply]:
        data = dict(ctx.conversation.data)
        ctx.conversation.end()
        return await self.submit(ctx, data, key)


def question(text: str, choices: Sequence[Choice] = (), per_row: int = 1) -> Ask:
    """A field's question that needs nothing from the context."""
    reply = Reply(text, choices=tuple(choices), choices_per_row=per_row)

    async def ask(_ctx: Context) -> Reply:
        return reply

    return ask
