"""Story grouping for the digest (issue 3): articles reporting the same event become one
entry, and an article continuing a story sent in an earlier digest is marked as a follow-up.

Pure functions, stdlib only, no I/O. Three pieces:

* `fingerprint(title, text, language)` -> a small JSON-able signature stored with the article:
    - "minhash": 64 MinHash values (32-bit) over word 3-shingles of the normalised text
      (NFC, lowercase, punctuation dropped, Vietnamese diacritics kept), estimating the Jaccard
      similarity of two texts' shingle sets. Catches re-posts and light edits.
    - "title_tokens": content words of the title (same normalisation, stopwords dropped).
    - "anchors": language-independent facts: proper names folded to ASCII ("Nghệ An" and
      "Nghe An" -> "nghe an", đ -> d) and numbers ("US$1,500" and "1.500 USD" both -> "1", "500";
      English "seven" -> "7"). Two outlets rewriting the same event, or the English and Vietnamese
      versions of a release, share few shingles but share these.
* `same_story(a, b, days_apart=...)` -> (bool, reason) on two fingerprints.
* `group_stories(items, earlier)` -> today's items grouped (union-find, so transitive) and
  matched against articles sent on earlier days (follow-ups keep the earlier story's key).

Decisions are deliberately conservative: a false merge hides a story from the analysts, a missed
merge only shows it twice. Shared places, dates and round numbers are common between *different*
trafficking stories (same province, same week, same wage offers), so the anchor rules require a
shared *person* (a name of 3+ syllables) plus another multi-word name, a high weighted overlap
and, for same-language pairs with few names, some textual support. Stories naming nobody group
only on text (near-duplicates). Figures on the sample cases are in tests/test_stories.py
(test_margins) and the thresholds below sit between them.
"""
from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from datetime import date, datetime

VERSION = 1

# ---- MinHash --------------------------------------------------------------------------------
NUM_PERM = 64            # 64 values: std. error of the Jaccard estimate ~ sqrt(J(1-J)/64) <= 0.06
SHINGLE_WORDS = 3        # 3-word shingles: long enough that stock phrases rarely collide,
                         # short enough that a lightly edited re-post keeps most of them
_PRIME = (1 << 61) - 1   # universal hashing h -> (a*h + b) mod p, one (a, b) per permutation
_MASK32 = 0xFFFFFFFF     # stored values truncated to 32 bits: keeps the fingerprint < 1 KB
_rng = random.Random(20261118)   # fixed seed: fingerprints must be comparable across runs
_PERMS = [(_rng.randrange(1, _PRIME), _rng.randrange(0, _PRIME)) for _ in range(NUM_PERM)]

# ---- thresholds (see test_margins for the figures on the sample cases) ---------------------
NEAR_DUP_TEXT = 0.45     # minhash Jaccard of 3-shingles: a re-post / light edit
FOLLOW_UP_DAYS = 14      # window for matching an article to one sent earlier
SAME_LANG_DAYS = 14
CROSS_LANG_DAYS = 2      # an English and a Vietnamese version of one release appear within ~2 days
# same language, different wording (another outlet's rewrite, or a follow-up). On the sample
# cases same-story pairs have anchor overlap >= 0.77, different events <= 0.50 (a second Lao Cai
# case the same day sharing dates, wages and the article of the Penal Code).
MIN_SHARED_NAMES = 2     # multi-word names shared, one of them a person ...
MIN_ANCHOR_OVERLAP = 0.55  # ... and weighted anchor overlap (shared / smaller side) ...
STRONG_SHARED_NAMES = 4  # ... and, below this many shared multi-word names, textual support:
MIN_SUPPORT_TEXT = 0.05  # shared shingles (>= 3 of 64 minhash values) or title words
MIN_SUPPORT_TITLE = 0.2
# cross-language: names and numbers only and no textual check, so stricter
CROSS_MIN_SHARED_NAMES = 3
CROSS_MIN_ANCHOR_OVERLAP = 0.65

MAX_NAMES = 24
MAX_NUMBERS = 16
MAX_TITLE_TOKENS = 16

