"""iCalendar invitations (.ics) for one date of a meeting, with its time zone, readable by every calendar app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from bot.events import Attachment

MEETING_LENGTH = timedelta(hours=2)  # when a meeting says nothing; calendars need an end
PRODID = "-//relais//Réunions du réseau//FR"


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    uid: str  # stable for a date of a meeting: a move updates the event instead of adding one
    title: str
    place: str
    starts_at: datetime  # aware
    tz: ZoneInfo  # the zone the meeting is held in (VTIMEZONE)
    stamp: datetime  # when this version was made (creation or last change)
    sequence: int = 0
    cancelled: bool = False
    description: str = ""
    length: timedelta = MEETING_LENGTH  # asked at creation


def invitation(event: CalendarEvent) -> bytes:
    """A VCALENDAR with one VEVENT and its VTIMEZONE (around the date only, so the file stays small)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if event.cancelled else "PUBLISH")
    calendar.add_component(_vevent(event))
    year = event.starts_at.astimezone(event.tz).year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return calendar.to_ical()


def attachment(event: CalendarEvent) -> Attachment:
    return Attachment("reunion.ics", "text/calendar", invitation(event))


def _vevent(event: CalendarEvent) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", event.stamp.astimezone(UTC))
    vevent.add("dtstart", event.starts_at.astimezone(event.tz))
    vevent.add("dtend", (event.starts_at + event.length).astimezone(event.tz))
    vevent.add("summary", event.title)
    vevent.add("location", event.place)
    vevent.add("sequence", event.sequence)
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    if event.description:
        vevent.add("description", event.description)
    return vevent
