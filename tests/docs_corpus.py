"""A generated document corpus for testing and benchmarking retrieval over local files.

``make_corpus(root)`` writes a dozen small documents under nested folders of ``root``:
Markdown, Python source, HTML, a PDF, reStructuredText and plain text. Forty made-up facts
(invented names, codes and numbers that no language model can know) are spread across them,
each stated in one sentence that occurs exactly once. Around the facts is on-topic prose that
states nothing asked about, including near misses: a neighbouring lighthouse with its own cat
and fog signal, the relay's other ports, the day-sailing tariff code next to the night one.

Each fact has one question. Half are paraphrased (few words shared with the fact sentence, so
keyword search alone struggles) and half are keyword-heavy (sharing the fact's rare names).
Every question returned carries the file and the exact fact sentence (``needle``) that answers
it; for the PDF the needle is a substring of the extracted text with whitespace collapsed.

``filler=n`` adds ``n`` Markdown files of deterministic pseudo-random prose under
``archive/`` (about 2.5 KB, or three chunks of ~200 tokens, each) that hold no facts, so a
benchmark can scale the corpus: ``filler=330`` gives roughly 1k chunks, ``filler=3300``
roughly 10k. The same arguments always write byte-identical files.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

Kind = Literal["paraphrase", "keyword"]


@dataclass(frozen=True)
class Question:
    """A question whose answer is one made-up fact of the corpus."""

    text: str  # the question a user would ask
    answer: str  # the short fact value a correct answer contains
    file: str  # the file, relative to the corpus root, that holds the answer
    needle: str  # the fact sentence: only the answering passage contains it
    kind: Kind = "keyword"  # "paraphrase": few words in common with the fact sentence


@dataclass(frozen=True)
class _Fact:
    key: str
    sentence: str
    answer: str
    question: str
    kind: Kind


_P: Kind = "paraphrase"
_K: Kind = "keyword"

_FACTS: tuple[_Fact, ...] = (
    # handbook/coast/vellmora-lighthouse.md
    _Fact(
        "vellmora_logbooks",
        "The keepers' logbooks from 1902 to 1911 are kept in the Harrowgate parish vault.",
        "Harrowgate parish vault",
        "Where can someone read the Vellmora keepers' daily journals from the early 1900s?",
        _P,
    ),
    _Fact(
        "vellmora_lens",
        "The Vellmora lens was ground by the Oskarth glassworks in Tyllin.",
        "Oskarth glassworks",
        "Which glassworks ground the Vellmora lens?",
        _K,
    ),
    _Fact(
        "vellmora_fog",
        "In fog the Vellmora horn sounds two long blasts every 47 seconds.",
        "47 seconds",
        "How often does the Vellmora horn sound in fog?",
        _K,
    ),
    _Fact(
        "vellmora_cat",
        "The Vellmora lighthouse keeper's cat is named Quorvane-17.",
        "Quorvane-17",
        "What name does the resident feline at the Vellmora light go by?",
        _P,
    ),
    # ops/brisk/configuration.md
    _Fact(
        "brisk_port",
        "The default port of the Brisk relay daemon is 48213.",
        "48213",
        "Out of the box, which port does Brisk accept incoming messages on?",
        _P,
    ),
    _Fact(
        "brisk_spool",
        "Unless BRISK_SPOOL is set, Brisk keeps its spool in /var/lib/brisk/quillstack.",
        "/var/lib/brisk/quillstack",
        "What directory does Brisk use for its spool when BRISK_SPOOL is not set?",
        _K,
    ),
    _Fact(
        "brisk_handshake",
        "The Brisk handshake times out after 2750 milliseconds.",
        "2750 milliseconds",
        "How long will a relay wait for a peer to finish the opening greeting before giving up?",
        _P,
    ),
    # src/orchard/irrigation.py
    _Fact(
        "pemberly_calibration",
        "The Pemberly valve timings were calibrated by engineer Tamsin Oxlade.",
        "Tamsin Oxlade",
        "Who tuned the timing of the orchard's watering valves?",
        _P,
    ),
    _Fact(
        "pemberly_probes",
        "Soil probes in the Pemberly orchard report moisture every 340 seconds.",
        "340 seconds",
        "How often do the ground sensors among the fruit trees send a reading?",
        _P,
    ),
    _Fact(
        "pemberly_pump",
        "The Pemberly pump is a Hollerith-Vance model HV-228.",
        "HV-228",
        "What Hollerith-Vance model is the Pemberly pump?",
        _K,
    ),
    _Fact(
        "pemberly_frost",
        "Frost protection starts misting when the air falls below minus 2.5 degrees Celsius.",
        "minus 2.5 degrees",
        "At what air temperature does frost protection start misting?",
        _K,
    ),
    # src/ferry/tariffs.py
    _Fact(
        "saltmere_audit",
        "The Saltmere tariff tables were last audited by Corvin Alde.",
        "Corvin Alde",
        "Who most recently checked the ferry's fare schedules?",
        _P,
    ),
    _Fact(
        "saltmere_livestock",
        "Tariff code ZX-5512 applies to livestock on the Saltmere night sailing.",
        "ZX-5512",
        "Which tariff code applies to livestock on the Saltmere night sailing?",
        _K,
    ),
    _Fact(
        "saltmere_bicycle",
        "Each bicycle on the Saltmere ferry carries a surcharge of 11 grivets.",
        "11 grivets",
        "How much extra does it cost to bring a bike aboard the boat to the island?",
        _P,
    ),
    # site/museum/galleries.html
    _Fact(
        "museum_astrolabe",
        "The museum's oldest astrolabe was donated by the widow Ysolde Carrack.",
        "Ysolde Carrack",
        "Who donated the oldest astrolabe in the museum?",
        _K,
    ),
    _Fact(
        "museum_orrery",
        "The brass orrery in the east wing was built by the clockmaker Aurel Vintry.",
        "Aurel Vintry",
        "Which clockmaker built the brass orrery in the east wing?",
        _K,
    ),
    _Fact(
        "museum_gallery_nine",
        "Gallery Nine closes on the third Thursday of every month for humidity checks.",
        "third Thursday",
        "On which day each month is the ninth room shut so the dampness of the air can be tested?",
        _P,
    ),
    _Fact(
        "museum_admission",
        "Members of the Tidewater Society pay 4 shell-marks for admission.",
        "4 shell-marks",
        "How much is a ticket to get in for people who belong to the Tidewater Society?",
        _P,
    ),
    # site/harbour-kitchen/index.html
    _Fact(
        "kitchen_loaf",
        "The Harbour Kitchen's signature loaf is the Mirrowby twist.",
        "Mirrowby twist",
        "What is the signature loaf of the Harbour Kitchen?",
        _K,
    ),
    _Fact(
        "kitchen_starter",
        "The bakery's sourdough starter, known as Old Grendle, has been fed daily since 1968.",
        "Old Grendle",
        "What nickname does the cafe on the quay give its leaven culture?",
        _P,
    ),
    _Fact(
        "kitchen_ovens",
        "Head baker Ondine Pascoe lights the ovens at 3:40 every morning.",
        "3:40",
        "At what time does head baker Ondine Pascoe light the ovens?",
        _K,
    ),
    # reports/2023/kestrel-fen-survey.pdf (ASCII only, no hyphens: the PDF wraps lines)
    _Fact(
        "kestrel_leader",
        "The expedition was led by Dr Ilse Vantongeren of the Northmarch Institute.",
        "Ilse Vantongeren",
        "Who led the Kestrel Fen survey expedition?",
        _K,
    ),
    _Fact(
        "kestrel_camp",
        "Base camp stood on the north shore of Lake Ommeren.",
        "Lake Ommeren",
        "Beside which body of water did the survey team pitch their main tents?",
        _P,
    ),
    _Fact(
        "kestrel_boat",
        "The survey boat was named the Saint Wenlo.",
        "Saint Wenlo",
        "What was the vessel called that carried the field team out to the islands?",
        _P,
    ),
    _Fact(
        "kestrel_terns",
        "On Ulvar Skerry the team counted 312 nesting pairs of grey terns.",
        "312 nesting pairs",
        "How many nesting pairs of grey terns were counted on Ulvar Skerry?",
        _K,
    ),
    _Fact(
        "kestrel_lab",
        "Water samples were analysed at the Drossfield marine laboratory.",
        "Drossfield",
        "Which lab tested the water the expedition collected?",
        _P,
    ),
    _Fact(
        "kestrel_radio",
        "Daily radio calls to the mainland used the frequency 7.113 MHz.",
        "7.113 MHz",
        "Which frequency did the daily radio calls to the mainland use?",
        _K,
    ),
    # manuals/observatory/telescope.rst
    _Fact(
        "glassridge_aperture",
        "The Glassridge refractor has an aperture of 412 millimetres.",
        "412 millimetres",
        "How wide is the main lens of the big telescope at Glassridge?",
        _P,
    ),
    _Fact(
        "glassridge_mirror",
        "The finder mirror was last re-silvered by Pell and Daughters of Corbridge.",
        "Pell and Daughters",
        "Which firm last restored the reflective coating of the small sighting scope?",
        _P,
    ),
    _Fact(
        "glassridge_grease",
        "Dome bearings are greased with Veskin No. 4 compound.",
        "Veskin No. 4",
        "Which compound are the dome bearings greased with?",
        _K,
    ),
    _Fact(
        "glassridge_log",
        "Night log entries are signed with the observatory code GLR-0927.",
        "GLR-0927",
        "What observatory code are night log entries signed with?",
        _K,
    ),
    # manuals/brewery/fermentation.rst
    _Fact(
        "fenwright_fermenter",
        "Fermenter number four is nicknamed Big Agatha.",
        "Big Agatha",
        "What pet name do the brewers use for the fourth fermenting vessel?",
        _P,
    ),
    _Fact(
        "fenwright_yeast",
        "The Fenwright house yeast strain is catalogued as FW-Harl-62.",
        "FW-Harl-62",
        "What is the catalogue number of the Fenwright house yeast strain?",
        _K,
    ),
    _Fact(
        "fenwright_winter",
        "The Fenwright winter ale ferments at 13.5 degrees Celsius.",
        "13.5 degrees",
        "At what temperature does the Fenwright winter ale ferment?",
        _K,
    ),
    # notes/choir/agm-minutes-2022.txt
    _Fact(
        "dunmere_dues",
        "Annual membership dues were raised to 27 florins.",
        "27 florins",
        "How much does it now cost per year to belong to the choral society?",
        _P,
    ),
    _Fact(
        "dunmere_treasurer",
        "Perrin Holloway-Strand was elected treasurer for the coming year.",
        "Perrin Holloway-Strand",
        "Who will look after the Dunmere choir's money next year?",
        _P,
    ),
    _Fact(
        "dunmere_spring",
        "The spring concert will be held in the Tarrowby Corn Exchange.",
        "Tarrowby Corn Exchange",
        "Where will the Dunmere Choral Society's spring concert be held?",
        _K,
    ),
    # notes/railway/crennick-signal-box.txt
    _Fact(
        "crennick_levers",
        "The Crennick Junction signal box has a frame of 46 levers.",
        "46 levers",
        "How many levers does the Crennick Junction signal box have?",
        _K,
    ),
    _Fact(
        "crennick_mail",
        "The down mail is hauled by locomotive 6093, named Wraithmoor.",
        "Wraithmoor",
        "What is the engine that pulls the mail train called?",
        _P,
    ),
    _Fact(
        "crennick_token",
        "The staff for the Lisgarth branch is made of brass and engraved with the word OSPREL.",
        "OSPREL",
        "What word is engraved on the staff for the Lisgarth branch?",
        _K,
    ),
)

_BY_KEY = {fact.key: fact for fact in _FACTS}

# Documents: each template names its facts as [[key]]; the fact sentence replaces the marker.

_VELLMORA = """\
# Vellmora Lighthouse

