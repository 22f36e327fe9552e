"""Console adapter: lines from stdin are messages of one demo member, replies printed to stdout."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Set
from pathlib import Path
from typing import TextIO

from bot.events import Address, Delivery, TextReceived
from bot.markup import render
from bot.ratelimit import Limits
from bot.transport import Commands, EventSink


class ConsoleTransport:
    platform = "console"
    limits = Limits()
    max_file_bytes = 0  # a terminal sends no files

    def set_commands(self, commands: Commands, *, lasting_prompts: Set[str] = frozenset()) -> None:
        """The console has no menu: /aide lists the commands."""

    def __init__(self, user_id: str = "admin", *, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 files_dir: Path = Path("data/exports"), display_name: str = "Vous (console)",
                 everyone: bool = False) -> None:
        # everyone: print what is for every console member (`relais reminders`, a support view); otherwise only
        # this person's messages (the demo has several console members, one at a time at the keyboard).
        self.everyone = everyone
        self.stdin, self.stdout = stdin or sys.stdin, stdout or sys.stdout
        self.address = Address("console", user_id, user_id, False, display_name)
        self.files_dir = files_dir
        self._bold = self.stdout.isatty()
        self._count = 0
        self.finished = asyncio.Event()  # set at end of input
        self._reader: asyncio.Task[None] | None = None

    async def start(self, sink: EventSink) -> None:
        self._reader = asyncio.create_task(self._read(sink), name="console-reader")
        self._reader.add_done_callback(lambda _task: self.finished.set())

    async def _read(self, sink: EventSink) -> None:
        """Read until end of input; each line is handled (and answered) before the next is read."""
        while True:
            if self.stdin.isatty():
                self.stdout.write("> ")
                self.stdout.flush()
            line = await asyncio.to_thread(self.stdin.readline)
            if not line:
                return
            if line.strip():
                await sink(TextReceived(self.address, line.rstrip("\n")))

    async def stop(self) -> None:
        if self._reader and not self._reader.done():
            self._reader.cancel()

    def healthy(self) -> bool:
        return True

    async def send(self, delivery: Delivery) -> str:
        if not self.everyone and delivery.address.chat_id != self.address.chat_id:
            return ""  # another demo member's message (« relais console --as … »): not this person's screen
        reply = delivery.reply
        text = render(reply.text, bold=self._strong, italic=str, link=lambda label, url: f"{label} ({url})",
                      plain=str)
        lines = [text]
        lines += [f"  {i}. {choice.label}" for i, choice in enumerate(reply.choices, start=1)]
        if reply.choices:
            lines.append("  (répondez par le numéro ou le texte)")
        if reply.attachment:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / Path(reply.attachment.name).name
            path.write_bytes(reply.attachment.data)
            lines.append(f"  [fichier joint : {path}]")
        self.stdout.write("\n".join(lines) + "\n\n")
        self.stdout.flush()
        self._count += 1
        return str(self._count)

    def _strong(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self._bold else text