_WORD = re.compile(r"[^\W_]+")
# pieces of text separated by punctuation; a capitalised run never crosses these
_SEGMENT = re.compile(r"([.!?;:,()\[\]\"“”‘’'«»/\n\r\t–—-]+)")
_SENTENCE_END = re.compile(r"[.!?\n\"“”:]")

_EN_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split()) if i >= 2}

# Capitalised words that are not names. Leading ones are stripped from a run; compared on the
# lowercased NFC form *with* diacritics, so Vietnamese 'Năm'/'Tháng'/'Bộ' (year, month, ministry)
# do not eat real names ('Nam Can', 'Thanh Thuy', 'Bo Y'). English administrative words split a
# run anywhere ("Nghe An Provincial Police" -> "nghe an").
_NOT_NAME_LEAD = set("""
the a in on at of for to from by with and but or as after before since under according while
police border guards guard officers officer authorities investigators court province district
this that these those he she they it his her their its we our mr ms mrs dr one two three
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
theo ngày tháng năm tại sau khi trong các những bộ cục công cảnh cơ phòng tòa viện ủy sở điều
luật quân đội nhân đảng nhà chính thủ mua ông hình huyện tỉnh xã phường thành thị vụ biên
""".split())
_BREAK_WORDS = set("""
province provincial district city commune ward town village police department ministry court
people's command border guard guards gate international union committee office bureau agency
penal code article river bank hospital centre center public security criminal women labour
invalids social affairs
""".split())
# names too common to tell two Viet Nam trafficking stories apart
_COMMON_NAMES = set("""
viet nam|vietnam|vietnamese|china|chinese|trung quoc|laos|lao|cambodia|cambodian|campuchia|
thailand|thai lan|myanmar|ha noi|hanoi|ho chi minh|ho chi minh city|tp hcm|facebook|zalo|
tiktok|telegram|vnd|usd|us|ministry of public security|public security|criminal police|
penal code|bo luat hinh su|interpol|asean
""".replace("\n", "").split("|"))
_TITLE_STOP = set("""
a an the of in on at to for from by with and or as is are was were be been has have had after
over into its it this that new says said more than up out
va cua cac nhung mot la duoc bi cho voi tai trong tu sang ve de khi da dang se
""".split())


def _fold(s: str) -> str:
    """ASCII lowercase without diacritics: 'Nghệ An' -> 'nghe an', 'Đức' -> 'duc'."""
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def _norm_tokens(s: str) -> list[str]:
    """NFC, lowercase, punctuation dropped; diacritics kept (Vietnamese 'bán' != 'ban')."""
    return _WORD.findall(unicodedata.normalize("NFC", s).lower())


def _minhash(tokens: list[str]) -> list[int]:
    n = SHINGLE_WORDS
    shingles = {" ".join(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1))} if tokens else set()
    hs = [int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
          for s in shingles]
    if not hs:
        return []
    return [min((a * h + b) % _PRIME for h in hs) & _MASK32 for a, b in _PERMS]


def _names(text: str) -> list[str]:
    """Capitalised word runs, folded; runs split at punctuation and English admin words.
    Single words count only mid-sentence (a sentence-initial capital proves nothing)."""
    out: list[str] = []
    sentence_start = True
    for piece in _SEGMENT.split(unicodedata.normalize("NFC", text)):
        if _SEGMENT.fullmatch(piece):
            if _SENTENCE_END.search(piece):
                sentence_start = True
            continue
        run: list[str] = []
        run_at_start = sentence_start
        words = piece.split()
        for i, w in enumerate(words + [""]):
            word = w.strip("$%&*+<=>@^`|~#")
            # 'A' counts (Hmong names: 'Sung A Pao'); acronyms (VND, US, IOM) do not
            is_cap = bool(word) and word.isalpha() and word[0].isupper() and (
                len(word) == 1 or not word.isupper())
            if is_cap and _fold(word) not in _BREAK_WORDS:
                if not run:
                    run_at_start = sentence_start and i == 0
                run.append(word.lower())
                continue
            if run:
                while run and run[0] in _NOT_NAME_LEAD:
                    run.pop(0)
                    run_at_start = False
                name = _fold(" ".join(run))
                if run and (len(run) > 1 or not run_at_start) and name not in _COMMON_NAMES \
                        and len(name) > 2:
                    out.append(name)
                run = []
        if piece.strip():
            sentence_start = False
    return out


