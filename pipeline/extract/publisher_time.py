"""The publisher's time zone, and a page's timestamp as the publisher's local time.

A news page often writes its publication time in UTC ("2023-11-01T23:01:00Z"): cut to its date,
an article published at 06:00 in Hà Nội lands on the day before. The day that counts (for the
look-back window, the digest, what analysts read) is the publisher's local day, so a UTC stamp
is converted to the publisher's zone, found, in order of trust, from:
  1. the page's own offset: another timestamp on the page written with a non-zero offset
     (a CMS that writes one stamp in UTC often writes dateModified or a JSON-LD copy locally);
  2. the source's `timezone` key in the sources file (e.g. "Asia/Ho_Chi_Minh");
  3. the country of the site's domain (.vn, .it, .com.ar), for countries with one civil time
     or one zone where most of the population lives; never for domains sold as generic
     names (.tv, .io, .co, .me, ...): the domain the page was fetched from, else the one of
     the URL the page declares as its own (canonical link, og:url), which names the publisher
     when the page came through a mirror, a cache or an address without a name;
and stays UTC otherwise. A timestamp written with a non-zero offset is the page's own local
time already and is kept as written. A wall-clock time without an offset gets the offset of 1
or 2 attached when there is one (so windows compare instants), its day unchanged; the domain's
guess (3) is not enough evidence to give it one.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["publisher_local", "page_offset", "domain_zone", "zone_or_none"]

# country-code top-level domain -> the zone of its capital or most populous region
# (from tzdata's zone.tab: countries with one civil time, and the main zone of the others)
_CCTLD_ZONES = {
    "ad": "Europe/Andorra", "ae": "Asia/Dubai", "af": "Asia/Kabul", "ag": "America/Antigua",
    "al": "Europe/Tirane", "ao": "Africa/Luanda",
    "ar": "America/Argentina/Buenos_Aires", "as": "Pacific/Pago_Pago", "at": "Europe/Vienna",
    "au": "Australia/Sydney", "aw": "America/Aruba", "ax": "Europe/Mariehamn", "az": "Asia/Baku",
    "ba": "Europe/Sarajevo", "bb": "America/Barbados", "bd": "Asia/Dhaka", "be": "Europe/Brussels",
    "bf": "Africa/Ouagadougou", "bg": "Europe/Sofia", "bh": "Asia/Bahrain", "bi": "Africa/Bujumbura",
    "bj": "Africa/Porto-Novo", "bl": "America/St_Barthelemy", "bm": "Atlantic/Bermuda", "bn": "Asia/Brunei",
    "bo": "America/La_Paz", "bq": "America/Kralendijk", "br": "America/Sao_Paulo", "bs": "America/Nassau",
    "bt": "Asia/Thimphu", "bw": "Africa/Gaborone", "by": "Europe/Minsk",
    "ca": "America/Toronto", "cg": "Africa/Brazzaville",
    "ch": "Europe/Zurich", "ci": "Africa/Abidjan", "ck": "Pacific/Rarotonga", "cl": "America/Santiago",
    "cm": "Africa/Douala", "cn": "Asia/Shanghai", "cr": "America/Costa_Rica",
    "cu": "America/Havana", "cv": "Atlantic/Cape_Verde", "cw": "America/Curacao",
    "cy": "Asia/Nicosia", "cz": "Europe/Prague", "de": "Europe/Berlin",
    "dk": "Europe/Copenhagen", "dm": "America/Dominica", "do": "America/Santo_Domingo", "dz": "Africa/Algiers",
    "ec": "America/Guayaquil", "ee": "Europe/Tallinn", "eg": "Africa/Cairo", "eh": "Africa/El_Aaiun",
    "er": "Africa/Asmara", "es": "Europe/Madrid", "et": "Africa/Addis_Ababa", "fi": "Europe/Helsinki",
    "fj": "Pacific/Fiji", "fk": "Atlantic/Stanley", "fo": "Atlantic/Faroe", "fr": "Europe/Paris",
    "gb": "Europe/London", "gd": "America/Grenada", "ge": "Asia/Tbilisi",
    "gf": "America/Cayenne", "gh": "Africa/Accra", "gi": "Europe/Gibraltar",
    "gm": "Africa/Banjul", "gn": "Africa/Conakry", "gp": "America/Guadeloupe",
    "gr": "Europe/Athens", "gs": "Atlantic/South_Georgia", "gt": "America/Guatemala", "gu": "Pacific/Guam",
    "gw": "Africa/Bissau", "gy": "America/Guyana", "hk": "Asia/Hong_Kong", "hn": "America/Tegucigalpa",
    "hr": "Europe/Zagreb", "ht": "America/Port-au-Prince", "hu": "Europe/Budapest", "id": "Asia/Jakarta",
    "ie": "Europe/Dublin", "il": "Asia/Jerusalem", "im": "Europe/Isle_of_Man", "in": "Asia/Kolkata",
    "iq": "Asia/Baghdad", "ir": "Asia/Tehran", "is": "Atlantic/Reykjavik",
    "it": "Europe/Rome", "je": "Europe/Jersey", "jm": "America/Jamaica", "jo": "Asia/Amman",
    "jp": "Asia/Tokyo", "ke": "Africa/Nairobi", "kg": "Asia/Bishkek", "kh": "Asia/Phnom_Penh",
    "km": "Indian/Comoro", "kn": "America/St_Kitts", "kp": "Asia/Pyongyang", "kr": "Asia/Seoul",
    "kw": "Asia/Kuwait", "ky": "America/Cayman", "lb": "Asia/Beirut",
    "lc": "America/St_Lucia", "li": "Europe/Vaduz", "lk": "Asia/Colombo", "lr": "Africa/Monrovia",
    "ls": "Africa/Maseru", "lt": "Europe/Vilnius", "lu": "Europe/Luxembourg", "lv": "Europe/Riga",
    "ma": "Africa/Casablanca", "mc": "Europe/Monaco", "md": "Europe/Chisinau",
    "mf": "America/Marigot", "mg": "Indian/Antananarivo", "mh": "Pacific/Majuro",
    "mk": "Europe/Skopje", "mm": "Asia/Yangon", "mo": "Asia/Macau",
    "mp": "Pacific/Saipan", "mq": "America/Martinique", "mr": "Africa/Nouakchott",
    "mt": "Europe/Malta", "mu": "Indian/Mauritius", "mv": "Indian/Maldives", "mw": "Africa/Blantyre",
    "mx": "America/Mexico_City", "my": "Asia/Kuala_Lumpur", "mz": "Africa/Maputo", "na": "Africa/Windhoek",
    "nc": "Pacific/Noumea", "ne": "Africa/Niamey", "nf": "Pacific/Norfolk", "ng": "Africa/Lagos",
    "ni": "America/Managua", "nl": "Europe/Amsterdam", "no": "Europe/Oslo", "np": "Asia/Kathmandu",
    "nr": "Pacific/Nauru", "nz": "Pacific/Auckland", "om": "Asia/Muscat",
    "pa": "America/Panama", "pe": "America/Lima", "ph": "Asia/Manila", "pk": "Asia/Karachi",
    "pl": "Europe/Warsaw", "pm": "America/Miquelon", "pn": "Pacific/Pitcairn", "pr": "America/Puerto_Rico",
    "ps": "Asia/Gaza", "pt": "Europe/Lisbon", "py": "America/Asuncion",
    "qa": "Asia/Qatar", "re": "Indian/Reunion", "ro": "Europe/Bucharest", "rs": "Europe/Belgrade",
    "ru": "Europe/Moscow", "rw": "Africa/Kigali", "sa": "Asia/Riyadh", "sb": "Pacific/Guadalcanal",
    "sc": "Indian/Mahe", "sd": "Africa/Khartoum", "se": "Europe/Stockholm", "sg": "Asia/Singapore",
    "si": "Europe/Ljubljana", "sj": "Arctic/Longyearbyen",
    "sk": "Europe/Bratislava", "sl": "Africa/Freetown", "sm": "Europe/San_Marino", "sn": "Africa/Dakar",
    "sr": "America/Paramaribo", "ss": "Africa/Juba",
    "sv": "America/El_Salvador", "sx": "America/Lower_Princes", "sy": "Asia/Damascus", "sz": "Africa/Mbabane",
    "tc": "America/Grand_Turk", "td": "Africa/Ndjamena", "tf": "Indian/Kerguelen", "tg": "Africa/Lome",
    "th": "Asia/Bangkok", "tj": "Asia/Dushanbe", "tl": "Asia/Dili",
    "tn": "Africa/Tunis", "tr": "Europe/Istanbul",
    "tt": "America/Port_of_Spain", "tw": "Asia/Taipei", "tz": "Africa/Dar_es_Salaam",
    "ua": "Europe/Kyiv", "ug": "Africa/Kampala", "uk": "Europe/London", "uy": "America/Montevideo",
    "uz": "Asia/Samarkand", "va": "Europe/Vatican", "ve": "America/Caracas",
    "vi": "America/St_Thomas", "vn": "Asia/Ho_Chi_Minh", "vu": "Pacific/Efate",
    "wf": "Pacific/Wallis", "ye": "Asia/Aden", "yt": "Indian/Mayotte",
    "za": "Africa/Johannesburg", "zm": "Africa/Lusaka", "zw": "Africa/Harare"
}

# a timestamp with an explicit non-zero offset, anywhere in the page's markup
_STAMP_OFFSET = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?([+-])(\d\d):?(\d\d)\b")


@lru_cache(maxsize=512)
def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, say 'Asia'
        return None


def domain_zone(url: str) -> str | None:
    """The zone of the country whose domain the URL's host is under, if any."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return None
    label = host.rsplit(".", 1)[-1].lower()
    return _CCTLD_ZONES.get(label) if label.isalpha() else None


