"""The « activités de coordination » of the national Coop de la médiation numérique, built from closed meetings:
the Coop's own column headings and option labels (its export worksheet), as XLSX (openpyxl) or CSV.

Source of the headings and labels: inclusion-numerique/coop-mediation-numerique, apps/web/prisma/schema.prisma
(model ActiviteCoordination, enums TypeActiviteCoordination, TypeAnimation, Initiative, ThematiqueAnimation,
EchelonTerritorial) and apps/web/src/features/activites/use-cases/list/export/buildActivitesCoordinationWorksheet.ts
with the option labels of use-cases/cra/{coordination,animation,evenement}/labels.ts."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage.closures import Closure, closures_between
from storage.meetings import Meeting
from storage.models import Territory
from storage.normalize import fold

SHEET = "Activités de coordination"
HEADERS = (
    "Date de l’activité",
    "Type",
    "Durée (min.)",
    "Participants",
    "Médiateur·ice·s numérique·s",
    "Structure·s",
    "Autres acteur.trice.s",
    "Nom de l’évènement",
    "Type d’animation, type d’évènement, nature du partenariat",
    "Organisé par",
    "Structure·s partenaire·s (Nom)",
    "Structure·s partenaire·s (type)",
    "Échelon territorial de l’évènement ou du partenariat",
    "Qui est à l’initiative de cette intervention ?",
    "Thématique(s) d’animation",
    "Tags",
    "Notes",
    "Enregistrée le",
    "Dernière modification le",
    "ID CRA",
)
NOT_APPLICABLE = "/"  # what the Coop writes in a column that does not apply to the activity's type

# Enum value -> the Coop's label (the labels are what its worksheet shows).
TYPE_ACTIVITE = {"Evenement": "Évènement", "Partenariat": "Partenariat", "Animation": "Animation"}
TYPE_ANIMATION = {
    "Assemblee": "Assemblée / présentation officielle (Ex : conseil municipal, conseil communautaire, conseil "
                 "départemental, CA d’association)",
    "Comite": "Comité technique / de pilotage",
    "GroupeDeTravail": "Groupe de travail",
    "Echange": "Moment d’échange / aide / soutien",
    "ReunionCoordination": "Réunion de coordination (coordinateurs, médiateurs et conseillers numériques, "
                           "préfectures, Hubs...)",
    "Webinaire": "Webinaire",
    "Autre": "Autre",
}
INITIATIVE = {"Initiative": "Intervention à mon initiative", "Demande": "Réponse à un besoin/une problématique"}
THEMATIQUE_ANIMATION = {
    "Partage": "Échanges de bonnes pratiques / partage d’informations",
    "Reseau": "Maillage territorial - faire réseau / créer du lien",
    "Soutien": "Soutien technique et/ou organisationnel",
    "Professionnel": "Projet / Parcours professionnel",
    "RH": "Soutien RH auprès des structures",
    "Autre": "Autre thématique",
}
ECHELON_TERRITORIAL = {"Communal": "Communal", "Intercommunal": "Intercommunal", "Departemental": "Départemental",
                       "Regional": "Régional", "National": "National"}

_DEPARTEMENT = re.compile(r"^(\d{2,3}|2[ab])$")
# A meeting's title says what kind of animation it was; a network's usual meeting is a coordination meeting.
_KINDS = (("comite", "Comite"), ("copil", "Comite"), ("pilotage", "Comite"), ("groupe de travail", "GroupeDeTravail"),
          ("atelier", "GroupeDeTravail"), ("webinaire", "Webinaire"), ("visio", "Webinaire"),
          ("assemblee", "Assemblee"), ("conseil", "Assemblee"), ("echange", "Echange"))


@dataclass(frozen=True, slots=True)
class CoopRow:
    """One activity, in the Coop's vocabulary (enum values; labels come at writing)."""

    day: date
    minutes: int
    mediateurs: int
    structures: int
    autres: int
    type_animation: str
    echelon: str
    initiative: str
    thematiques: tuple[str, ...]
    notes: str
    recorded: str  # « 12/03/2026 à 17:20 »
    id: str

    def cells(self) -> list[object]:
        """The row under HEADERS, as the Coop's worksheet fills an « Animation »."""
        return [self.day, TYPE_ACTIVITE["Animation"], self.minutes, NOT_APPLICABLE, self.mediateurs, self.structures,
                self.autres, NOT_APPLICABLE, TYPE_ANIMATION[self.type_animation], NOT_APPLICABLE, NOT_APPLICABLE,
                NOT_APPLICABLE, ECHELON_TERRITORIAL[self.echelon], INITIATIVE[self.initiative],
                "\n".join(THEMATIQUE_ANIMATION[x] for x in self.thematiques), "", self.notes, self.recorded, "",
                self.id]


def animation_kind(title: str) -> str:
    folded = fold(title)
    return next((kind for word, kind in _KINDS if word in folded), "ReunionCoordination")


def echelon(territory: Territory) -> str:
    """A département's code (35, 971, 2A) -> Départemental; a node under one -> Intercommunal; a root -> Régional."""
    if _DEPARTEMENT.match(territory.code.lower()):
        return "Departemental"
    return "Intercommunal" if territory.parent_id is not None else "Regional"


def to_row(closure: Closure, meeting: Meeting) -> CoopRow:
    tz = ZoneInfo(meeting.territory.timezone)
    referents = sum(1 for a in closure.attendees if a.role == "referent")
    others = sum(1 for a in closure.attendees if a.role != "referent" and a.member_id != closure.closed_by)
    notes = [f"{meeting.title} — {meeting.territory.name}"]
    if closure.summary:
        notes.append(closure.summary)
    if closure.actions:
        notes.append("Actions : " + " ; ".join(a.text for a in closure.actions))
    return CoopRow(day=closure.held_at.astimezone(tz).date(), minutes=meeting.duration_minutes, mediateurs=referents,
                   structures=closure.structures, autres=others + closure.others,
                   type_animation=animation_kind(meeting.title), echelon=echelon(meeting.territory),
                   initiative="Initiative", thematiques=("Reseau", "Partage"), notes="\n".join(notes),
                   recorded=closure.closed_at.astimezone(tz).strftime("%d/%m/%Y à %H:%M"), id=f"relais-{closure.id}")


async def coordination_rows(session: AsyncSession, territory_ids: Sequence[int], start: datetime,
                            end: datetime) -> list[CoopRow]:
    return [to_row(c, m) for c, m in await closures_between(session, territory_ids, start, end)]


def to_xlsx(rows: Sequence[CoopRow]) -> bytes:
    """One sheet named as the Coop's, its headings on the first row, dates as dates, filters on."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append(row.cells())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in sheet.iter_rows(min_row=2):
        line[0].number_format = "dd/mm/yyyy"
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for column, heading in zip(sheet.columns, HEADERS, strict=True):
        sheet.column_dimensions[column[0].column_letter].width = min(max(len(heading), 12) + 2, 45)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_csv(rows: Sequence[CoopRow], sep: str = ";") -> bytes:
    """UTF-8 with BOM and « ; »: opens as columns in a French spreadsheet; dates as 12/03/2026."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep)
    writer.writerow(HEADERS)
    for row in rows:
        cells = row.cells()
        cells[0] = row.day.strftime("%d/%m/%Y")
        writer.writerow(cells)
    return ("\ufeff" + buffer.getvalue()).encode()