The Vellmora light stands on the basalt headland north of Tyllin harbour, where the coast road
gives out and the cliffs drop straight into deep water. The white tower and its two keepers'
cottages belong to the county trust, and the light is still an active aid to navigation for the
fishing fleet and the coastal freighters that round the headland at night.

## History

Work on the tower began after a winter in which three grain barques were lost on the Sundry Reef.
The parish raised the money by subscription, and the masonry was laid by crews from the inland
quarries, who carried the dressed stone down the cliff path on sledges. The tower was finished in
eleven months, which the county newspaper called a small miracle given the weather that year.

For most of the nineteenth century the station was run by a principal keeper and two assistants,
who rotated between the lantern, the engine room and the kitchen garden. Supplies came by boat
once a fortnight, and in hard winters the keepers lived for weeks on salted fish and the potatoes
they grew in the walled plot behind the cottages.

The station's written record is unusually complete for a light of its size.
[[vellmora_logbooks]]
Earlier volumes were lost in the cottage fire of 1899, and the later ones went to the county
archive when the light was automated and the last keeper moved down to the village.

## The lantern and the lens

The lantern room is reached by a spiral stair of one hundred and twelve steps. The lamp burned
colza oil until 1880, then paraffin, and since 1936 an electric bulb with a spare that swings into
place by itself if the first one fails. The glazing was replaced after the storm of 1953 cracked
four of the twelve panes.