def page_offset(html: str) -> timezone | None:
    """The non-zero UTC offset most of the page's timestamps are written with, if any."""
    counts: Counter[int] = Counter()
    for sign, hours, minutes in _STAMP_OFFSET.findall(html or ""):
        minutes_total = int(hours) * 60 + int(minutes)
        if 0 < minutes_total <= 14 * 60:
            counts[minutes_total if sign == "+" else -minutes_total] += 1
    if not counts:
        return None
    return timezone(timedelta(minutes=counts.most_common(1)[0][0]))


def publisher_local(stamp: datetime, page_zone, source_zone: str | None, urls: tuple[str, ...]):
    """*stamp* (aware or a naive wall-clock time) as the publisher's local time. *page_zone*
    is the page's own offset (see page_offset) or a zero-argument callable giving it (reading
    the page costs, and only UTC or naive stamps need it); *urls*: the fetched URL, then the
    one the page declares (either may be absent), for the domain's guess."""
    if stamp.tzinfo is not None and stamp.utcoffset() != timedelta(0):
        return stamp  # written in its own local time
    zone = page_zone() if callable(page_zone) else page_zone
    zone = zone or zone_or_none(source_zone)
    if stamp.tzinfo is None:
        # a wall-clock time: its day is the publisher's already; an offset is only attached on
        # evidence (the page's or the analyst's), never on the domain's guess
        return stamp.replace(tzinfo=zone) if zone is not None else stamp
    zone = zone or next(filter(None, (zone_or_none(domain_zone(url)) for url in urls)), None)
    return stamp.astimezone(zone) if zone is not None else stamp
