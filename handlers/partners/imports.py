"""What `relais import-structures` prints: the summary, each rejected row, what was corrected or flagged."""

from __future__ import annotations

from collections import Counter

from bot.i18n import t
from storage.structure_import import MAX_JSON_DEPTH, MISSING_HIDE, ImportReport, TooDeep

EXPECTED = ("id", "nom", "commune", "code_postal", "adresse")  # the columns a place is imported with


def unreadable(error: Exception) -> str:
    """Why a file could not be read at all, in French."""
    if isinstance(error, TooDeep):
        return t("partners.import_too_deep", limit=MAX_JSON_DEPTH)
    return t("partners.import_unreadable", error=error)


def summary_lines(report: ImportReport) -> list[str]:
    """The summary line, each rejected row with its line (or item) number, then corrections and flags."""
    rate = round(report.total / report.seconds) if report.seconds else report.total
    lines = [t("partners.import_done", source=report.source, added=report.added, updated=report.updated,
               unchanged=report.unchanged, kept_local=report.kept_local, rejected=len(report.rejected), rate=rate)]
    unit = t(f"partners.import_{report.unit}")
    lines += [t("partners.import_rejected", unit=unit, line=row.line,
                reason=t(f"partners.reason_{row.reason}", value=row.value)) for row in report.rejected]
    if report.unknown_services:
        values = ", ".join(f"« {value} » ({n})" for value, n in report.unknown_services.most_common(10))
        lines.append(t("partners.import_unknown_services", values=values))
    if report.bad_hours:
        lines.append(t("partners.import_bad_hours", count=report.bad_hours))
    if report.flags["far"]:
        lines.append(t("partners.import_far", count=report.flags["far"]))
    if report.flags["bad_phone"]:
        lines.append(t("partners.import_bad_phone", count=report.flags["bad_phone"]))
    if report.partial:
        lines.append(t("partners.import_partial"))
    elif report.missing:
        lines.append(t("partners.import_missing", count=report.missing, hidden=report.hidden, times=MISSING_HIDE))
    return lines


def failure_lines(report: ImportReport) -> list[str]:
    """When every row was refused: why, by reason, and the expected columns the file lacks."""
    if not report.all_rejected:
        return []
    reasons = Counter(t(f"partners.reason_{row.reason}", value="").replace(" ()", "").rstrip(" :")
                      for row in report.rejected)
    lines = [t("partners.import_all_rejected", count=len(report.rejected),
               reasons=", ".join(f"{n} × {reason}" for reason, n in reasons.most_common(5)))]
    lacking = [name for name in EXPECTED if report.columns and name not in report.columns]
    if lacking:
        lines.append(t("partners.import_lacking_columns", columns=", ".join(lacking),
                       found=", ".join(report.columns[:12])))
    return lines