[[vellmora_lens]]
The first-order optic weighs nearly four tonnes and floats on a bath of mercury, so that a single
keeper could turn it by hand if the clockwork ever failed.

## Fog signal

When the sea mist rolls in from the west, the light alone is not enough. The first fog signal was
a bell struck by clockwork, which fishermen complained could not be heard over the surf; a
compressed-air horn replaced it in 1911, and an electric emitter replaced that in the 1980s.
[[vellmora_fog]]
The pattern is kept distinct from that of the Caskell Point station to the south, so that a
skipper who hears only the horn can still tell which headland lies ahead.

## Life at the station

Keepers' families kept goats, hens and, for a time, a pony to haul coal up from the landing. The
relief keeper's wire-haired terrier, Bramble, was known along the coast for barking at seals.
[[vellmora_cat]]
Visitors on open days are asked not to feed the animals, and the trust's volunteers keep the
garden much as the last resident keeper left it.
"""

_CASKELL = """\
# Caskell Point Lighthouse

Caskell Point is the smaller of the two lights on the Tyllin coast, about nine miles south of
Vellmora. It marks the entrance to the Lowmarsh channel and was built twenty years after its
northern neighbour, largely to the same plans but with a shorter tower and a single cottage.

## History

The first Caskell Point keeper was a former ship's carpenter who had survived the wreck of the
brig Orla on the very rocks the light now marks. He kept the station for thirty-one years and is
buried in the churchyard at Lowmarsh, under a stone carved with a small lantern.

The keepers' logbooks from Caskell Point are held in the county record office at Marlow Cross.
They are thinner than those of the northern station, since the keepers there were not required to
note the weather until the rules changed in 1920.

## Lens and lamp

The Caskell lens is a third-order optic made by Hartigan and Sons of Lowmarsh. It turns once every
fifteen seconds and shows a single white flash, which sets it apart from the group flashes of the
lights further north. The lamp was converted to electricity in the same year as the one at
Vellmora, by the same contractor.

## Fog signal and animals

In fog the Caskell Point horn gives one long blast every 90 seconds.
The keepers at Caskell Point kept a black cat named Pellam, who is remembered in a painting that
still hangs in the Lowmarsh inn, and a succession of dogs to keep the rabbits off the garden.
"""

_BRISK = """\
# Brisk relay daemon: configuration