def _numbers(text: str) -> list[str]:
    """Digit groups, each separately, so '1,500' / '1.500' / '1.2' / '1,2' agree across locales;
    English number words two..twenty become digits. Years (1990-2039) are dropped: every
    article of a year shares them."""
    out = []
    for tok in re.findall(r"\d+|[A-Za-z]+", text):
        if tok.isdigit():
            tok = tok.lstrip("0")
            if not tok or (len(tok) == 4 and 1990 <= int(tok) <= 2039):
                continue
            out.append(tok)
        elif tok.lower() in _EN_NUMBER_WORDS:
            out.append(_EN_NUMBER_WORDS[tok.lower()])
    return out


def _top(values: list[str], k: int) -> list[str]:
    """The k most frequent values, ties by first occurrence (deterministic)."""
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for i, v in enumerate(values):
        first.setdefault(v, i)
        count[v] = count.get(v, 0) + 1
    return sorted(count, key=lambda v: (-count[v], first[v]))[:k]


def fingerprint(title: str, text: str, language: str | None) -> dict:
    """JSON-serialisable signature of one article (well under 2 KB)."""
    title = title or ""
    text = text or ""
    title_tokens = [t for t in _norm_tokens(title) if t not in _TITLE_STOP and _fold(t) not in _TITLE_STOP]
    return {
        "v": VERSION,
        "lang": (language or "").lower()[:2] or None,
        "minhash": _minhash(_norm_tokens(text)),
        "title_tokens": sorted(set(title_tokens))[:MAX_TITLE_TOKENS],
        # names from the text only: English headlines are Title Case, every word looks like a name
        "names": sorted(_top(_names(text), MAX_NAMES)),
        "numbers": sorted(_top(_numbers(title + "\n" + text), MAX_NUMBERS), key=lambda n: (len(n), n)),
    }


# ---- comparison ----------------------------------------------------------------------------

def _text_sim(a: dict, b: dict) -> float:
    ma, mb = a.get("minhash") or [], b.get("minhash") or []
    if not ma or len(ma) != len(mb):
        return 0.0
    return sum(x == y for x, y in zip(ma, mb, strict=True)) / len(ma)


def _jaccard(x, y) -> float:
    x, y = set(x or ()), set(y or ())
    return len(x & y) / len(x | y) if x and y else 0.0


def _is_person(name: str) -> bool:
    # Vietnamese personal names have three or more syllables (Lo Van Thanh, Giang Seo Chu);
    # places mostly two (Nghe An, Tuong Duong). A shared person is the best evidence of one event:
    # two stories from the same province and district share the places, not the suspects.
    return name.count(" ") >= 2


def _name_weight(name: str) -> float:
    # a multi-word name (person, district, border gate) says much more than a single word
    return 2.0 if " " in name else 1.0


def scores(a: dict, b: dict) -> dict:
    """All the figures `same_story` decides on (for tests and debugging)."""
    na, nb = set(a.get("names") or ()), set(b.get("names") or ())
    ua, ub = set(a.get("numbers") or ()), set(b.get("numbers") or ())
    shared_names = na & nb
    shared_numbers = ua & ub
    wa = sum(map(_name_weight, na)) + len(ua)
    wb = sum(map(_name_weight, nb)) + len(ub)
    shared_w = sum(map(_name_weight, shared_names)) + len(shared_numbers)
    return {
        "text": round(_text_sim(a, b), 3),
        "title": round(_jaccard(a.get("title_tokens"), b.get("title_tokens")), 3),
        "anchors": round(shared_w / min(wa, wb), 3) if wa and wb else 0.0,
        "multi_names": sum(1 for n in shared_names if " " in n),
        "persons": sum(1 for n in shared_names if _is_person(n)),
        "shared": sorted(shared_names) + sorted(shared_numbers, key=lambda n: (len(n), n)),
        "cross_language": bool(a.get("lang") and b.get("lang") and a["lang"] != b["lang"]),
    }


