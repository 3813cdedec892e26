"""The function families ``function_data`` draws its training signatures from.

Written for training only, apart from ``bench/tool_functions.py`` and
``bench/tool_cases.py`` (the held-out set): other domains where it could be
helped, and none of their names, descriptions or questions. A family is a few
look-alike functions of one domain, so a conversation can offer a function with
its neighbours. Each function is ``Fn``: the names it may go by (written in
snake_case, camelCase or a dotted namespace at random), descriptions short and
long, its parameters, the questions that ask for it, and what it returns.

A parameter is ``P(keys, slot, description)``: ``keys`` are the names it may go by
(the first is how questions refer to it), ``slot`` says what values it takes and
how a question states them (``function_data.SLOTS``), and an optional parameter
has a ``default`` and a ``mention``: the words a question adds when it sets it.
Questions name required parameters by their first key, ``{city}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class P:
    keys: tuple[str, ...]
    slot: str
    description: str
    default: Any = None
    mention: str = ""  # how a question sets an optional parameter: " in {units}"
    enum: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.keys[0]


@dataclass(frozen=True)
class Fn:
    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    params: tuple[P, ...]
    asks: tuple[str, ...]
    returns: tuple[tuple[str, str], ...]  # result fields: (name, slot)
    optional: tuple[P, ...] = ()
    pairs: tuple[str, ...] = field(default=())  # two values of the first parameter at once


def E(keys: tuple[str, ...], options: tuple[str, ...], description: str, **kw: Any) -> P:
    return P(keys, "enum", description, enum=options, **kw)


FAMILIES: dict[str, list[Fn]] = {
    "coast": [
        Fn(
            ("harbour_berths", "findBerth", "marina.berths.free"),
            (
                "Free berths in a marina for a boat of some length.",
                "Searches a harbour's marina for berths that fit a boat, for a number of nights.",
            ),
            (
                P(("harbour", "marina"), "harbour", "harbour name"),
                P(("boat_length_m", "length"), "boat_m", "boat length in metres"),
                P(("nights",), "small_int", "nights to stay"),
            ),
            (
                "Any berths at {harbour} for a {boat_length_m} m boat, {nights} nights?",
                (
                    "I need a berth in {harbour} for {nights} nights; the boat is "
                    "{boat_length_m} metres."
                ),
            ),
            (("free_berths", "small_int"), ("price_per_night", "price")),
        ),
        Fn(
            ("surf_forecast", "getSurfReport", "surf.forecast"),
            (
                "Wave height and wind at a surf beach for the coming days.",
                "Surf report: swell height in metres and wind for a named beach.",
            ),
            (P(("beach", "spot"), "beach", "the surf beach"),),
            (
                "How's the surf at {beach}?",
                "Any waves at {beach} this week?",
                "Give me the surf report for {beach}.",
            ),
            (("swell_m", "small_number"), ("wind", "wind")),
            optional=(
                P(("days",), "small_int", "how many days ahead", 3, " for the next {days} days"),
            ),
            pairs=("Compare the surf at {beach} and {beach2}.",),
        ),
        Fn(
            ("water_temperature", "seaTemp", "coast.water_temp"),
            ("Sea water temperature at a beach, in degrees Celsius.",),
            (P(("beach", "spot"), "beach", "beach name"),),
            (
                "How warm is the water at {beach}?",
                "What's the sea temperature at {beach} right now?",
            ),
            (("temperature_c", "temperature"),),
        ),
    ],
    "sky": [
        Fn(
            ("moon_phase", "getMoonPhase", "astro.moon_phase"),
            (
                "The phase of the moon on a given date.",
                "Returns the lunar phase and illumination for a date.",
            ),
            (P(("date",), "date", "date in YYYY-MM-DD format"),),
            (
                "What phase is the moon in on {date}?",
                "Will there be a full moon on {date}?",
                "Moon phase for {date}?",
            ),
            (("phase", "phase"), ("illumination_percent", "percent")),
            pairs=("What is the moon phase on {date} and on {date2}?",),
        ),
        Fn(
            ("planet_visibility", "visiblePlanets", "astro.planet_rise"),
            ("When a planet rises and sets as seen from a city tonight.",),
            (
                E(("planet",), ("Mercury", "Venus", "Mars", "Jupiter", "Saturn"), "which planet"),
                P(("city", "location"), "city", "where the observer is"),
            ),
            (
                "When can I see {planet} from {city} tonight?",
                "What time does {planet} rise in {city}?",
            ),
            (("rises", "time"), ("sets", "time")),
        ),
        Fn(
            ("satellite_passes", "issPasses", "orbit.passes"),
            (
                "Visible passes of a satellite over a city.",
                "Lists upcoming passes of a named satellite over a location.",
            ),
            (
                P(("satellite",), "satellite", "satellite name"),
                P(("city", "location"), "city", "city to observe from"),
            ),
            (
                "When does the {satellite} pass over {city}?",
                "Next {satellite} pass visible from {city}?",
            ),
            (("next_pass", "time"), ("max_elevation_deg", "small_int")),
            optional=(
                P(
                    ("count", "limit"),
                    "small_int",
                    "number of passes",
                    1,
                    ", the next {count} passes",
                ),
            ),
        ),
    ],
    "garden": [
        Fn(
            ("soil_ph", "soilAcidity", "garden.soil_ph"),
            ("The soil pH range a plant likes.",),
            (P(("plant",), "plant", "plant's common name"),),
            ("What soil pH does {plant} like?", "Acid or alkaline soil for {plant}?"),
            (("ph_min", "ph"), ("ph_max", "ph")),
            pairs=("What soil pH suits {plant} and {plant2}?",),
        ),
        Fn(
            ("frost_dates", "getFrostDates", "garden.frost"),
            ("Average last spring frost and first autumn frost for a postcode.",),
            (P(("postcode", "zip"), "postcode", "postal code"),),
            ("When is the last frost around {postcode}?", "Frost dates for postcode {postcode}?"),
            (("last_spring_frost", "date"), ("first_autumn_frost", "date")),
            pairs=("What are the frost dates for {postcode} and {postcode2}?",),
        ),
        Fn(
            ("add_garden_task", "gardenTodo", "garden.tasks.add"),
            ("Add a job to the garden to-do list.", "Adds a gardening task with a due date."),
            (
                P(("task", "job"), "garden_task", "what to do"),
                P(("due", "due_date"), "date", "due date, YYYY-MM-DD"),
            ),
            (
                "Add '{task}' to my garden list for {due}.",
                "Remind me in the garden tasks to {task} by {due}.",
                "Put {task} on the garden to-do list, due {due}.",
            ),
            (("status", "added"), ("task_id", "code")),
        ),
    ],
    "pets": [
        Fn(
            ("log_pet_weight", "recordPetWeight", "pets.weight.log"),
            ("Record a pet's weight in kilograms.",),
            (
                P(("pet", "pet_name"), "pet", "the pet's name"),
                P(("weight_kg", "kg"), "pet_kg", "weight in kg"),
            ),
            (
                "{pet} weighs {weight_kg} kg today, log it.",
                "Record {weight_kg} kilos for {pet}.",
                "Please log a weight of {weight_kg} kg for {pet}.",
            ),
            (("status", "saved"), ("change_kg", "signed")),
        ),
        Fn(
            ("book_vet", "bookVetVisit", "pets.vet.book"),
            (
                "Book a visit to the vet for a pet.",
                "Makes a veterinary appointment for a named pet on a date, with the reason.",
            ),
            (
                P(("pet", "pet_name"), "pet", "pet's name"),
                P(("date",), "date", "YYYY-MM-DD"),
                P(("reason",), "vet_reason", "why the visit"),
            ),
            (
                "Book {pet} in at the vet on {date} for {reason}.",
                "{pet} needs the vet on {date}: {reason}.",
                "Can you get {pet} a vet appointment on {date}? It's for {reason}.",
            ),
            (("status", "confirmed"), ("appointment_time", "time")),
        ),
        Fn(
            ("find_pet_sitter", "petSitters", "pets.sitters.search"),
            ("Pet sitters available in a city for a number of nights.",),
            (P(("city", "town"), "city", "city"), P(("nights",), "small_int", "number of nights")),
            (
                "Find me a pet sitter in {city} for {nights} nights.",
                "I need someone to mind my cat in {city}, {nights} nights.",
            ),
            (("sitters_found", "small_int"), ("cheapest_per_night", "price")),
            optional=(
                E(
                    ("animal",),
                    ("dog", "cat", "rabbit", "bird"),
                    "kind of pet",
                    default="dog",
                    mention=" for my {animal}",
                ),
            ),
        ),
    ],
    "library": [
        Fn(
            ("library_fines", "getFines", "library.account.fines"),
            ("Fines owed on a library card.",),
            (P(("card_number", "card"), "card", "library card number"),),
            (
                "Do I owe any fines on card {card_number}?",
                "What fines are on library card {card_number}?",
            ),
            (("owed", "price"), ("overdue_items", "small_int")),
        ),
        Fn(
            ("branch_hours", "libraryOpeningTimes", "library.branches.hours"),
            ("When a library branch is open on a weekday.",),
            (
                P(("branch",), "branch", "branch name"),
                E(
                    ("day",),
                    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
                    "weekday",
                ),
            ),
            (
                "Is the {branch} library open on {day}?",
                "Opening hours of {branch} branch on {day}?",
            ),
            (("opens", "time"), ("closes", "time")),
        ),
        Fn(
            ("place_hold", "reserveBook", "library.holds.place"),
            ("Put a hold on a book at a branch.",),
            (
                P(("book_id", "item_id"), "book_id", "barcode"),
                P(("branch",), "branch", "library branch for pickup"),
            ),
            (
                "Put a hold on {book_id} for pickup at {branch}.",
                "Reserve {book_id} at the {branch} branch.",
            ),
            (("status", "placed"), ("queue_position", "small_int")),
        ),
    ],
    "stock": [
        Fn(
            ("check_stock", "getStockLevel", "inventory.stock"),
            ("How many units of an item are in stock in a warehouse.",),
            (
                P(("sku", "item_code"), "sku", "stock keeping unit"),
                E(("warehouse", "site"), ("north", "south", "east", "west"), "which warehouse"),
            ),
            (
                "How many {sku} do we have in the {warehouse} warehouse?",
                "Stock level of {sku} at {warehouse}?",
            ),
            (("units", "medium_int"),),
            pairs=("Check stock of {sku} and {sku2} in the {warehouse} warehouse.",),
        ),
        Fn(
            ("reorder_item", "placeReorder", "inventory.reorder"),
            (
                "Order more of an item from its supplier.",
                "Places a purchase order for a quantity of a stock item.",
            ),
            (
                P(("sku", "item_code"), "sku", "item code"),
                P(("quantity", "qty"), "medium_int", "how many units"),
            ),
            (
                "Reorder {quantity} units of {sku}.",
                "We need {quantity} more {sku}, place the order.",
                "Order {quantity} of item {sku}.",
            ),
            (("order_number", "code"), ("arrives", "date")),
        ),
        Fn(
            ("move_stock", "transferStock", "inventory.move"),
            ("Move units of an item from one bin to another.",),
            (
                P(("sku",), "sku", "item code"),
                P(("from_bin",), "bin", "source bin"),
                P(("to_bin",), "bin", "destination bin"),
            ),
            (
                "Move {sku} from bin {from_bin} to bin {to_bin}.",
                "Transfer item {sku} out of {from_bin} into {to_bin}.",
            ),
            (("status", "moved"),),
        ),
    ],
    "people": [
        Fn(
            ("submit_expense", "fileExpense", "finance.expenses.submit"),
            ("Submit a work expense for reimbursement.",),
            (
                P(("amount",), "price_value", "amount in euros"),
                E(("category",), ("travel", "meals", "equipment", "training"), "expense category"),
                P(("description", "note"), "expense_note", "what it was for"),
            ),
            (
                "Claim {amount} euros for {category}: {description}.",
                "Submit an expense of {amount} EUR, {category}, for {description}.",
            ),
            (("expense_id", "code"), ("status", "pending")),
        ),
        Fn(
            ("lookup_employee", "findColleague", "hr.directory.find"),
            ("Find a colleague in the staff directory.",),
            (P(("name", "full_name"), "person", "the person's name"),),
            (
                "What's {name}'s extension?",
                "Look up {name} in the staff directory.",
                "Which team is {name} in?",
            ),
            (("team", "team"), ("extension", "extension")),
            pairs=("Look up {name} and {name2} in the directory.",),
        ),
        Fn(
            ("public_holidays", "listHolidays", "hr.holidays"),
            ("Public holidays of a country in a year.",),
            (P(("country",), "country", "country name"), P(("year",), "year", "the year")),
            (
                "What are the public holidays in {country} in {year}?",
                "List {country}'s bank holidays for {year}.",
            ),
            (("count", "small_int"), ("next", "date")),
        ),
    ],
    "lab": [
        Fn(
            ("molar_mass", "molarMass", "chem.molar_mass"),
            ("Molar mass of a chemical formula in g/mol.",),
            (P(("formula",), "formula", "chemical formula, e.g. H2O"),),
            (
                "What's the molar mass of {formula}?",
                "Molar mass of {formula} please.",
                "How many grams per mole is {formula}?",
            ),
            (("grams_per_mol", "decimal"),),
            pairs=("What are the molar masses of {formula} and {formula2}?",),
        ),
        Fn(
            ("dilution_volume", "dilute", "chem.dilution"),
            ("How much stock solution to dilute to a target concentration (C1V1 = C2V2).",),
            (
                P(("stock_molarity", "c1"), "molarity", "stock concentration in mol/L"),
                P(("target_molarity", "c2"), "molarity", "wanted concentration in mol/L"),
                P(("final_volume_ml", "v2"), "volume_ml", "final volume in mL"),
            ),
            (
                (
                    "I have a {stock_molarity} M stock and need {final_volume_ml} mL at "
                    "{target_molarity} M. How much stock?"
                ),
                (
                    "How much of a {stock_molarity} molar solution makes {final_volume_ml} ml "
                    "of {target_molarity} molar?"
                ),
            ),
            (("stock_ml", "decimal"),),
        ),
        Fn(
            ("log_experiment", "labNotebookEntry", "lab.notebook.add"),
            ("Add an entry to the lab notebook.",),
            (
                P(("title",), "experiment", "short title"),
                P(("notes",), "lab_note", "what happened"),
            ),
            (
                "Log an experiment called '{title}': {notes}",
                "New notebook entry, title {title}, notes: {notes}",
            ),
            (("entry_id", "code"),),
        ),
    ],
    "car": [
        Fn(
            ("inspection_history", "motHistory", "vehicles.inspections"),
            ("Past roadworthiness inspections of a vehicle by plate.",),
            (P(("plate", "registration"), "plate", "number plate"),),
            ("Has {plate} passed its inspections?", "Show the inspection history of {plate}."),
            (("last_result", "passfail"), ("expires", "date")),
            pairs=("Inspection history for {plate} and {plate2}?",),
        ),
        Fn(
            ("book_car_service", "scheduleService", "garage.service.book"),
            ("Book a car in for a service.",),
            (
                P(("plate", "registration"), "plate", "number plate"),
                P(("date",), "date", "YYYY-MM-DD"),
            ),
            (
                "Book {plate} in for a service on {date}.",
                "My car {plate} needs servicing, {date} if possible.",
            ),
            (("status", "confirmed"), ("drop_off", "time")),
        ),
    ],
    "parking": [
        Fn(
            ("find_parking", "searchParking", "parking.search"),
            ("Car parks with free spaces near a street.",),
            (
                P(("street", "near"), "street", "street or landmark"),
                P(("hours",), "small_int", "how long to park, hours"),
            ),
            (
                "Find parking near {street} for {hours} hours.",
                "I need to park around {street} for {hours} hours.",
            ),
            (("car_park", "street"), ("price", "price")),
        ),
        Fn(
            ("pay_parking", "payForParking", "parking.pay"),
            ("Pay for street parking in a zone.",),
            (
                P(("zone", "zone_code"), "zone", "the zone number on the sign"),
                P(("minutes",), "minutes", "minutes to pay for"),
            ),
            (
                "Pay for {minutes} minutes of parking in zone {zone}.",
                "Zone {zone}, {minutes} minutes please.",
            ),
            (("paid", "price"), ("expires", "time")),
        ),
    ],
    "events": [
        Fn(
            ("search_concerts", "findGigs", "events.concerts.search"),
            ("Upcoming concerts by an artist in a city.",),
            (P(("artist", "performer"), "artist", "artist or band"), P(("city",), "city", "city")),
            (
                "Is {artist} playing in {city}?",
                "Find {artist} concerts in {city}.",
                "When's the next {artist} gig in {city}?",
            ),
            (("next_date", "date"), ("venue", "venue")),
            pairs=("Is {artist} or {artist2} playing in {city} soon?",),
        ),
        Fn(
            ("buy_tickets", "purchaseTickets", "events.tickets.buy"),
            ("Buy tickets for an event by its id.",),
            (
                P(("event_id",), "event_id", "the event's id"),
                P(("seats", "quantity"), "small_int", "number of tickets"),
            ),
            ("Buy {seats} tickets for event {event_id}.", "Get me {seats} seats at {event_id}."),
            (("order", "code"), ("total", "price")),
        ),
        Fn(
            ("museum_hours", "getOpeningHours", "tourism.museum.hours"),
            ("Opening hours of a museum on a weekday.",),
            (
                P(("museum",), "museum", "museum name"),
                E(
                    ("day",),
                    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
                    "day of the week",
                ),
            ),
            (
                "When is the {museum} open on {day}?",
                "Is the {museum} open on {day}, and until when?",
            ),
            (("opens", "time"), ("closes", "time")),
        ),
    ],
    "language": [
        Fn(
            ("rhymes", "findRhymes", "lang.rhymes"),
            ("Words that rhyme with a word.",),
            (P(("word",), "word", "the word"),),
            ("What rhymes with {word}?", "Give me rhymes for '{word}'."),
            (("rhymes", "rhymes"),),
            optional=(
                P(("max_results", "limit"), "small_int", "how many", 10, ", at most {max_results}"),
            ),
            pairs=("Find rhymes for {word} and {word2}.",),
        ),
        Fn(
            ("spell_check", "checkSpelling", "lang.spelling"),
            ("Check the spelling of a text.",),
            (P(("text",), "typo_text", "the text"),),
            ('Check the spelling of "{text}".', "Any typos in: {text}"),
            (("corrections", "small_int"), ("corrected", "phrase")),
        ),
        Fn(
            ("count_syllables", "syllableCount", "lang.syllables"),
            ("Count the syllables in a word.",),
            (P(("word",), "word", "the word"),),
            ("How many syllables in '{word}'?", "Count the syllables of {word}."),
            (("syllables", "small_int"),),
        ),
    ],
    "code": [
        Fn(
            ("open_pull_request", "createPullRequest", "git.pr.open"),
            ("Open a pull request from a branch.",),
            (
                P(("repo", "repository"), "repo", "owner/name"),
                P(("branch", "head"), "branch_name", "branch to merge"),
                P(("title",), "pr_title", "PR title"),
            ),
            (
                "Open a PR on {repo} from {branch} titled '{title}'.",
                "Make a pull request in {repo} for branch {branch}: {title}",
            ),
            (("number", "medium_int"), ("url", "url")),
        ),
        Fn(
            ("list_issues", "getIssues", "git.issues.list"),
            (
                "Open or closed issues of a repository.",
                "Lists a repository's issues in a given state, optionally with one label.",
            ),
            (P(("repo", "repository"), "repo", "owner/name"),),
            ("Show me the issues in {repo}.", "What issues are there on {repo}?"),
            (("count", "small_int"), ("newest", "pr_title")),
            optional=(
                E(
                    ("state",),
                    ("open", "closed", "all"),
                    "issue state",
                    default="open",
                    mention=" that are {state}",
                ),
                P(("label",), "label", "only issues with this label", "", " labelled {label}"),
            ),
            pairs=("List the issues of {repo} and of {repo2}.",),
        ),
        Fn(
            ("run_tests", "runTestSuite", "ci.tests.run"),
            ("Run a package's test suite.",),
            (P(("package",), "package", "package name"),),
            ("Run the tests for {package}.", "Kick off the {package} test suite."),
            (("passed", "medium_int"), ("failed", "small_int")),
            optional=(P(("verbose",), "bool", "print every test", False, " verbosely"),),
        ),
    ],
    "network": [
        Fn(
            ("whois_domain", "domainWhois", "net.whois"),
            ("Who registered a domain and when it expires.",),
            (P(("domain",), "domain", "domain name"),),
            ("Who owns {domain}?", "When does {domain} expire?", "Run a whois on {domain}."),
            (("registrar", "venue"), ("expires", "date")),
            pairs=("Whois {domain} and {domain2}.",),
        ),
        Fn(
            ("ping_host", "ping", "net.ping"),
            ("Ping a host and report round-trip times.",),
            (P(("host",), "host", "hostname or IP address"),),
            ("Ping {host}.", "Is {host} up?", "Can you ping {host} for me?"),
            (("avg_ms", "decimal"), ("lost", "small_int")),
            optional=(P(("count",), "small_int", "packets to send", 4, " {count} times"),),
            pairs=("Ping {host} and {host2}.",),
        ),
        Fn(
            ("check_port", "portOpen", "net.port_check"),
            ("Whether a TCP port on a host is open.",),
            (P(("host",), "host", "host"), P(("port",), "port", "TCP port number")),
            ("Is port {port} open on {host}?", "Check if {host} listens on {port}."),
            (("open", "yesno"),),
        ),
    ],
    "office": [
        Fn(
            ("print_document", "sendToPrinter", "office.print"),
            ("Print a file on the office printer.",),
            (P(("file_name", "document"), "doc_file", "file to print"),),
            ("Print {file_name}.", "Send {file_name} to the printer."),
            (("job_id", "code"),),
            optional=(
                P(("copies",), "small_int", "number of copies", 1, ", {copies} copies"),
                P(
                    ("double_sided", "duplex"),
                    "bool",
                    "print on both sides",
                    False,
                    " double-sided",
                ),
            ),
        ),
        Fn(
            ("book_room", "reserveMeetingRoom", "office.rooms.book"),
            (
                "Book a meeting room.",
                "Reserves a meeting room on a date from a start time for some minutes.",
            ),
            (
                P(("room",), "room", "room name"),
                P(("date",), "date", "YYYY-MM-DD"),
                P(("start", "start_time"), "time", "HH:MM, 24-hour"),
                P(("minutes", "duration_minutes"), "minutes", "length in minutes"),
            ),
            (
                "Book {room} on {date} at {start} for {minutes} minutes.",
                "Reserve the {room} room, {date}, {start}, {minutes} minutes.",
            ),
            (("status", "confirmed"),),
        ),
    ],
    "energy": [
        Fn(
            ("electricity_price", "powerPrice", "energy.spot_price"),
            ("Electricity spot price for a region at an hour of the day.",),
            (
                P(("region", "zone"), "power_region", "grid region"),
                P(("hour",), "hour", "hour of day, 0-23"),
            ),
            (
                "What's the electricity price in {region} at hour {hour}?",
                "Power price for {region}, {hour}:00?",
            ),
            (("price_per_kwh", "small_price"),),
        ),
        Fn(
            ("solar_output", "pvGeneration", "energy.solar.output"),
            ("How much a solar installation produced on a date.",),
            (
                P(("site", "installation"), "solar_site", "installation name"),
                P(("date",), "date", "YYYY-MM-DD"),
            ),
            ("How much did {site} generate on {date}?", "Solar output of {site} on {date}?"),
            (("kwh", "decimal"),),
            pairs=("Compare what {site} and {site2} produced on {date}.",),
        ),
    ],
    "claims": [
        Fn(
            ("file_claim", "submitClaim", "insurance.claims.file"),
            (
                "File an insurance claim.",
                "Opens a claim on a policy for an incident on a date, with a description.",
            ),
            (
                P(("policy_number", "policy"), "policy", "policy number"),
                P(("incident_date",), "date", "YYYY-MM-DD"),
                P(("description",), "incident", "what happened"),
            ),
            (
                "File a claim on policy {policy_number}: {description}, on {incident_date}.",
                (
                    "On {incident_date} {description}. My policy is {policy_number}, please "
                    "open a claim."
                ),
            ),
            (("claim_id", "code"), ("status", "pending")),
        ),
        Fn(
            ("claim_status", "getClaimStatus", "insurance.claims.status"),
            ("The state of an insurance claim.",),
            (P(("claim_id",), "claim", "claim reference"),),
            ("What's happening with claim {claim_id}?", "Status of my claim {claim_id}?"),
            (("status", "claim_state"),),
            pairs=("Check claims {claim_id} and {claim_id2}.",),
        ),
    ],
    "shipping": [
        Fn(
            ("customs_duty", "importDuty", "shipping.customs.estimate"),
            ("Estimate import duty on goods sent to a country.",),
            (
                P(("country",), "country", "destination country"),
                P(("value",), "price_value", "declared value in euros"),
                E(
                    ("category",),
                    ("clothing", "electronics", "books", "toys", "food"),
                    "kind of goods",
                ),
            ),
            (
                "What duty would I pay sending {category} worth {value} euros to {country}?",
                "Import duty to {country} on {value} EUR of {category}?",
            ),
            (("duty", "price"),),
        ),
        Fn(
            ("parcel_lockers", "findLocker", "shipping.lockers.near"),
            ("Parcel lockers near a postcode.",),
            (P(("postcode", "zip"), "postcode", "postcode"),),
            ("Is there a parcel locker near {postcode}?", "Find lockers around {postcode}."),
            (("nearest", "street"), ("free_lockers", "small_int")),
            pairs=("Any parcel lockers near {postcode} or {postcode2}?",),
        ),
        Fn(
            ("schedule_pickup", "bookCourier", "shipping.pickup"),
            ("Have a courier collect a parcel from an address.",),
            (P(("address",), "address", "where to collect"), P(("date",), "date", "YYYY-MM-DD")),
            ("Send a courier to {address} on {date}.", "Book a pickup on {date} at {address}."),
            (("window", "window"),),
        ),
    ],
    "dining": [
        Fn(
            ("reserve_table", "bookTable", "dining.reserve"),
            (
                "Reserve a restaurant table.",
                "Books a table at a restaurant on a date and time for a party.",
            ),
            (
                P(("restaurant",), "restaurant", "restaurant name"),
                P(("date",), "date", "YYYY-MM-DD"),
                P(("time",), "time", "HH:MM"),
                P(("party_size", "guests"), "party", "number of people"),
            ),
            (
                "Table for {party_size} at {restaurant} on {date} at {time}.",
                "Book {restaurant} for {party_size} people, {date}, {time}.",
                "Can you reserve {restaurant} at {time} on {date}? We're {party_size}.",
            ),
            (("status", "confirmed"), ("reference", "code")),
        ),
        Fn(
            ("menu_options", "getMenu", "dining.menu"),
            ("Dishes on a restaurant's menu that suit a diet.",),
            (
                P(("restaurant",), "restaurant", "restaurant name"),
                E(("diet",), ("vegan", "vegetarian", "gluten-free", "halal"), "dietary need"),
            ),
            ("What's {diet} on the menu at {restaurant}?", "Does {restaurant} have {diet} dishes?"),
            (("dishes", "small_int"), ("example", "dish")),
        ),
    ],
    "school": [
        Fn(
            ("enroll_student", "enrolInCourse", "school.enrol"),
            ("Enrol a student in a course.",),
            (
                P(("student_id",), "student", "student number"),
                P(("course",), "course", "course code"),
            ),
            ("Enrol student {student_id} in {course}.", "Sign {student_id} up for {course}."),
            (("status", "enrolled"),),
        ),
        Fn(
            ("grade_average", "gpa", "school.grades.average"),
            ("A student's average grade for a term.",),
            (
                P(("student_id",), "student", "student number"),
                E(("term",), ("autumn", "spring", "summer"), "term"),
            ),
            (
                "What's the average grade of {student_id} in the {term} term?",
                "Average for {student_id}, {term} term?",
            ),
            (("average", "decimal"),),
            pairs=("Average grades of {student_id} and {student_id2} for the {term} term?",),
        ),
        Fn(
            ("exam_dates", "examSchedule", "school.exams"),
            ("When the exams of a course are.",),
            (P(("course",), "course", "course code"),),
            ("When is the {course} exam?", "Exam dates for {course}?"),
            (("exam", "date"), ("room", "room")),
        ),
    ],
    "fitness": [
        Fn(
            ("book_class", "reserveClass", "gym.classes.book"),
            ("Book a place in a gym class.",),
            (
                E(
                    ("class_name", "class"),
                    ("spin", "pilates", "boxing", "zumba", "hiit"),
                    "the class",
                ),
                P(("date",), "date", "YYYY-MM-DD"),
                P(("time",), "time", "start time HH:MM"),
            ),
            (
                "Book me into {class_name} on {date} at {time}.",
                "Reserve a {class_name} class, {date}, {time}.",
            ),
            (("status", "confirmed"), ("spaces_left", "small_int")),
        ),
        Fn(
            ("calories_burned", "estimateCalories", "fitness.calories"),
            ("Estimate calories burned by an activity.",),
            (
                E(("activity",), ("running", "cycling", "swimming", "walking"), "activity"),
                P(("minutes",), "minutes", "minutes"),
                P(("weight_kg",), "body_kg", "body weight in kg"),
            ),
            (
                "How many calories do I burn {activity} for {minutes} minutes at {weight_kg} kg?",
                "Calories for {minutes} min of {activity}, I weigh {weight_kg} kg.",
            ),
            (("calories", "medium_int"),),
        ),
    ],
    "numbers": [
        Fn(
            ("lcm", "leastCommonMultiple", "math.lcm"),
            ("Least common multiple of two integers.",),
            (
                P(("a", "x"), "small_int", "first integer"),
                P(("b", "y"), "small_int", "second integer"),
            ),
            ("What's the LCM of {a} and {b}?", "Least common multiple of {a} and {b}?"),
            (("lcm", "medium_int"),),
        ),
        Fn(
            ("factorial", "factorialOf", "math.factorial"),
            ("n factorial.",),
            (P(("n",), "tiny_int", "a non-negative integer"),),
            ("What is {n} factorial?", "Compute {n}!"),
            (("value", "medium_int"),),
            pairs=("What are {n}! and {n2}!?",),
        ),
        Fn(
            ("gcd", "greatestCommonDivisor", "math.gcd"),
            ("Greatest common divisor of two integers.",),
            (
                P(("a", "x"), "medium_int", "first integer"),
                P(("b", "y"), "medium_int", "second integer"),
            ),
            ("What's the GCD of {a} and {b}?", "Greatest common divisor of {a} and {b}?"),
            (("gcd", "small_int"),),
        ),
        Fn(
            ("to_roman", "romanNumeral", "numerals.roman"),
            ("Write an integer in Roman numerals.",),
            (P(("n", "number"), "year", "integer from 1 to 3999"),),
            ("Write {n} in Roman numerals.", "What is {n} as a Roman numeral?"),
            (("roman", "roman"),),
        ),
    ],
    "text": [
        Fn(
            ("word_count", "countWords", "text.words"),
            ("Count the words in a text.",),
            (P(("text",), "phrase", "the text"),),
            ('How many words are in "{text}"?', "Count the words: {text}"),
            (("words", "small_int"),),
        ),
        Fn(
            ("slugify", "makeSlug", "text.slug"),
            ("Turn a title into a URL slug.",),
            (P(("title",), "pr_title", "the title"),),
            ("Make a URL slug of '{title}'.", 'Slugify "{title}".'),
            (("slug", "slug"),),
        ),
        Fn(
            ("hash_text", "digest", "crypto.hash"),
            ("Hash a text with a chosen algorithm.",),
            (
                P(("text",), "phrase", "the text"),
                E(("algorithm",), ("md5", "sha1", "sha256"), "hash algorithm"),
            ),
            ("What's the {algorithm} of '{text}'?", 'Hash "{text}" with {algorithm}.'),
            (("hex", "hex"),),
        ),
    ],
    "polls": [
        Fn(
            ("create_poll", "newPoll", "polls.create"),
            ("Create a poll with options.",),
            (
                P(("question",), "poll_question", "the question"),
                P(("options", "choices"), "options", "the answers to pick from"),
            ),
            (
                "Make a poll: {question} Options: {options}.",
                "Start a poll asking '{question}' with {options}.",
            ),
            (("poll_id", "code"),),
        ),
        Fn(
            ("poll_results", "getPollResults", "polls.results"),
            ("Votes so far on a poll.",),
            (P(("poll_id",), "poll", "poll id"),),
            ("How is poll {poll_id} going?", "Results of poll {poll_id}?"),
            (("votes", "medium_int"), ("leading", "dish")),
        ),
    ],
    "music": [
        Fn(
            ("start_metronome", "metronome", "music.metronome"),
            ("Start a metronome.",),
            (P(("bpm", "tempo"), "bpm", "beats per minute"),),
            ("Start the metronome at {bpm} bpm.", "Give me a click at {bpm} beats per minute."),
            (("status", "running"),),
            optional=(
                P(
                    ("beats_per_bar",),
                    "small_int",
                    "beats in a bar",
                    4,
                    " with {beats_per_bar} beats to the bar",
                ),
            ),
        ),
        Fn(
            ("tuning_note", "tuner", "music.tuning"),
            ("The pitch of an instrument's string in standard tuning.",),
            (
                E(("instrument",), ("guitar", "violin", "cello", "ukulele", "bass"), "instrument"),
                P(("string",), "tiny_int", "string number"),
            ),
            (
                "What note is string {string} on a {instrument}?",
                "Tuning for {instrument} string {string}?",
            ),
            (("note", "note"), ("hz", "decimal")),
        ),
    ],
    "images": [
        Fn(
            ("resize_image", "resizePhoto", "images.resize"),
            ("Resize an image to a width and height in pixels.",),
            (
                P(("file", "path"), "image_file", "image file"),
                P(("width",), "pixels", "width in px"),
                P(("height",), "pixels", "height in px"),
            ),
            ("Resize {file} to {width} by {height}.", "Make {file} {width}x{height} pixels."),
            (("saved_as", "image_file"),),
        ),
        Fn(
            ("convert_image", "convertPhoto", "images.convert"),
            ("Convert an image to another format.",),
            (
                P(("file", "path"), "image_file", "image file"),
                E(("format",), ("png", "jpeg", "webp", "gif"), "target format"),
            ),
            ("Convert {file} to {format}.", "Turn {file} into a {format}."),
            (("saved_as", "image_file"),),
            pairs=("Convert {file} and {file2} to {format}.",),
        ),
    ],
    "accounts": [
        Fn(
            ("reset_password", "sendPasswordReset", "auth.password.reset"),
            ("Send a password reset link to a user.",),
            (P(("email",), "email", "the account's email"),),
            ("Send a password reset to {email}.", "{email} forgot their password, reset it."),
            (("status", "sent"),),
        ),
        Fn(
            ("lock_account", "suspendUser", "auth.accounts.lock"),
            (
                "Lock a user account.",
                "Locks a user's account with a reason, so they cannot sign in.",
            ),
            (
                P(("username", "user"), "username", "the user's login"),
                P(("reason",), "lock_reason", "why"),
            ),
            (
                "Lock {username}'s account: {reason}.",
                "Suspend user {username} because of {reason}.",
            ),
            (("status", "locked"),),
        ),
    ],
    "bikes": [
        Fn(
            ("find_bikes", "bikesAvailable", "bikeshare.stations.bikes"),
            ("Bikes free at a bike-share station.",),
            (P(("station",), "station", "station name"),),
            ("Are there bikes at {station}?", "How many bikes are free at {station}?"),
            (("bikes", "small_int"), ("e_bikes", "small_int")),
            pairs=("How many bikes at {station} and {station2}?",),
        ),
        Fn(
            ("end_ride", "returnBike", "bikeshare.rides.end"),
            ("End a bike-share ride at a station.",),
            (
                P(("bike_id",), "bike", "bike number"),
                P(("station",), "station", "station where it is docked"),
            ),
            (
                "End my ride on bike {bike_id} at {station}.",
                "I've docked {bike_id} at {station}, end the ride.",
            ),
            (("minutes", "medium_int"), ("cost", "price")),
        ),
    ],
    "farm": [
        Fn(
            ("field_yield", "cropYield", "farm.fields.yield"),
            ("Harvest so far from a field, for a crop.",),
            (
                P(("field",), "field", "field name"),
                E(("crop",), ("wheat", "barley", "maize", "oats", "potatoes"), "crop"),
            ),
            ("How much {crop} has {field} yielded?", "Yield of {crop} in field {field}?"),
            (("tonnes", "decimal"),),
        ),
        Fn(
            ("count_livestock", "herdSize", "farm.livestock.count"),
            ("Number of animals of a kind on a farm.",),
            (
                P(("farm",), "farm", "farm name"),
                E(("animal",), ("sheep", "cows", "goats", "pigs", "hens"), "animal"),
            ),
            ("How many {animal} are at {farm}?", "Count the {animal} on {farm}."),
            (("count", "medium_int"),),
        ),
    ],
}