Brisk is the small message relay that forwards telemetry from field units to the central
collector. This page describes the configuration file `brisk.toml`, the environment variables
that override it, and the defaults that apply when neither says anything.

## Listening ports

Brisk opens several sockets at startup. Each can be changed in the `[listen]` table of the
configuration file or with a command-line flag, and the daemon refuses to start if two of them
collide. Binding to a port below 1024 needs the service to start as root and drop privileges.
[[brisk_port]]
The admin console listens on port 48221, and the metrics endpoint for scraping is on port 48290.
The peering port, used when two relays exchange spooled messages, defaults to 48217.

```toml
[listen]
address = "0.0.0.0"
admin_port = 48221
metrics_port = 48290
peer_port = 48217
```

## Spool

Messages that cannot be forwarded at once are written to a spool directory and retried with
exponential backoff. The spool is a sequence of append-only segment files, each capped at 64 MiB,
and segments older than the retention window are deleted by a background task every hour.
[[brisk_spool]]
Log files go to `/var/log/brisk` and the pid file to `/run/brisk.pid`; the test harness uses a
throwaway spool under `/tmp/brisk-spool-test` so that it never touches real data.

## Timeouts

Brisk distinguishes between connect, handshake and idle timeouts. The connect timeout is ten
seconds, and the idle timeout closes connections that have carried no traffic for five minutes.
Retries start with a backoff of 500 milliseconds and double up to a ceiling of one minute.
[[brisk_handshake]]
A relay that keeps hitting this limit usually has a clock or certificate problem rather than a
slow network, so the log message names the peer and the stage at which it stalled.

## Environment variables

- `BRISK_CONFIG`: path to the configuration file, by default `/etc/brisk/brisk.toml`.
- `BRISK_LOG_LEVEL`: one of `error`, `warn`, `info` or `debug`.
- `BRISK_SPOOL`: overrides the spool directory.
- `BRISK_PEERS`: a comma-separated list of peer addresses, each written as `host:port`.
"""

_IRRIGATION = '''\
"""Irrigation control for the Pemberly orchard.

The controller reads the soil probes, decides which valve banks to open and keeps the pump
inside its duty cycle. Rows were planted under the direction of the head gardener, Edwin
Sallow, and the valve banks follow his row numbering.
[[pemberly_calibration]]
"""

from __future__ import annotations

from dataclasses import dataclass, field

# [[pemberly_probes]]
# The weather mast on the packing shed reports wind and rain every 900 seconds.
STALE_AFTER_S = 1200  # a probe silent for twenty minutes is treated as dead
MAX_OPEN_BANKS = 3  # more than this and the pressure in the far rows collapses


@dataclass
class Reading:
    """One soil moisture reading, as a fraction of field capacity."""

    probe: str
    moisture: float
    age_s: float

    def stale(self) -> bool:
        return self.age_s > STALE_AFTER_S


@dataclass
class PumpGuard:
    """Keeps the main pump inside its duty cycle.

    [[pemberly_pump]]
    The backup pump in the packing shed is a smaller HV-110 unit, used only while the main pump
    is being serviced. Both pumps overheat if they run for more than forty minutes in an hour.
    """

    minutes_this_hour: float = 0.0
    limit_minutes: float = 40.0
    log: list[str] = field(default_factory=list)

    def allow(self, minutes: float) -> bool:
        """Whether the pump may run for ``minutes`` more this hour."""
        if self.minutes_this_hour + minutes > self.limit_minutes:
            self.log.append(f"refused {minutes:.1f} min: duty cycle")
            return False
        self.minutes_this_hour += minutes
        return True


def banks_to_open(readings: list[Reading], dry_below: float = 0.35) -> list[str]:
    """The valve banks whose probes read driest, at most ``MAX_OPEN_BANKS`` of them.

    Stale readings are ignored: a dead probe must not open a valve on its own. Each probe is
    named after its bank, so ``"B4-north"`` belongs to bank ``"B4"``.
    """
    fresh = (r for r in readings if not r.stale() and r.moisture < dry_below)
    banks: list[str] = []
    for reading in sorted(fresh, key=lambda r: r.moisture):
        bank = reading.probe.split("-")[0]
        if bank not in banks:
            banks.append(bank)
    return banks[:MAX_OPEN_BANKS]


def frost_mode(air_c: float, threshold_c: float) -> bool:
    """Whether the overhead misters should run to protect the blossom from frost.

    [[pemberly_frost]]
    The value lives in the site configuration rather than in this module, so that the young
    trees in the lower rows can be given a warmer threshold than the old ones by the wall. Heat
    protection is a separate routine that runs the misters when the air rises above thirty-four.
    """
    # Spraying water onto the buds sounds odd, but the freezing water releases heat and keeps
    # the blossom itself just above the damaging temperature.
    return air_c < threshold_c
'''

_TARIFFS = '''\
"""Fare calculation for the Saltmere ferry.

