"""Dates and locales: arrow timestamps and time-zone conversions, Babel locales and formats
loaded at start-up and used to format money, dates and numbers. Needs: arrow, babel."""
import arrow
from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent

LAUNCH = arrow.get("2024-03-10T14:30:00+00:00")
LOCALES = {code: Locale.parse(code) for code in ("en_US", "de_DE", "fr_FR", "ja_JP")}
OFFICES = {"en_US": "America/New_York", "de_DE": "Europe/Berlin", "fr_FR": "Europe/Paris", "ja_JP": "Asia/Tokyo"}

if __name__ == "__main__":
    for code, locale in LOCALES.items():
        local = LAUNCH.to(OFFICES[code])
        print(code, locale.display_name, "|", local.format("YYYY-MM-DD HH:mm ZZ"), "|",
              format_datetime(local.datetime, "medium", locale=locale), "|",
              format_currency(1234567.891, "EUR", locale=locale), "|",
              format_percent(0.256, locale=locale), format_decimal(-1234.5, locale=locale))
    print(format_date(LAUNCH.date(), "full", locale="de_DE"), LOCALES["fr_FR"].days["format"]["wide"][0])
    later = LAUNCH.shift(days=+3, hours=-2)
    print(later.isoformat(), later.humanize(LAUNCH), LAUNCH.humanize(later, locale="fr"))
    print(format_timedelta(later - LAUNCH, locale="en_US"), LAUNCH.span("week")[0].format("ddd D MMM"))
    print([r.format("MM-DD") for r in arrow.Arrow.range("week", LAUNCH, LAUNCH.shift(weeks=3))])