def _decide(a: dict, b: dict, days_apart: float) -> tuple[bool, str, float]:
    s = scores(a, b)
    days = abs(days_apart)
    names, persons = s["multi_names"], s["persons"]
    desc = f"names {names} persons {persons} anchors {s['anchors']:.2f}"
    # a shared person plus another name: shared places alone (province, district, border gate)
    # are common to different stories from one area, however high the overlap ratio
    named = persons >= 1 and names >= MIN_SHARED_NAMES
    if s["cross_language"]:
        if days > CROSS_LANG_DAYS:
            return False, f"cross-language, {days:g} days apart", 0.0
        ok = persons >= 1 and names >= CROSS_MIN_SHARED_NAMES and s["anchors"] >= CROSS_MIN_ANCHOR_OVERLAP
        return ok, f"cross-language {desc}", s["anchors"] if ok else 0.0
    if days > max(SAME_LANG_DAYS, FOLLOW_UP_DAYS):
        return False, f"{days:g} days apart", 0.0
    if s["text"] >= NEAR_DUP_TEXT:
        return True, f"text {s['text']:.2f}", 1.0 + s["text"]
    base = f"text {s['text']:.2f} title {s['title']:.2f} {desc}"
    if named and s["anchors"] >= MIN_ANCHOR_OVERLAP and (
            names >= STRONG_SHARED_NAMES or s["text"] >= MIN_SUPPORT_TEXT
            or s["title"] >= MIN_SUPPORT_TITLE):
        return True, base, s["anchors"]
    return False, base, 0.0


def same_story(a: dict, b: dict, *, days_apart: float) -> tuple[bool, str]:
    """Do two fingerprints report the same event? Returns (decision, short reason)."""
    ok, reason, _ = _decide(a, b, days_apart)
    return ok, reason


# ---- grouping ------------------------------------------------------------------------------

def _day(value) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)[:19]).date()
    except ValueError:
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            return None


def _days_apart(x: date | None, y: date | None) -> float:
    # unknown date: assume 1 day, inside the cross-language window but never 'same minute'
    if x is None or y is None:
        return 1.0
    return float(abs((x - y).days))


def group_stories(items: list[dict], earlier: list[dict]) -> list[dict]:
    """Group today's items into stories (transitively) and mark follow-ups of earlier stories.

    Returns stories in order of their lead (first item in input order):
    {"key", "lead", "related", "follow_up_of": {"day", "title", "key"} | None}.
    """
    n = len(items)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:  # the smaller index (earlier in input order) stays the root
            parent[max(ri, rj)] = min(ri, rj)

    days = [_day(it.get("published")) for it in items]
    for i in range(n):
        for j in range(i + 1, n):
            if find(i) != find(j) and _decide(items[i]["fingerprint"], items[j]["fingerprint"],
                                              _days_apart(days[i], days[j]))[0]:
                union(i, j)

    # best earlier match for each group (highest score, then most recent sent day, then order)
    best: dict[int, tuple] = {}
    for e_index, e in enumerate(earlier):
        e_day = _day(e.get("published")) or _day(e.get("sent_day"))
        for i in range(n):
            ok, _, score = _decide(items[i]["fingerprint"], e["fingerprint"], _days_apart(days[i], e_day))
            if ok:
                root = find(i)
                rank = (score, str(e.get("sent_day") or ""), -e_index)
                if root not in best or rank > best[root][0]:
                    best[root] = (rank, e)
    # two of today's groups continuing the same earlier story are one story (same key)
    by_key: dict[str, int] = {}
    for root in sorted(best):
        key = str(best[root][1].get("story_key") or f"s{best[root][1]['id']}")
        if key in by_key:
            union(by_key[key], root)
        else:
            by_key[key] = root

    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    stories = []
    for root in sorted(groups):
        members = groups[root]
        lead = items[members[0]]
        match = None
        for r in (root, *members):  # the merged-away root's match lives under another index
            if r in best and (match is None or best[r][0] > match[0]):
                match = best[r]
        follow = None
        key = f"s{lead['id']}"
        if match:
            e = match[1]
            key = str(e.get("story_key") or f"s{e['id']}")
            follow = {"day": e.get("sent_day"), "title": e.get("title"), "key": key}
        stories.append({"key": key, "lead": lead, "related": [items[m] for m in members[1:]],
                        "follow_up_of": follow})
    return stories