Fares are built from a base fare per passenger plus surcharges for vehicles, animals and bulky
luggage. Prices are in grivets, the island's own currency, and are rounded to whole grivets.
[[saltmere_audit]]
The previous audit, two years earlier, found only a rounding error in the child fares.
"""

from __future__ import annotations

BASE_FARE = {"adult": 18, "child": 9, "senior": 12}
CAR_FARE = 64  # includes the driver
BULKY_LUGGAGE = 6

# Tariff codes as printed on tickets. The booking office assigns some codes by hand.
TARIFF_CODES = {
    "livestock-day": "ZX-5511",
    "car": "ZX-5520",
    "van": "ZX-5521",
    "foot": "ZX-5530",
}
# [[saltmere_livestock]]
# Livestock on the day sailing uses ZX-5511 above, and the vet's certificate must be shown.

# [[saltmere_bicycle]]
# Prams and wheelchairs travel free; surfboards and kayaks pay the bulky luggage rate.


def fare(passengers: dict[str, int], bulky: int = 0, cars: int = 0) -> int:
    """The total fare in grivets for one booking.

    Car fares include the driver, so a booking for one car and one adult charges the car only.
    """
    total = sum(BASE_FARE[kind] * n for kind, n in passengers.items())
    total += BULKY_LUGGAGE * bulky
    if cars:
        drivers = min(cars, passengers.get("adult", 0))
        total += CAR_FARE * cars - BASE_FARE["adult"] * drivers
    return total


def ticket_code(kind: str) -> str:
    """The tariff code printed on a ticket of this kind; unknown kinds go to the office."""
    return TARIFF_CODES.get(kind, "ZX-0000")
'''

_MUSEUM = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Galleries | Tidewater Museum of Navigation</title>
<style>
body { font-family: Georgia, serif; margin: 0 auto; max-width: 48rem; line-height: 1.5; }
nav a { margin-right: 1em; color: #234; }
.notice { background: #fdf6e3; padding: 0.5em 1em; }
.gallery h2 { border-bottom: 1px solid #ccc; }
</style>
<script>
// The opening-hours banner is filled in from the booking service when the page loads.
const GALLERIES = ["astrolabes", "orrery", "charts", "chronometers", "ship models"];
function showBanner(text) {
  document.getElementById("banner").textContent = text;
}
</script>
</head>
<body>
<nav>
<a href="/">Home</a> <a href="/galleries">Galleries</a> <a href="/visit">Plan your visit</a>
<a href="/membership">Membership</a> <a href="/shop">Shop</a> <a href="/contact">Contact</a>
</nav>
<div id="banner" class="notice"></div>
<main>
<h1>Our galleries</h1>
<p>The Tidewater Museum of Navigation occupies the old customs house on the quay. Its collection
of instruments, charts and ship models grew from the bequest of a harbour pilot who spent forty
years buying whatever the sailors of the port brought home, and it has been added to ever since
by gifts from local families.</p>

<section class="gallery">
<h2>The astrolabe room</h2>
<p>Astrolabes were the computers of their age: a brass disc, a rotating star map and a sighting
rule that together let a navigator find the time, the latitude and the height of a star. The
museum holds seven, from a heavy mariner's ring to a delicate planispheric instrument.</p>
<p>[[museum_astrolabe]]
The second oldest, a pocket instrument, was bought at auction in 1954 from the estate of a
Lisbon pilot, and its case still carries his initials.</p>
</section>

<section class="gallery">
<h2>The east wing</h2>
<p>The east wing is given over to clockwork. Its centrepiece is a working model of the sun with
its planets and their moons, driven by a hand crank, which the guides demonstrate every hour on
the hour.
[[museum_orrery]]
The chronometer cabinet beside it was restored by the workshop of Benedikt Hale, who also looks
after the museum's longcase clocks.</p>
</section>

<section class="gallery">
<h2>Gallery Nine: charts and pilots' books</h2>
<p>Gallery Nine holds the chart collection, including hand-drawn surveys of the estuary that were
used by pilots until the first printed admiralty charts reached the port. Paper this old is
sensitive to damp, so the room is kept darker and cooler than the rest of the building.</p>
<p>[[museum_gallery_nine]]
Gallery Seven, with the ship models, closes early on the first Monday of each month for
cleaning, and the shop closes for stocktaking in the first week of January.</p>
</section>

<section>
<h2>Admission</h2>
<p>Entry for adults without membership is 9 shell-marks, and children under twelve come in free
with a paying adult. School groups should book at least two weeks ahead.
[[museum_admission]]
Membership also includes the quarterly newsletter and invitations to the winter lectures.</p>
</section>
</main>
<footer>
<p>Tidewater Museum of Navigation, Old Customs House, The Quay. Registered charity.</p>
</footer>
<script>
window.addEventListener("load", () => showBanner("Open daily except Mondays, 10:00 to 17:00"));
</script>
</body>
</html>
"""

