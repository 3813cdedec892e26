"""The values ``function_data`` fills its functions' parameters and results with.

Each slot of ``function_families`` is here: a sampler that gives the value a
call carries and the words a question states it in (the two differ where a
question says "three" for 3 or "14 March 2027" for 2027-05-14's kind of date).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

Slot = Callable[[random.Random], tuple[Any, str]]

NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

CITIES = (
    "Tallinn",
    "Porto",
    "Ghent",
    "Graz",
    "Bergen",
    "Kraków",
    "Valencia",
    "Lyon",
    "Turin",
    "Leeds",
    "Cork",
    "Aarhus",
    "Tampere",
    "Brno",
    "Ljubljana",
    "Split",
    "Seville",
    "Bilbao",
    "Nantes",
    "Bremen",
    "Leipzig",
    "Utrecht",
    "Malmö",
    "Gdańsk",
    "Cluj",
    "Plovdiv",
    "Thessaloniki",
    "Izmir",
    "Haifa",
    "Tunis",
    "Accra",
    "Nairobi",
    "Durban",
    "Perth",
    "Hobart",
    "Wellington",
    "Osaka",
    "Busan",
    "Chiang Mai",
    "Da Nang",
    "Cebu",
    "Pune",
    "Kochi",
    "Lahore",
    "Almaty",
    "Tbilisi",
    "Yerevan",
    "Quito",
    "Cusco",
    "Rosario",
    "Montevideo",
    "Recife",
    "Oaxaca",
    "Halifax",
    "Winnipeg",
    "Boise",
    "Tucson",
    "Savannah",
    "Omaha",
    "Spokane",
)
PEOPLE = (
    "Ada Byrne",
    "Tomás Reyes",
    "Mei Lin",
    "Oskar Berg",
    "Priya Nair",
    "Jonas Weber",
    "Lena Fischer",
    "Kofi Mensah",
    "Sara Costa",
    "Ivan Petrov",
    "Hana Sato",
    "Liam Walsh",
    "Noor Haddad",
    "Elif Kaya",
    "Marta Nowak",
    "Diego Santos",
    "Ines Moreau",
    "Ravi Patel",
    "Zoe Clarke",
    "Aiko Mori",
)
PETS = ("Biscuit", "Mochi", "Pepper", "Rex", "Luna", "Ziggy", "Olive", "Pickle", "Bruno", "Nala")
PLANTS = (
    "basil",
    "lavender",
    "tomato",
    "rosemary",
    "fern",
    "blueberry",
    "hydrangea",
    "cactus",
    "mint",
    "azalea",
    "fig tree",
    "peace lily",
    "camellia",
    "strawberry",
)
HARBOURS = ("Falmouth", "Cowes", "Brixham", "Howth", "Oban", "Honfleur", "Skagen", "Piran", "Hvar")
BEACHES = ("Fistral", "Hossegor", "Ericeira", "Bundoran", "Mundaka", "Klitmøller", "Bells Beach")
SATELLITES = ("ISS", "Hubble", "Tiangong", "Starlink-1130", "NOAA-19")
BRANCHES = ("Riverside", "Old Town", "Northgate", "Harbour View", "Elm Park", "Central")
BOOK_TITLES = (
    "The Quiet Orchard",
    "Salt and Cedar",
    "A Map of Small Rooms",
    "The Glass Meridian",
    "Winter at Hollow Creek",
    "Seven Lanterns",
    "The Clockmaker's Daughter",
    "North of Nowhere",
)
ARTISTS = ("The Paper Kites", "Nova Lane", "Amber Run", "Los Tigres", "Kaia Sol", "Iron Harbour")
MUSEUMS = (
    "Maritime Museum",
    "Museum of Clocks",
    "Natural History Museum",
    "Design Museum",
    "Railway Museum",
    "Museum of Glass",
    "City Gallery",
)
RESTAURANTS = (
    "Casa Verde",
    "The Olive Press",
    "Sakura House",
    "Le Petit Four",
    "Blue Door",
    "Saffron",
)
DISHES = ("mushroom risotto", "falafel wrap", "lentil curry", "grilled halloumi", "pad thai")
COUNTRIES = (
    "Portugal",
    "Norway",
    "Chile",
    "Kenya",
    "Vietnam",
    "Poland",
    "Ireland",
    "Peru",
    "Japan",
)
STREETS = (
    "Market Street",
    "Station Road",
    "Kings Parade",
    "Mill Lane",
    "Harbour Walk",
    "Queen's Square",
    "Elm Grove",
    "Castle Hill",
)
STATIONS = (
    "Central Square",
    "Riverside Park",
    "Old Mill",
    "University",
    "Canal Basin",
    "Town Hall",
)
FARMS = ("Highfield Farm", "Brook Farm", "Larch Hill", "Meadowbank", "Stone Cross Farm")
FIELDS = ("North Acre", "Long Meadow", "Top Field", "Bottom Paddock", "Sandy Ridge")
SITES = ("Rooftop A", "Barn Array", "School Roof", "Depot South", "Hillside Park")
REGIONS = ("NO1", "SE3", "DK2", "DE-LU", "FR", "NL", "ES", "PL")
ROOMS = ("Aurora", "Birch", "Cedar", "Delta", "Everest", "Fjord")
PACKAGES = ("billing", "auth-service", "search-api", "frontend", "parser", "payments")
REPOS = ("acme/web-app", "octo/docs", "lumen/engine", "northwind/api", "kite/mobile")
BRANCH_NAMES = ("fix-login", "feature/dark-mode", "update-deps", "docs/typos", "perf-cache")
LABELS = ("bug", "enhancement", "good first issue", "docs", "security")
HOSTS = ("db1.internal", "10.0.0.12", "mail.example.org", "gateway.local", "192.168.1.40")
DOMAINS = ("example.org", "kiteworks.io", "lumen.dev", "northwind.net", "paperkites.com")
FORMULAS = ("H2O", "NaCl", "C6H12O6", "CO2", "H2SO4", "CaCO3", "NH3", "C2H5OH")
WORDS = ("orange", "silver", "harbour", "lantern", "meadow", "whisper", "thunder", "velvet")
PHRASES = (
    "good morning",
    "where is the station",
    "thank you very much",
    "see you tomorrow",
    "the train is late",
    "I would like a coffee",
)
TYPO_TEXTS = ("I recieve the pakage tomorow", "Thier house is definately big", "Seperate the files")
GARDEN_TASKS = ("prune the roses", "plant the garlic", "mulch the beds", "repot the basil")
VET_REASONS = ("a limp", "vaccinations", "a check-up", "an ear infection", "teeth cleaning")
INCIDENTS = ("a pipe burst in the kitchen", "my bike was stolen", "hail dented the car")
LAB_NOTES = ("the solution turned blue after 5 minutes", "yield was lower than expected")
EXPERIMENTS = ("Titration 3", "Buffer test", "Yeast growth", "Copper plating")
EXPENSE_NOTES = ("the train to the client", "team lunch", "a new keyboard", "the conference fee")
LOCK_REASONS = ("suspicious logins", "they left the company", "a leaked password")
POLL_QUESTIONS = ("Where should we eat on Friday?", "Which day suits the team offsite?")
POLL_OPTIONS = ("pizza", "sushi", "tacos", "Monday", "Tuesday", "Thursday", "curry", "ramen")
COURSES = ("BIO101", "CS230", "HIST210", "MATH140", "CHEM115", "ECON102")
TEAMS = ("Finance", "Platform", "Design", "Support", "Research")
PHASES = ("waxing crescent", "first quarter", "full moon", "waning gibbous", "new moon")
NOTES = ("E2", "A2", "D3", "G3", "B3", "E4")
CLAIM_STATES = ("under review", "approved", "waiting for documents", "paid")
ADDRESSES = ("12 Mill Lane, Ghent", "4 Harbour Walk, Cork", "88 Station Road, Leeds")
WINDS = ("light offshore", "strong onshore", "moderate cross-shore")
IMAGE_STEMS = ("holiday", "portrait", "logo", "banner", "scan", "cat")
DOC_STEMS = ("report", "invoice", "minutes", "cv", "ticket", "lease")


def pick(options: tuple[str, ...]) -> Slot:
    return lambda rng: _same(rng.choice(options))


def _same(value: Any) -> tuple[Any, str]:
    return value, str(value)


def integer(lo: int, hi: int, words: float = 0.0) -> Slot:
    """An integer, said in words (up to twelve) ``words`` of the time."""

    def draw(rng: random.Random) -> tuple[Any, str]:
        n = rng.randint(lo, hi)
        if n < len(NUMBER_WORDS) and rng.random() < words:
            return n, NUMBER_WORDS[n]
        return n, str(n)

    return draw


def decimal(lo: float, hi: float, places: int = 1) -> Slot:
    def draw(rng: random.Random) -> tuple[Any, str]:
        value = round(rng.uniform(lo, hi), places)
        if value == int(value) and rng.random() < 0.5:
            return int(value), str(int(value))
        return value, f"{value:.{places}f}".rstrip("0").rstrip(".")

    return draw


def date(rng: random.Random) -> tuple[Any, str]:
    """An ISO date; asked as ISO, or as "14 March 2027" or "March 14, 2027"."""
    year, month, day = rng.randint(2025, 2028), rng.randint(1, 12), rng.randint(1, 28)
    value = f"{year}-{month:02d}-{day:02d}"
    roll = rng.random()
    if roll < 0.6:
        return value, value
    if roll < 0.8:
        return value, f"{day} {MONTHS[month - 1]} {year}"
    return value, f"{MONTHS[month - 1]} {day}, {year}"


def clock(rng: random.Random) -> tuple[Any, str]:
    """A 24-hour time; asked as such, or as "7:30 pm" now and then."""
    hour, minute = rng.randint(7, 21), rng.choice((0, 0, 15, 30, 45))
    value = f"{hour:02d}:{minute:02d}"
    if rng.random() < 0.25:
        twelve = hour - 12 if hour > 12 else hour
        return value, f"{twelve}:{minute:02d} {'pm' if hour >= 12 else 'am'}"
    return value, value


def code(prefix: str, digits: int, letters: int = 0) -> Slot:
    def draw(rng: random.Random) -> tuple[Any, str]:
        head = "".join(rng.choices(string.ascii_uppercase, k=letters))
        tail = "".join(rng.choices(string.digits, k=digits))
        return _same(f"{prefix}{head}{tail}")

    return draw


def listing(values: tuple[str, ...], lo: int = 2, hi: int = 4) -> Slot:
    def draw(rng: random.Random) -> tuple[Any, str]:
        chosen = rng.sample(values, rng.randint(lo, hi))
        return chosen, said(chosen)

    return draw


def numbers_list(rng: random.Random) -> tuple[Any, str]:
    chosen = [rng.randint(1, 99) for _ in range(rng.randint(3, 6))]
    return chosen, said([str(n) for n in chosen])


def said(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def postcode(rng: random.Random) -> tuple[Any, str]:
    if rng.random() < 0.5:
        return _same(str(rng.randint(10000, 99999)))
    letters = "".join(rng.choices(string.ascii_uppercase, k=2))
    district, sector = rng.randint(1, 20), rng.randint(1, 9)
    unit = rng.choice("ABDEFGHJ") + rng.choice("LNPQRSTU")
    return _same(f"{letters}{district} {sector}{unit}")


def plate(rng: random.Random) -> tuple[Any, str]:
    letters = "".join(rng.choices(string.ascii_uppercase, k=2))
    tail = "".join(rng.choices(string.ascii_uppercase, k=3))
    return _same(f"{letters}{rng.randint(10, 24)} {tail}")


def email(rng: random.Random) -> tuple[Any, str]:
    first = rng.choice(PEOPLE).split()[0].lower()
    return _same(f"{first}.{rng.choice(WORDS)}@{rng.choice(DOMAINS)}")


def username(rng: random.Random) -> tuple[Any, str]:
    first, last = rng.choice(PEOPLE).lower().split()
    return _same(
        rng.choice((f"{first[0]}{last}", f"{first}_{last}", f"{first}{rng.randint(1, 99)}"))
    )


def image_file(rng: random.Random) -> tuple[Any, str]:
    stem, tail = rng.choice(IMAGE_STEMS), rng.choice(("", "_2", "-final"))
    return _same(f"{stem}{tail}.{rng.choice(('jpg', 'png', 'heic'))}")


def doc_file(rng: random.Random) -> tuple[Any, str]:
    return _same(
        f"{rng.choice(DOC_STEMS)}_{rng.randint(2024, 2027)}.{rng.choice(('pdf', 'docx', 'txt'))}"
    )


SLOTS: dict[str, Slot] = {
    "city": pick(CITIES),
    "person": pick(PEOPLE),
    "pet": pick(PETS),
    "plant": pick(PLANTS),
    "harbour": pick(HARBOURS),
    "beach": pick(BEACHES),
    "satellite": pick(SATELLITES),
    "branch": pick(BRANCHES),
    "book_title": pick(BOOK_TITLES),
    "artist": pick(ARTISTS),
    "museum": pick(MUSEUMS),
    "restaurant": pick(RESTAURANTS),
    "dish": pick(DISHES),
    "country": pick(COUNTRIES),
    "street": pick(STREETS),
    "station": pick(STATIONS),
    "farm": pick(FARMS),
    "field": pick(FIELDS),
    "solar_site": pick(SITES),
    "power_region": pick(REGIONS),
    "room": pick(ROOMS),
    "package": pick(PACKAGES),
    "repo": pick(REPOS),
    "branch_name": pick(BRANCH_NAMES),
    "label": pick(LABELS),
    "host": pick(HOSTS),
    "domain": pick(DOMAINS),
    "formula": pick(FORMULAS),
    "word": pick(WORDS),
    "phrase": pick(PHRASES),
    "typo_text": pick(TYPO_TEXTS),
    "garden_task": pick(GARDEN_TASKS),
    "vet_reason": pick(VET_REASONS),
    "incident": pick(INCIDENTS),
    "lab_note": pick(LAB_NOTES),
    "experiment": pick(EXPERIMENTS),
    "expense_note": pick(EXPENSE_NOTES),
    "lock_reason": pick(LOCK_REASONS),
    "poll_question": pick(POLL_QUESTIONS),
    "options": listing(POLL_OPTIONS),
    "course": pick(COURSES),
    "team": pick(TEAMS),
    "phase": pick(PHASES),
    "note": pick(NOTES),
    "claim_state": pick(CLAIM_STATES),
    "address": pick(ADDRESSES),
    "wind": pick(WINDS),
    "venue": pick(MUSEUMS),
    "pr_title": pick(
        ("Fix login redirect", "Add dark mode", "Update dependencies", "Cache search results")
    ),
    "rhymes": listing(("ranger", "danger", "stranger", "manger"), 2, 3),
    "date": date,
    "time": clock,
    "year": integer(1950, 2030),
    "hour": integer(0, 23),
    "tiny_int": integer(1, 6, words=0.4),
    "small_int": integer(2, 12, words=0.35),
    "medium_int": integer(13, 900),
    "minutes": pick(("15", "30", "45", "60", "90", "120")),
    "party": integer(2, 10, words=0.4),
    "pixels": pick(("320", "640", "800", "1024", "1280", "1920")),
    "bpm": integer(60, 180),
    "port": pick(("22", "80", "443", "5432", "6379", "8080")),
    "pot_cm": integer(10, 45),
    "boat_m": decimal(6, 18, 1),
    "pet_kg": decimal(2, 40, 1),
    "body_kg": integer(48, 110),
    "parcel_kg": decimal(0.5, 25, 1),
    "molarity": decimal(0.1, 6, 2),
    "volume_ml": pick(("50", "100", "250", "500", "1000")),
    "price_value": integer(20, 2500),
    "decimal": decimal(0.5, 300, 2),
    "small_number": decimal(0.3, 4, 1),
    "price": decimal(2, 400, 2),
    "small_price": decimal(0.05, 0.6, 3),
    "percent": integer(0, 100),
    "ph": decimal(4.5, 8, 1),
    "temperature": integer(9, 27),
    "signed": decimal(-1.5, 1.5, 1),
    "sku": code("SKU-", 5),
    "bin": code("", 2, 1),
    "book_id": code("B", 7),
    "card": code("", 10),
    "event_id": code("EV-", 6),
    "policy": code("POL-", 6),
    "claim": code("CL-", 5),
    "tracking": code("", 10, 2),
    "student": code("S", 6),
    "poll": code("P-", 4),
    "bike": code("", 5),
    "zone": code("", 4),
    "code": code("", 5, 2),
    "extension": code("x", 4),
    "roman": pick(("MCMLXXIX", "MMXXVI", "DCCCXC", "XLII", "CDXLIV", "MDCLXVI")),
    "hex": code("", 12),
    "slug": pick(("add-dark-mode", "fix-login-redirect", "cache-search-results")),
    "url": code("https://git.example/pr/", 3),
    "ip": pick(("93.184.216.34", "10.4.0.7", "mx1.example.org")),
    "window": pick(("09:00-12:00", "13:00-17:00")),
    "definition": pick(("a small light", "soft fabric")),
    "postcode": postcode,
    "plate": plate,
    "email": email,
    "username": username,
    "image_file": image_file,
    "doc_file": doc_file,
    "numbers": numbers_list,
    "bool": pick(("true",)),
    "yesno": pick(("yes", "no")),
    "passfail": pick(("pass", "fail")),
    "consumption": decimal(4, 9, 1),
    "fuel_price": decimal(1.4, 2.1, 2),
}
for word in ("added", "confirmed", "enrolled", "locked", "moved", "pending", "placed", "running",
             "saved", "sent"):  # fmt: skip
    SLOTS[word] = pick((word,))