_KITCHEN = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harbour Kitchen | Bakery and cafe on the quay</title>
<style>
body { font-family: "Trebuchet MS", sans-serif; background: #fffaf2; color: #332; }
header, main, footer { max-width: 44rem; margin: 0 auto; }
nav a { text-decoration: none; }
</style>
<script>
const HOURS = { weekday: "7:30-15:00", saturday: "8:00-14:00", sunday: "closed" };
// The cookie banner and page analytics load here; nothing on the page depends on them.
</script>
</head>
<body>
<header>
<nav><a href="/">Home</a> | <a href="/menu">Menu</a> | <a href="/orders">Orders</a> |
<a href="/about">About us</a></nav>
</header>
<main>
<h1>Harbour Kitchen</h1>
<p>Harbour Kitchen is a small bakery and cafe in the old net loft at the end of the quay. We bake
everything on the premises in a wood-fired oven and a pair of electric deck ovens, and we sell
out most days by early afternoon, so come early or order ahead.</p>

<h2>Our bread</h2>
<p>We bake around a dozen breads, from a plain white tin loaf for the fishermen's sandwiches to a
dark rye that takes three days from start to finish.
[[kitchen_loaf]]
On Saturdays we also bake a seeded spelt loaf and a sweet saffron bun, which usually sell out
before ten.</p>
<p>[[kitchen_starter]]
A jar of it goes home with anyone who asks nicely, along with a printed sheet on how to keep it
alive.</p>

<h2>The people</h2>
<p>[[kitchen_ovens]]
By the time the doors open at 7:30 the first batch has cooled and the second is in the oven. Her
assistant, Jory Penhale, runs the cafe counter and makes the soups, and the cakes come from his
aunt's kitchen on the hill.</p>

<h2>Orders</h2>
<p>Wholesale orders for hotels and cafes should reach us by noon the day before. We deliver along
the coast road as far as Tyllin on weekdays, and we can bake celebration loaves with a week's
notice.</p>
</main>
<footer><p>Harbour Kitchen, The Net Loft, End of the Quay.</p></footer>
</body>
</html>
"""

# The PDF: "# " is the title, "## " a heading, other blocks are paragraphs; "---" starts a page.
_KESTREL = """\
# Kestrel Fen and the Outer Skerries: Field Survey 2023

Northmarch Institute, coastal ecology group. Internal report, not for citation.

## Summary

This report describes a three week survey of the breeding seabirds and the water quality of
Kestrel Fen and the chain of small islands known as the Outer Skerries. The work repeated the
counts made in 2013 and 2018 so that the three surveys can be compared directly.
[[kestrel_leader]]
Eleven people took part over the season, although no more than seven were in the field at once.

## Logistics

The fen was reached on foot along the old peat road, and the skerries by boat from the jetty at
Hollin Strand. Weather kept the team ashore on five of the twenty one planned days.
[[kestrel_camp]]
A smaller fly camp was used for two nights on the largest skerry when the sea was too rough for
the crossing back.

[[kestrel_boat]]
A second, smaller boat borrowed from the harbour authority served as a tender when landing on the
steeper islands, where the swell made it unsafe to bring the larger boat alongside.

---

## Seabird counts

Counts were made from fixed vantage points between dawn and mid morning, following the same
protocol as the earlier surveys. Each island was counted twice by different observers, and the
mean of the two counts is reported unless they differed by more than a tenth.

[[kestrel_terns]]
On Brannock Skerry the team counted 198 nesting pairs of grey terns, a sharp fall from the
previous survey. Arctic skuas were seen over every island but were confirmed breeding only on the
two largest, and a single pair of red throated divers held territory on the fen pools.

## Comparison with earlier surveys

Numbers on the outer islands have held steady since 2013, while the inner islands have lost birds,
most likely to disturbance from the new ferry route and to rats that reached Brannock Skerry on
driftwood. A trapping programme has since been started there, and the next survey should show
whether it has worked.

---

## Water sampling

Water was sampled at eighteen stations across the fen and in the sounds between the islands, at
the surface and at one metre depth, in clean bottles kept cold until analysis.
[[kestrel_lab]]
Sediment cores from the fen were sent separately to the university soil laboratory for
radiocarbon dating, and those results will follow in a later report.

## Communications and safety

Every party in the field carried a handheld radio and checked in with base camp morning and
evening, and no party went onto the skerries without a second boat within reach.
[[kestrel_radio]]
The emergency beacon kept at base camp transmits on 406 MHz and was tested weekly, though it was
never needed.
"""

_TELESCOPE = """\
Glassridge Observatory: the main telescope
==========================================

This manual is for volunteers who open, run and close the Glassridge Observatory on public
nights. Read it once in full before your first session, and keep the printed copy in the control
room up to date when procedures change.

The instrument
--------------

The main instrument is a long-focus refractor on a German equatorial mount, installed in 1908 and
restored twice since. It is housed under a six-metre dome with a motorised shutter, and a small
reflecting finder scope is mounted on the side of the tube.

[[glassridge_aperture]]
With the standard eyepiece it magnifies about two hundred times, which is plenty for the Moon and
the planets on a steady night.

[[glassridge_mirror]]
The main objective is cleaned only by the observatory's own staff, never by volunteers, and no
more often than once every few years.

Maintenance
-----------

.. note::

   [[glassridge_grease]]
   The focuser rack uses a light clock oil and must never be greased, since grease stiffens in
   the cold and makes fine focusing impossible.

The dome drive is checked at the start of each season: run it through a full turn in each
direction and listen for grinding from the bearings or slipping from the drive wheel. Report any
fault to the duty officer before the public arrive.

Logging
-------

Every session is recorded in the night log, a bound book kept in the control room. Record the
names of the volunteers present, the sky conditions, the objects shown and any faults.

[[glassridge_log]]
Daytime solar sessions use the separate solar log, whose entries are signed with the volunteer's
initials only.
"""

_BREWERY = """\
Fenwright Brewery: fermentation guide
=====================================

This guide covers the cellar side of brewing at Fenwright: pitching yeast, controlling
temperature, and deciding when a beer is ready to leave the fermenter.

Vessels
-------

The cellar has six cylindroconical fermenters of twenty barrels each and two open squares that are
used for the traditional bitter. Each vessel has its own cooling jacket and controller, and the
brewers refer to them by number on the brew sheets.

[[fenwright_fermenter]]
She is the oldest vessel in the cellar and the only one with a riveted rather than a welded cone,
so she is always cleaned by hand.

Yeast
-----

Fenwright has used the same family of yeast since the brewery opened, and keeps a slope of it at
the county brewing school in case the cellar culture is ever lost.
[[fenwright_yeast]]
Lager and wheat beer are brewed with bought-in strains, which are never repitched more than five
times.

Temperatures
------------

Temperature is the brewer's main lever on flavour. Cooler fermentations are cleaner and slower,
warmer ones faster and fruitier.

[[fenwright_winter]]
The summer pale ale ferments warmer, at nineteen degrees, and the bitter in the open squares is
left to rise freely to about twenty before the cooling comes on.
"""

_MINUTES = """\
DUNMERE CHORAL SOCIETY
Minutes of the annual general meeting, held in the church hall on 14 November 2022

Present: 31 members. Apologies: 6. The chair opened the meeting at 7.35 pm.

1. Minutes of the last meeting
The minutes of the 2021 meeting were read, approved and signed. There were no matters arising
that were not covered elsewhere on the agenda.

2. Chair's report
The chair thanked everyone for a full season after two difficult years. Attendance at rehearsals
has recovered to nearly its old level, and the society welcomed nine new singers, most of them
tenors, which the chair described as a rare blessing. The carols in the market square raised a
good sum for the lifeboat.

3. Treasurer's report and subscriptions
The outgoing treasurer presented the accounts, which show a small surplus thanks to the carol
collection and a grant from the arts council. Hall hire and music have both gone up.
[[dunmere_dues]]
Concessions for students and the unwaged remain at half the full rate.

4. Election of officers
The chair and secretary were re-elected unopposed. The outgoing treasurer, who has served for
nine years, was thanked warmly and presented with a framed score.
[[dunmere_treasurer]]
The librarian post remains vacant, and volunteers were asked to speak to the secretary.

5. Concerts for the coming season
[[dunmere_spring]]
The autumn concert will again be held in St Brannoc's church, with the Brahms Requiem in the
piano duet version. The musical director asked for a full turnout at sectional rehearsals.

6. Any other business
A member asked whether rehearsals could start fifteen minutes later in winter. The committee will
consider this. The meeting closed at 9.10 pm.
"""

_SIGNAL_BOX = """\
CRENNICK JUNCTION SIGNAL BOX
Notes for relief signalmen

General
-------
Crennick Junction is where the Lisgarth branch leaves the main line. The box stands on the up side
at the country end of the platforms and controls the junction, the goods loop and the level
crossing on the Mill Road. Relief staff must sign the train register on arrival and read the
notices in the weekly file before accepting any train.
[[crennick_levers]]
Spare levers are painted white, and several of them are the remains of the old coal yard sidings,
lifted in the 1960s.

Regular trains
--------------
Most of the traffic is local passenger trains and the stone trains from the quarry at Aldwick. The
up express does not stop and must be given a clear run through the junction.
[[crennick_mail]]
The up mail, which runs in the early morning, is usually a diesel and has no regular engine.

Single line working
-------------------
The Lisgarth branch is a single line worked by train staff, so only one train may be on it at a
time. The driver must be handed the staff before entering the branch and must give it up on
return.
[[crennick_token]]
If the staff is lost or damaged, stop all branch traffic and telephone the district office.
"""

_DOCS: tuple[tuple[str, str], ...] = (
    ("handbook/coast/vellmora-lighthouse.md", _VELLMORA),
    ("handbook/coast/caskell-point-lighthouse.md", _CASKELL),
    ("ops/brisk/configuration.md", _BRISK),
    ("src/orchard/irrigation.py", _IRRIGATION),
    ("src/ferry/tariffs.py", _TARIFFS),
    ("site/museum/galleries.html", _MUSEUM),
    ("site/harbour-kitchen/index.html", _KITCHEN),
    ("reports/2023/kestrel-fen-survey.pdf", _KESTREL),
    ("manuals/observatory/telescope.rst", _TELESCOPE),
    ("manuals/brewery/fermentation.rst", _BREWERY),
    ("notes/choir/agm-minutes-2022.txt", _MINUTES),
    ("notes/railway/crennick-signal-box.txt", _SIGNAL_BOX),
)

_MARKER = re.compile(r"\[\[([a-z_]+)\]\]")
_PDF_DATE = datetime(2023, 9, 30, 12, 0, tzinfo=timezone.utc)


def make_corpus(root: Path, *, filler: int = 0, seed: int = 0) -> list[Question]:
    """Write the corpus under root and return its ~40 questions.

    ``filler`` extra Markdown files without facts go under ``root/archive``; ``seed`` picks
    their text. The questions do not depend on either.
    """
    root = Path(root)
    home: dict[str, str] = {}
    for rel, template in _DOCS:
        for key in _MARKER.findall(template):
            if key in home:
                raise ValueError(f"fact {key} is placed twice")
            home[key] = rel
        text = _MARKER.sub(lambda m: _BY_KEY[m.group(1)].sentence, template)
        data = _pdf(text) if rel.endswith(".pdf") else text.encode("utf-8")
        _write(root / rel, data)
    if missing := set(_BY_KEY) - set(home):
        raise ValueError(f"facts not placed in any document: {sorted(missing)}")
    for index in range(filler):
        _write(root / filler_path(index), filler_text(index, seed).encode("utf-8"))
    return [Question(f.question, f.answer, home[f.key], f.sentence, f.kind) for f in _FACTS]


def filler_path(index: int) -> str:
    """Where filler file ``index`` goes, relative to the corpus root (100 files a folder)."""
    return f"archive/shelf-{index // 100:03d}/note-{index:05d}.md"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _pdf(text: str) -> bytes:
    """Lay out a PDF template with core Helvetica (latin-1 only), one page per ``---``."""
    from fpdf import FPDF  # only needed when a corpus is written

    class Report(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 10, f"Kestrel Fen survey 2023, page {self.page_no()}", align="C")

    pdf = Report(format="A4")
    pdf.set_creation_date(_PDF_DATE)
    pdf.set_title("Kestrel Fen and the Outer Skerries: Field Survey 2023")
    pdf.set_author("Northmarch Institute")
    pdf.set_auto_page_break(auto=True, margin=20)
    for page in text.split("\n---\n"):
        pdf.add_page()
        for block in page.strip().split("\n\n"):
            line = " ".join(block.split())
            if line.startswith("# "):
                pdf.set_font("Helvetica", "B", 16)
                pdf.multi_cell(0, 8, line[2:], new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            elif line.startswith("## "):
                pdf.ln(2)
                pdf.set_font("Helvetica", "B", 13)
                pdf.multi_cell(0, 7, line[3:], new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            else:
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
    return bytes(pdf.output())


# Filler: generic prose from fixed word lists, with no digits and none of the facts' names.

_WORDS: dict[str, tuple[str, ...]] = {
    slot: tuple(words.split())
    for slot, words in {
        "adj": "quiet narrow weathered careful seasonal routine older spare heavy small coastal "
        "damp bright steady local temporary annual shared northern southern wooden painted "
        "familiar second",
        "noun": "harbour workshop ledger valve lantern timetable archive cellar footpath boiler "
        "jetty storeroom rehearsal survey gauge shutter register inventory boathouse kiln gate "
        "noticeboard roof pump staircase van rota map checklist wall",
        "plural": "volunteers keepers engineers visitors members clerks bakers surveyors "
        "signalmen gardeners brewers pilots caretakers neighbours",
        "verbed": "checked repainted moved recorded cleaned repaired discussed replaced measured "
        "inspected postponed reorganised labelled swept",
        "verb": "prefer expect remember recommend question notice describe welcome mention avoid",
        "time": "morning evening winter spring autumn summer weekend midweek",
        "event": "inspection meeting delivery storm holiday stocktake tide regatta fair survey",
        "adv": "slowly usually rarely again quietly eventually often carefully gladly reluctantly",
        "place": "quay mill yard hall field road breakwater square lane slipway landing green",
    }.items()
}

_SENTENCES: tuple[str, ...] = (
    "the {adj} {noun} was {verbed} before the {time} {event}.",
    "most {plural} {verb} the {adj} {noun} near the {place}.",
    "after the {event}, the {noun} by the {place} was {verbed} {adv}.",
    "nobody {verbed} the {noun} during the {time}, so the {plural} did it {adv}.",
    "the {plural} {adv} {verb} a {adj} {noun} when the {event} comes round.",
    "a {adj} {noun} stands between the {place} and the {noun}.",
    "each {time} the {plural} meet at the {place} to talk about the {noun}.",
    "it is {adv} said that the {noun} at the {place} is older than the {noun}.",
    "the notes on the {noun} were {verbed} by the {plural} after the {event}.",
    "when the {time} {event} is over, the {adj} {noun} is {verbed} once more.",
    "some of the {plural} would rather the {noun} stayed where it was, by the {place}.",
    "the {adj} {noun} and the {adj} {noun} were both {verbed} in the same {time}.",
    "there is talk of a {adj} {noun} for the {place}, but the {plural} are not convinced.",
)

_SLOT = re.compile(r"\{(\w+)\}")
_AN = re.compile(r"\b([Aa]) ([aeiou])")


def filler_text(index: int, seed: int = 0) -> str:
    """Filler file ``index``: about 2.5 KB of fact-free Markdown, fixed by ``seed``."""
    rng = random.Random(seed * 1_000_003 + index)

    def sentence() -> str:
        text = _SLOT.sub(lambda m: rng.choice(_WORDS[m.group(1)]), rng.choice(_SENTENCES))
        text = _AN.sub(r"\1n \2", text)
        return text[0].upper() + text[1:]

    def title(*slots: str) -> str:
        return " ".join(rng.choice(_WORDS[slot]) for slot in slots).capitalize()

    lines = [f"# Notes on the {title('adj', 'noun').lower()}", ""]
    for _ in range(3):
        lines += [f"## {title('adj', 'noun')}", ""]
        for _ in range(rng.randint(2, 3)):
            lines += [" ".join(sentence() for _ in range(rng.randint(4, 5))), ""]
    return "\n".join(lines)
